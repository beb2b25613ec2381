"""Exponential moving average of generator weights (Yazıcı et al., 2019; used by StyleGAN).

GAN generators oscillate around a good solution; averaging their weights over steps gives
visibly cleaner samples at no training cost. Buffers (BatchNorm statistics) are copied, not
averaged. The decay warms up as ``min(decay, (1 + step) / (10 + step))`` so short runs are not
dominated by the random initial weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A shadow copy of ``module`` updated by :meth:`update` after each optimiser step.

    Args:
        module: The live network (its current weights seed the average).
        decay: Target decay, e.g. 0.999.
    """

    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.shadow = copy.deepcopy(module).eval().requires_grad_(False)

    def effective_decay(self, step: int) -> float:
        """The decay used at optimiser step ``step`` (0-based), after warm-up."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, module: nn.Module, step: int) -> None:
        """Blend the live weights into the shadow."""
        decay = self.effective_decay(step)
        live = dict(module.named_parameters())
        for name, param in self.shadow.named_parameters():
            param.lerp_(live[name].detach(), 1.0 - decay)
        live_buffers = dict(module.named_buffers())
        for name, buf in self.shadow.named_buffers():
            buf.copy_(live_buffers[name])

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The shadow's state dict."""
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the shadow's weights."""
        self.shadow.load_state_dict(state)
