"""An expansion's request (:class:`ExpandConfig`) and outcome (:class:`ExpandResult`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from augplat.runtime.settings import JobConfig

SYNTHETIC_FILE = "synthetic.npy"  # per image of an expanded dataset: synthetic or real
ORIGIN_FILE = "synthetic_source.npy"  # per image: the source image it was made from, or -1


class ExpandConfig(JobConfig):
    """One dataset expansion: source, how to synthesise, how many, where to.

    Either ``generator`` (a GAN run) or ``classic``; either ``per_class`` or ``balance``.
    """

    data: str | None = Field(
        None, description="source dataset name or path (default: the generator's training data)"
    )
    generator: str | None = Field(
        None, description="GAN run id, imported generator name or models:/NAME@ALIAS"
    )
    classic: bool = Field(
        False, description="classic-augmented copies of real images instead of a GAN"
    )
    policy: str | None = Field(
        None, description="--classic policy name or YAML file (default: default)"
    )
    strength: float | None = Field(None, ge=0, description="--classic strength (default: 1.0)")
    per_class: int | None = Field(
        None, ge=1, description="add exactly N synthetic train images to every class"
    )
    balance: bool = Field(
        False, description="fill every class up to the largest class count × --multiplier"
    )
    multiplier: float | None = Field(
        None, ge=1, description="with --balance: target = largest count × M; M > 1 grows the "
        "largest class too (default: 1.0)",
    )  # fmt: skip
    name: str | None = Field(None, description="output dataset name (default: <data>-expanded)")
    seed: int = Field(0, description="seed for source picks and generation noise")
    allow_foreign_generator: bool = Field(
        False,
        description="use a generator trained on images outside the dataset's train split "
        "(never on its val/test images); the expansion and its run record it",
    )
    batch_size: int = Field(256, ge=1, description="generation batch size")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="device")
    experiment: str = Field("augplat", description="MLflow experiment")
    run_name: str | None = Field(None, description="MLflow run name")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        from augplat.data.store import NAME_PATTERN

        if value is not None and not NAME_PATTERN.fullmatch(value):
            raise ValueError(f"invalid dataset name {value!r}: use letters, digits, '-', '_', '.'")
        return value

    @model_validator(mode="after")
    def _check_choices(self) -> ExpandConfig:
        if bool(self.generator) == self.classic:
            raise ValueError("pass either --generator RUN_ID or --classic (exactly one)")
        if (self.per_class is not None) == self.balance:
            raise ValueError("pass either --per-class N or --balance (exactly one)")
        if self.multiplier is not None and not self.balance:
            raise ValueError("--multiplier only applies with --balance")
        if not self.classic and (self.policy is not None or self.strength is not None):
            raise ValueError("--policy and --strength only apply with --classic")
        if self.classic and not self.data:
            raise ValueError("--classic needs --data NAME")
        return self

    @property
    def mode(self) -> str:
        """``per-class`` or ``balance``."""
        return "balance" if self.balance else "per-class"


@dataclass
class ExpandResult:
    """What an expansion produced (everything is also in the manifest and the MLflow run)."""

    dataset: Any
    path: Path
    run_id: str
    strategy: str
    before: dict[str, int]
    added: dict[str, int]
