"""Backbone registry: torchvision classifiers adapted to 1-channel, small images.

How to use::

    model = create_model("resnet18", num_classes=7)                # 1×48×48 in, small stem
    model = create_model("resnet18", 7, weights="imagenet")         # from the local hub cache
    logits = model(x)                                               # x: floats in [0, 1]

A :class:`Classifier` carries its own normalisation (``mean``/``std`` buffers), so a saved or
logged model is self-contained: it eats raw [0, 1] pixels. Nothing here downloads anything:
ImageNet weights are read only from torch's hub cache, or from a file the user names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from augplat.classify.simplecnn import SimpleCNN
from augplat.errors import ConfigError, UserError
from augplat.runtime.registry import Registry

__all__ = ["BACKBONES", "BackboneSpec", "Classifier", "create_model"]

STEMS = ("auto", "small", "standard")
# ImageNet statistics; one channel gets their average so summed RGB kernels see the same scale.
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one torchvision architecture and where to cut and adapt it.

    Attributes:
        torchvision_name: Name for ``torchvision.models.get_model``.
        stem_conv: Dotted path of the first convolution (replaced for channels / small stem).
        head: Dotted path of the final classifier layer (replaced by ``nn.Identity``).
        stem_pool: Dotted path of the early pooling the small stem removes, if any.
        small_kernel: Kernel size of the small stem's first conv; None keeps the kernel and
            only sets stride 1.
        small_global_pool: Small stem swaps the pooling + classifier MLP for global average
            pooling (VGG).
    """

    torchvision_name: str
    stem_conv: str
    head: str
    stem_pool: str | None = None
    small_kernel: int | None = None
    small_global_pool: bool = False

    def build(self) -> nn.Module:
        """The torchvision model, randomly initialised from torch's global RNG."""
        import torchvision

        return torchvision.models.get_model(self.torchvision_name, weights=None)

    def imagenet_checkpoint(self) -> tuple[Path, str]:
        """Where torchvision's DEFAULT weights would sit in the hub cache, and their URL."""
        import torchvision

        url = torchvision.models.get_model_weights(self.torchvision_name).DEFAULT.url
        file_name = os.path.basename(urlparse(url).path)
        return Path(torch.hub.get_dir()) / "checkpoints" / file_name, url


BACKBONES: Registry[BackboneSpec] = Registry("backbone")

_resnet = partial(BackboneSpec, stem_conv="conv1", head="fc", stem_pool="maxpool", small_kernel=3)
_densenet = partial(
    BackboneSpec,
    stem_conv="features.conv0",
    head="classifier",
    stem_pool="features.pool0",
    small_kernel=3,
)
for _name in ("resnet18", "resnet34", "resnet50"):
    BACKBONES.register(_name)(_resnet(_name))
for _name in ("densenet121", "densenet201"):
    BACKBONES.register(_name)(_densenet(_name))
BACKBONES.register("vgg16")(
    BackboneSpec(
        "vgg16",
        stem_conv="features.0",
        head="classifier.6",
        stem_pool="features.4",
        small_global_pool=True,
    )
)
BACKBONES.register("mobilenet_v3_small")(
    BackboneSpec("mobilenet_v3_small", stem_conv="features.0.0", head="classifier.3")
)
BACKBONES.register("efficientnet_b0")(
    BackboneSpec("efficientnet_b0", stem_conv="features.0.0", head="classifier.1")
)


