"""``GanConfig``: everything that defines one GAN training run.

A config is YAML with these keys plus CLI overrides
(:func:`augplat.runtime.settings.build_config`); unknown keys are errors. Fields left at
``None`` take the chosen method's default (``GanMethod.defaults``),
so ``gan_loss`` is LSGAN for CycleGAN, WGAN-GP for StarGAN and hinge for the conditional GAN
without the user having to know; :func:`resolve_defaults` writes them in before the run starts, so
the logged ``config.yaml`` always says what actually ran.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, field_validator

from augplat.generators.options import CganOptions, CycleGanOptions, StarGanOptions
from augplat.runtime.settings import JobConfig

# Fields that change how a run is executed or tracked, not what it learns: left out of the
# fingerprint so a run on another device, or re-evaluated differently, is still "the same GAN".
RUNTIME_FIELDS = frozenset(
    {
        "device",
        "amp",
        "experiment",
        "run_name",
        "log_every",
        "checkpoint_every",
        "preview_images",
        "eval",
        "eval_samples",
        "classifier",
    }
)


class GanCommonOptions(JobConfig):
    """What every method reads: data, architecture, losses, optimisation, runtime, tracking.

    Defaults follow the reference implementations (CycleGAN: Adam 2e-4 / beta1 0.5, lambda 10,
    identity 0.5·lambda, pool 50; StarGAN: lambda_cls 1, lambda_rec 10, lambda_gp 10, 5 critic
    steps) with the network widths kept; only the epoch count is small so a CPU run is minutes.
    Each field is also an ``augplat gan train`` option; its description is the option's help.
    """

    method: str = Field("cgan", description="registered GAN method (cyclegan, stargan, cgan)")

    # data
    data: str = Field("digits", description="prepared dataset (domain A for cyclegan)")
    classes: list[str] | None = Field(None, description="comma-separated classes of --data to keep")
    data_b: str | None = Field(
        None, description="domain B of cyclegan: prepared dataset (e.g. a prepared folder)"
    )
    classes_b: list[str] | None = Field(None, description="comma-separated classes for domain B")
    size: int | None = Field(None, ge=8, le=1024, description="resize all images to SIZE×SIZE")
    channels: Literal[1, 3] | None = Field(
        None, description="convert all images to 1 or 3 channels"
    )

    # architecture
    ngf: int = Field(64, ge=1, description="generator width")
    ndf: int = Field(64, ge=1, description="discriminator width")
    n_blocks: int = Field(6, ge=0, description="ResNet generator blocks")
    n_layers_d: int | None = Field(
        None, ge=1, description="PatchGAN depth (default: fits the size)"
    )

    # losses
    gan_loss: Literal["lsgan", "wgangp", "hinge"] | None = Field(
        None, description="adversarial loss (default: per method)"
    )
    lambda_gp: float = Field(10.0, ge=0, description="gradient penalty weight")

    # optimisation
    epochs: int = Field(10, ge=1, description="epochs at constant lr")
    decay_epochs: int = Field(0, ge=0, description="further epochs with linear lr decay")
    max_steps: int | None = Field(
        None, ge=1, description="step budget: stop training after N steps"
    )
    batch_size: int | None = Field(None, ge=1, description="batch size (default: per method)")
    lr: float | None = Field(None, gt=0, description="generator lr (default: per method)")
    lr_d: float | None = Field(None, gt=0, description="discriminator lr (default: --lr)")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2")
    n_critic: int | None = Field(None, ge=1, description="D steps per G step (default: per method)")
    ema: float = Field(0.0, ge=0, lt=1, description="EMA decay of generator weights; 0 = off")

    # runtime
    seed: int = Field(0, description="seed for everything")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="device")
    amp: bool = Field(True, description="bf16 autocast on CUDA")
    log_every: int = Field(20, ge=1, description="steps between loss logs")
    checkpoint_every: int = Field(200, ge=1, description="steps between checkpoints")
    preview_images: int = Field(8, ge=1, le=64, description="images per row of the sample grids")

    # evaluation and tracking
    eval: bool = Field(True, description="quality metrics at the end")
    eval_samples: int = Field(1000, ge=10, description="synthetic images for the metrics")
    classifier: str | None = Field(None, description="judge: run id of an `augplat train` run")
    experiment: str = Field("augplat", description="MLflow experiment")
    run_name: str | None = Field(None, description="MLflow run name")

    @field_validator("classes", "classes_b", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            return [str(v) for v in value] or None
        return value

    @property
    def total_epochs(self) -> int:
        """Constant-lr epochs plus decay epochs."""
        return self.epochs + self.decay_epochs

    def lr_factor(self, epoch: int) -> float:
        """Multiplier of the base lr in 1-based ``epoch``: 1, then linear decay towards 0.

        Same rule as pytorch-CycleGAN's ``linear`` policy: the last decay epoch still trains
        with a small positive rate.
        """
        return 1.0 - max(0, epoch - self.epochs) / float(self.decay_epochs + 1)


class GanConfig(CycleGanOptions, StarGanOptions, CganOptions, GanCommonOptions):
    """One GAN training run: the common options plus every method's own options model.

    The keys stay flat (YAML, ``--set``, the logged ``config.yaml`` and the fingerprint are what
    they were); which method reads a key is declared by the options model that holds it
    (:attr:`augplat.generators.base.GanMethod.options`), and ``augplat gan train --help`` shows
    each method's options marked with the method's name.
    """

    @classmethod
    def option_groups(cls) -> dict[str, str]:
        """``{field: heading}`` for the fields a single method reads."""
        groups = {}
        for model in (CycleGanOptions, StarGanOptions, CganOptions):
            for name in model.model_fields:
                groups[name] = model.heading
        return groups


def resolve_defaults(cfg: GanConfig, defaults: dict[str, Any]) -> GanConfig:
    """A copy of ``cfg`` with every ``None`` field that ``defaults`` names filled in."""
    filled = {k: v for k, v in defaults.items() if getattr(cfg, k) is None}
    data = {**cfg.model_dump(), **filled}
    if data.get("lr_d") is None:
        data["lr_d"] = data["lr"]
    return GanConfig.model_validate(data)


def fingerprint(cfg: GanConfig, digests: dict[str, str]) -> str:
    """Hash of what a run learns: method, non-runtime config and data digests.

    Two runs with the same fingerprint train the same generator, so a later step can reuse a
    finished run instead of training again (search tag ``augplat.gan_fingerprint``).
    """
    learned = {k: v for k, v in cfg.model_dump(mode="json").items() if k not in RUNTIME_FIELDS}
    payload = json.dumps({"config": learned, "data": digests}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------- data ----


class GanData:
    """The training data of one run, converted, checked and resident on the device.

    Built by :func:`prepare_data`. Images stay uint8 on the device (all of FER2013 is 83 MB)
    and become [-1, 1] floats per batch.

    Attributes:
        spec: Channels, size, classes, domains and dataset lineage.
        images: uint8 train images of the main dataset (domain A), on the device.
        labels: int64 labels (re-indexed when ``classes`` selected a subset), on the device.
        images_b: uint8 train images of domain B (cyclegan), else None.
        val: ``(images, labels)`` of the main dataset's val split as uint8 numpy (metrics).
        val_b: Domain B val images (or all of B when it has no val split), or None.
        datasets: The loaded datasets by role (``a``, ``b``) for lineage.
    """

    def __init__(self, spec, images, labels, images_b, val, val_b, datasets):
        self.spec, self.images, self.labels, self.images_b = spec, images, labels, images_b
        self.val, self.val_b, self.datasets = val, val_b, datasets

    def batch(self, idx, generator):
        """The batch of A images ``idx`` (+ as many random B images) in [-1, 1]."""
        import torch

        from augplat.generators.spec import Batch

        idx = idx.to(self.images.device)
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        b = None
        if self.images_b is not None:  # unpaired: B is drawn independently of A
            pick = torch.randint(0, len(self.images_b), (len(idx),), generator=generator)
            b = self.images_b[pick.to(self.images_b.device)].float().div_(127.5).sub_(1.0)
        return Batch(x, self.labels[idx], b)

    def fixed_inputs(self, n: int, seed: int):
        """``n`` train images (and labels, and B images) picked by ``seed``, as [0, 1] CPU floats.

        Fixed across epochs and resumes, so sample grids of different epochs compare.
        """
        import torch

        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self.images), generator=gen)[:n]
        images = self.images[idx.to(self.images.device)].cpu().float() / 255
        labels = self.labels[idx.to(self.labels.device)].cpu()
        images_b = None
        if self.images_b is not None:
            idx_b = torch.randperm(len(self.images_b), generator=gen)[:n]
            images_b = self.images_b[idx_b.to(self.images_b.device)].cpu().float() / 255
        return images, labels, images_b


def _select(ds, names: list[str] | None, split: str, flag: str):
    """Images and re-indexed labels of ``split`` restricted to the classes ``names``."""
    import numpy as np

    from augplat.errors import ConfigError

    images, labels = ds.arrays(split)
    if names is None:
        return images, labels, list(ds.classes)
    unknown = [n for n in names if n not in ds.classes]
    if unknown:
        raise ConfigError(
            f"{flag}: no class '{unknown[0]}' in dataset '{ds.name}' "
            f"(classes: {', '.join(ds.classes)})"
        )
    old = np.array([ds.classes.index(n) for n in names])
    keep = np.isin(labels, old)
    remap = np.full(len(ds.classes), -1, dtype=np.int64)
    remap[old] = np.arange(len(old))
    return images[keep], remap[labels[keep]], list(names)


def convert_images(images, channels: int | None, size: int | None):
    """uint8 ``N×C×H×W`` numpy → ``channels`` (gray↔RGB) and ``size×size`` (antialiased)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    if channels and images.shape[1] != channels:
        if channels == 3:
            images = np.repeat(images, 3, axis=1)
        else:  # ITU-R 601 luma, as PIL's convert("L")
            weights = np.array([0.299, 0.587, 0.114], dtype=np.float32).reshape(1, 3, 1, 1)
            images = (images.astype(np.float32) * weights).sum(1, keepdims=True)
            images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    if size and tuple(images.shape[2:]) != (size, size) and len(images):
        out = []
        for start in range(0, len(images), 4096):  # chunks bound the float copy's memory
            t = torch.from_numpy(np.ascontiguousarray(images[start : start + 4096])).float()
            t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True)
            out.append(t.round().clamp(0, 255).to(torch.uint8).numpy())
        images = np.concatenate(out)
    return np.ascontiguousarray(images)


