"""Each generator method's own options: the keys only that method reads.

:class:`~augplat.generators.config.GanConfig` is the common options plus every model here, so a
run's keys stay flat (one YAML mapping, one ``--set`` namespace, one fingerprint) while each
method declares what is its own (``GanMethod.options``); ``augplat gan train --help`` marks them
with the method's name. A new method adds its model here, next to the others, because the
config must not import the method modules (they import torch and the generator base class).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from augplat.runtime.settings import StrictModel


class CycleGanOptions(StrictModel):
    """CycleGAN (unpaired A↔B translation): cycle and identity losses, the image pool."""

    heading: ClassVar[str] = "cyclegan"

    lambda_cycle: float = Field(10.0, ge=0, description="cycle loss weight")
    lambda_identity: float = Field(0.5, ge=0, description="identity weight, × lambda_cycle")
    pool_size: int = Field(50, ge=0, description="image pool size; 0 = off")


class StarGanOptions(StrictModel):
    """StarGAN (one generator for every class code): classification, reconstruction, mixes."""

    heading: ClassVar[str] = "stargan"

    lambda_cls: float = Field(1.0, ge=0, description="domain classification weight")
    lambda_rec: float = Field(10.0, ge=0, description="reconstruction weight")
    mix_prob: float = Field(
        0.25, ge=0, le=1, description="share of targets that are mixes of two codes"
    )


class CganOptions(StrictModel):
    """Conditional GAN (fresh samples per class): noise size, discriminator augmentation."""

    heading: ClassVar[str] = "cgan"

    z_dim: int = Field(128, ge=1, description="noise size")
    diffaug: str = Field("color,translation,cutout", description="DiffAugment ops; '' = off")
    ada: bool = Field(False, description="adaptive augmentation probability (ADA heuristic)")
    ada_target: float = Field(0.6, gt=0, lt=1, description="ADA target r_t")
    ada_interval: int = Field(4, ge=1, description="ADA: steps between probability adjustments")
    ada_kimg: float = Field(100.0, gt=0, description="ADA speed in kimg for p 0→1")

    @field_validator("diffaug")
    @classmethod
    def _check_diffaug(cls, value: str) -> str:
        from augplat.generators.diffaugment import parse_policy

        return ",".join(parse_policy(value))