class Classifier(nn.Module):
    """Backbone + linear head + input normalisation: raw [0, 1] pixels in, logits out.

    Args:
        backbone: Module mapping normalised ``N×C×H×W`` input to ``N×feature_dim`` features.
        feature_dim: Width of the backbone's output.
        num_classes: Number of logits.
        in_channels: Channels of the input images.
        mean: Per-channel mean subtracted before the backbone.
        std: Per-channel std divided by before the backbone.
        build_args: The ``create_model`` arguments that rebuild this architecture.
    """

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        num_classes: int,
        in_channels: int = 1,
        mean: Sequence[float] | float = 0.5,
        std: Sequence[float] | float = 0.5,
        build_args: Mapping | None = None,
    ):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(feature_dim, num_classes)
        self.feature_dim, self.num_classes, self.in_channels = feature_dim, num_classes, in_channels
        self.build_args = dict(build_args or {})
        self.register_buffer("mean", _channel_stat(mean, in_channels, "mean"))
        self.register_buffer("std", _channel_stat(std, in_channels, "std"))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``N×feature_dim`` of raw [0, 1] input (for t-SNE, probes)."""
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor, with_features: bool = False):
        """Logits ``N×num_classes`` of raw [0, 1] input ``N×C×H×W``.

        With ``with_features`` it returns ``(logits, features)`` from one pass, through
        ``forward`` so a ``torch.compile``-d model compiles it too (feature regularisers).
        """
        features = self.embed(x)
        logits = self.head(features)
        return (logits, features) if with_features else logits


def _channel_stat(value: Sequence[float] | float, channels: int, what: str) -> torch.Tensor:
    values = [float(value)] if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ConfigError(f"{what} needs 1 or {channels} values, got {len(values)}")
    if what == "std" and min(values) <= 0:
        raise ConfigError(f"std values must be > 0, got {values}")
    return torch.tensor(values, dtype=torch.float32).view(1, channels, 1, 1)


def create_model(
    name: str,
    num_classes: int,
    in_channels: int = 1,
    image_size: int = 48,
    stem: str = "auto",
    weights: str | os.PathLike | None = "none",
    freeze_backbone: bool = False,
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
) -> Classifier:
    """Build a :class:`Classifier` from a registered backbone.

    Args:
        name: A name from :data:`BACKBONES`.
        num_classes: Number of output logits.
        in_channels: Input channels (1 grayscale, 3 RGB).
        image_size: Input side in pixels; only used by ``stem="auto"``.
        stem: ``"standard"`` keeps torchvision's stem; ``"small"`` keeps resolution for 32–64
            px inputs (stride-1 first conv, no early pooling); ``"auto"`` = small when
            ``image_size <= 64``.
        weights: ``"none"`` (random, from torch's seed), ``"imagenet"`` (torchvision's DEFAULT
            weights, read only from the local hub cache) or a ``.pt``/``.pth`` path holding a
            torchvision state dict or ``{"model": <Classifier state dict>}``.
        freeze_backbone: Feature extraction: only the head (and a first conv that could not
            take pretrained kernels, e.g. the small 3×3 stem) stays trainable.
        mean: Per-channel input mean (default 0.5; ImageNet statistics for pretrained weights).
        std: Per-channel input std (default 0.5; ImageNet statistics for pretrained weights).

    Raises:
        ConfigError: Unknown backbone or stem, bad sizes or statistics.
        UserError: ImageNet weights missing from the cache, or an unusable weights file.
    """
    spec = BACKBONES.get(name)
    _check_positive(num_classes=num_classes, in_channels=in_channels, image_size=image_size)
    if stem not in STEMS:
        raise ConfigError(f"unknown stem {stem!r} (choose from {', '.join(STEMS)})")
    small = stem == "small" or (stem == "auto" and image_size <= 64)
    kind, path = _weights_source(spec, name, weights)
    state = _read_state(path) if path is not None else None
    if kind == "file" and not _is_classifier_checkpoint(state):
        kind = "torchvision"
    net = spec.build()
    pretrained = kind in ("imagenet", "torchvision")
    if pretrained:
        _load_torchvision_state(net, spec, state, path, name)
    backbone, feature_dim, fresh_stem = _adapt(net, spec, in_channels, small, pretrained)
    build_args = {"name": name, "num_classes": num_classes, "in_channels": in_channels}
    build_args["stem"] = "small" if small else "standard"
    mean = _default_stat(mean, _IMAGENET_MEAN if pretrained else None, in_channels)
    std = _default_stat(std, _IMAGENET_STD if pretrained else None, in_channels)
    model = Classifier(backbone, feature_dim, num_classes, in_channels, mean, std, build_args)
    if kind == "file":
        _load_classifier_state(model, state["model"], path)
    if freeze_backbone:
        model.backbone.requires_grad_(False)
        if pretrained and fresh_stem is not None:
            fresh_stem.requires_grad_(True)  # random kernels must learn, or the rest is wasted
    return model


def _default_stat(given, imagenet: tuple | None, channels: int) -> Sequence[float] | float:
    """The user's value, else ImageNet's for pretrained weights, else 0.5."""
    if given is not None:
        return given
    if imagenet is None:
        return 0.5
    return imagenet if channels == 3 else sum(imagenet) / 3


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key} must be a positive integer, got {value!r}")


# ----------------------------------------------------------------------- weights ----


def _weights_source(spec: BackboneSpec, name: str, weights) -> tuple[str, Path | None]:
    """("none" | "imagenet" | "file", path to read)."""
    if weights is None or weights == "none":
        return "none", None
    if weights == "imagenet":
        path, url = spec.imagenet_checkpoint()
        if not path.is_file():
            raise UserError(
                f"ImageNet weights for {name} are not in the local torch hub cache: expected "
                f"{path}. Nothing is downloaded here; on a machine with internet run "
                f'python -c "import torchvision; torchvision.models.get_model('
                f"'{spec.torchvision_name}', weights='DEFAULT')\" (or fetch {url}) and copy the "
                f"file to that path (TORCH_HOME moves the cache). Offline, use --weights none "
                f"or --weights PATH to a .pt/.pth state dict."
            )
        return "imagenet", path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(
            f"weights file not found: {path} (use 'none', 'imagenet' or a .pt/.pth file)"
        )
    return "file", path


def _read_state(path: Path) -> Mapping:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a bad file; all mean "unreadable"
        raise UserError(f"cannot read weights file {path}: {exc}") from None
    if not isinstance(state, Mapping):
        raise UserError(f"weights file {path} does not hold a state dict")
    return state


def _is_classifier_checkpoint(state: Mapping) -> bool:
    return isinstance(state.get("model"), Mapping)


# Old torchvision DenseNet checkpoints name layers "norm.1" where the modules say "norm1";
# torchvision renames them on load, so must we. The pattern matches nothing in other models.
_LEGACY_DENSENET = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _load_torchvision_state(
    net: nn.Module, spec: BackboneSpec, state: Mapping, path: Path, name: str
) -> None:
    """Load a plain torchvision state dict; its final classifier layer is ignored."""
    state = {_LEGACY_DENSENET.sub(r"\1\2", key): value for key, value in state.items()}
    head = spec.head + "."
    state = {k: v for k, v in state.items() if not k.startswith(head)}
    expected = {k: v for k, v in net.state_dict().items() if not k.startswith(head)}
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise UserError(
            f"weights file {path} does not match {name}: "
            f"missing keys {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected keys {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}"
        )
    for key, value in state.items():
        if not isinstance(value, torch.Tensor) or value.shape != expected[key].shape:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise UserError(
                f"weights file {path} does not match {name}: {key} has shape {got}, "
                f"expected {tuple(expected[key].shape)}"
            )
    net.load_state_dict(state, strict=False)


def _load_classifier_state(model: Classifier, state: Mapping, path: Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        # torch lists every bad key over several lines; the first ones say enough.
        detail = " ".join(str(exc).split("\n")[1:]).strip() or str(exc)
        detail = detail if len(detail) <= 300 else detail[:300] + "..."
        raise UserError(
            f"weights file {path} does not match {model.build_args}: {detail}"
        ) from None


# ------------------------------------------------------------------------ adapt ----


def _adapt(
    net: nn.Module, spec: BackboneSpec, in_channels: int, small: bool, pretrained: bool
) -> tuple[nn.Module, int, nn.Conv2d | None]:
    """Cut the head and fit the stem; returns (backbone, feature_dim, fresh stem conv or None).

    The third item is the new first conv when it could not take pretrained kernels.
    """
    old: nn.Conv2d = net.get_submodule(spec.stem_conv)
    kernel, stride, padding = old.kernel_size, old.stride, old.padding
    if small:
        stride = (1, 1)
        if spec.small_kernel is not None:
            kernel = (spec.small_kernel,) * 2
            padding = (spec.small_kernel // 2,) * 2
        if spec.stem_pool is not None:
            net.set_submodule(spec.stem_pool, nn.Identity())
    conv = nn.Conv2d(
        in_channels, old.out_channels, kernel, stride, padding, bias=old.bias is not None
    )
    transferred = _init_stem(conv, old, pretrained)
    net.set_submodule(spec.stem_conv, conv)
    feature_dim = net.get_submodule(spec.head).in_features
    net.set_submodule(spec.head, nn.Identity())
    if small and spec.small_global_pool:
        # VGG's 7×7 adaptive pool would stretch the 2–4 px map of a small image to 7×7 and feed
        # 25088 values to a 4096-wide MLP (~120M weights) that small datasets cannot fit;
        # global average pooling gives 512-d features like the other backbones' penultimate.
        net.set_submodule("avgpool", nn.AdaptiveAvgPool2d(1))
        net.set_submodule("classifier", nn.Identity())
        feature_dim = [m for m in net.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
    return net, feature_dim, (conv if pretrained and not transferred else None)


def _init_stem(conv: nn.Conv2d, old: nn.Conv2d, pretrained: bool) -> bool:
    """Initialise the new first conv from the old one where shapes allow; True if copied."""
    weight = old.weight.detach()
    same_kernel = weight.shape[2:] == conv.weight.shape[2:]
    with torch.no_grad():
        if same_kernel and (weight.shape[1] == conv.in_channels or pretrained):
            if conv.in_channels == 1:
                weight = weight.sum(dim=1, keepdim=True)  # gray = R = G = B: summed response
            elif conv.in_channels != weight.shape[1]:
                mean = weight.mean(dim=1, keepdim=True)
                weight = mean.repeat(1, conv.in_channels, 1, 1) * (3 / conv.in_channels)
            conv.weight.copy_(weight)
            if old.bias is not None:
                conv.bias.copy_(old.bias.detach())
            return True
        # Same init torchvision uses for its convolutions.
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
    return False


class SimpleCNNSpec(BackboneSpec):
    """Registry entry for :class:`SimpleCNN`: built here, no pretrained weights exist."""

    def build(self) -> nn.Module:
        """A randomly initialised SimpleCNN (from torch's global RNG)."""
        return SimpleCNN()

    def imagenet_checkpoint(self):
        """There are no ImageNet weights for this network."""
        raise ConfigError("simplecnn has no ImageNet weights: use --weights none or PATH")


BACKBONES.register("simplecnn")(
    SimpleCNNSpec("simplecnn", stem_conv="features.0", head="classifier")
)