def _domain_b(cfg: GanConfig, method_cls, ds_a):
    """The domain-B dataset (or None), checking the options fit the method."""
    from augplat.errors import ConfigError

    if not method_cls.needs_domain_b:
        if cfg.data_b or cfg.classes_b:
            raise ConfigError(
                f"--data-b / --classes-b only apply to cyclegan, not {method_cls.name}"
            )
        return None
    name_b = cfg.data_b or (cfg.data if cfg.classes_b else None)
    if not name_b:
        raise ConfigError(
            f"{method_cls.name} needs a second domain: --data-b DATASET (a prepared dataset or "
            "image folder), or --classes-b to take domain B from other classes of --data"
        )
    if name_b == cfg.data:
        return ds_a
    from augplat.data import load_dataset

    return load_dataset(name_b)


def _check_shapes(a, b, name_a: str, name_b: str | None) -> None:
    from augplat.errors import DataError

    shape_a = a.shape[1:]
    if shape_a[1] != shape_a[2]:
        raise DataError(
            f"dataset '{name_a}' has {shape_a[1]}×{shape_a[2]} images; GANs here need square "
            "images: pass --size N to resize"
        )
    if b is not None and b.shape[1:] != shape_a:
        fmt = "×".join
        raise DataError(
            f"cyclegan domains differ: A '{name_a}' is {fmt(map(str, shape_a))}, B '{name_b}' is "
            f"{fmt(map(str, b.shape[1:]))}; pass --channels 1|3 and/or --size N to convert both"
        )


