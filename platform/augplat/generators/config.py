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
        """``{field: heading}`` for the fields a single method reads (from the options bases)."""
        models = [m for m in cls.__mro__ if "heading" in m.__dict__]
        return {name: m.heading for m in models for name in m.model_fields}


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
