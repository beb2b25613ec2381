"""``simplecnn``: a small VGG-style network for fast baselines, CPU studies and GAN metrics.

Why it exists: torchvision's backbones are built for 224 px ImageNet. On 16–48 px images and a
laptop CPU a four-stage conv net trains an epoch of digits in about a second and reaches
comparable accuracy, which makes quick studies, tests and offline GAN feature spaces practical.
Its layout mirrors torchvision's (``features`` → ``avgpool`` → ``classifier``) so the backbone
registry adapts it like any other (channels, small stem, head cut).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

DEFAULT_WIDTHS = (32, 64, 128, 256)


class SimpleCNN(nn.Module):
    """Stages of two 3×3 conv-BN-ReLU layers; 2×2 max-pooling between stages.

    Args:
        widths: Channels per stage (the last is the feature dimension).
        num_classes: Logits of the (replaceable) classifier layer.
    """

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS, num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for stage, width in enumerate(widths):
            stride = 2 if stage == 0 else 1  # the "standard" stem halves big inputs once
            layers += [
                nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if stage < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (or features once ``classifier`` is replaced by ``nn.Identity``)."""
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