def _domain_name(name: str, classes: list[str] | None) -> str:
    return f"{name}[{','.join(classes)}]" if classes else name


def prepare_data(cfg: GanConfig, method_cls, device) -> GanData:
    """Load, select, convert and check a run's data; every problem is a user error.

    Raises:
        DataError: Unknown dataset, empty train split, too few classes, mismatched domains.
        ConfigError: Unknown class names, domain-B options on the wrong method.
    """
    import numpy as np
    import torch

    from augplat.data import load_dataset
    from augplat.errors import DataError
    from augplat.generators.spec import GanSpec

    ds_a = load_dataset(cfg.data)
    ds_b = _domain_b(cfg, method_cls, ds_a)
    images, labels, classes = _select(ds_a, cfg.classes, "train", "--classes")
    val_images, val_labels, _ = _select(ds_a, cfg.classes, "val", "--classes")
    images = convert_images(images, cfg.channels, cfg.size)
    val_images = convert_images(val_images, cfg.channels, cfg.size)
    images_b = val_b = None
    if ds_b is not None:
        images_b, _, _ = _select(ds_b, cfg.classes_b, "train", "--classes-b")
        val_b, _, _ = _select(ds_b, cfg.classes_b, "val", "--classes-b")
        images_b = convert_images(images_b, cfg.channels, cfg.size)
        val_b = convert_images(val_b, cfg.channels, cfg.size) if len(val_b) else images_b
    _check_shapes(images, images_b, ds_a.name, ds_b.name if ds_b is not None else None)
    present = len(np.unique(labels))
    if present < method_cls.min_classes:
        raise DataError(
            f"{method_cls.name} needs at least {method_cls.min_classes} classes with training "
            f"images; '{ds_a.name}' has {present} ({', '.join(classes)})"
        )
    for role, arr, name in (("A", images, ds_a.name), ("B", images_b, getattr(ds_b, "name", ""))):
        if arr is not None and len(arr) < 2:
            raise DataError(
                f"domain {role} ('{name}') needs at least 2 training images, has {len(arr)}"
            )
    datasets = {"a": ds_a} if ds_b is None else {"a": ds_a, "b": ds_b}
    spec = GanSpec(
        channels=int(images.shape[1]),
        size=int(images.shape[2]),
        classes=tuple(classes),
        domains=(_domain_name(ds_a.name, cfg.classes), _domain_name(ds_b.name, cfg.classes_b))
        if ds_b is not None
        else (),
        datasets={k: {"name": d.name, "digest": d.digest} for k, d in datasets.items()},
    )
    to_dev = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    return GanData(
        spec,
        to_dev(images),
        to_dev(labels.astype(np.int64)),
        to_dev(images_b) if images_b is not None else None,
        (val_images, val_labels),
        val_b,
        datasets,
    )
