"""The ``final:`` section of a study: arms × seeds × fractions, the baseline, the tuning mode.

How it reads::

    final:
      seeds: 6                       # or a list [0, 1, 2, 3, 4, 5]
      baseline: classic
      tune: shared                   # or per-arm: each arm its own search, same trials
      fractions: [0.25, 0.5, 1.0]    # nested, stratified subsets of the train split
      generator_per_seed: false      # true: every seed trains its own generator
      folds: 5                       # a dataset prepared with --folds 5: cells per fold too
      arms:
        tuned: {}                    # the winner as found
        classic: {aug: classic}      # any TrainConfig keys override the winner
        no_gan: {generative: off}    # the winner with every generative part switched off
        expanded: {train_on: expanded}
        vote: {ensemble: [tuned, classic], rule: vote}

When ``arms`` is omitted: the winner and the winner with generative augmentation off (the
baseline) when the study can use a generator; the winner and the winner without augmentation
(``aug: none``, the baseline) otherwise.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from augplat.classify.config import TrainConfig
from augplat.runtime.settings import StrictModel, first_error_message

GENERATIVE = "generative"  # the pseudo-setting `generative: off`
ENSEMBLE_KEYS = {"ensemble", "rule"}
RULES = ("sum", "max", "vote")
# What `generative: off` does to each setting of the winner.
GENERATIVE_OFF = {
    "aug": {"gan": "none", "both": "classic"},
    "train_on": {"synthetic": "original", "united": "original"},
    "test_mode": {"gan": "regular", "both": "regular"},
}
GENERATOR_ONLY = ("gan_prob", "gan_strength", "gan_bank", "synthetic_variants", "generator")


def _check_setting(arm: str, key: str, value: Any) -> None:
    """One arm override: a TrainConfig field with a value of its type (cross-field checks later)."""
    if key == GENERATIVE:
        if value not in ("off", False):
            raise ValueError(f"arms.{arm}.{GENERATIVE}: only 'off' is allowed")
        return
    field = TrainConfig.model_fields.get(key)
    if field is None:
        raise ValueError(f"arms.{arm}: unknown key '{key}' (not a training setting)")
    try:
        kind = field.annotation
        if field.metadata:  # the field's constraints (gt=0, le=1, ...)
            kind = Annotated[(kind, *field.metadata)]
        TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"arms.{arm}.{key}: {first_error_message(exc)}") from None


class FinalSpec(StrictModel):
    """The final stage: each (arm, seed, fraction) cell is one nested run, tested once."""

    seeds: int | list[int] = Field(6, description="a count (0..n-1) or the seeds themselves")
    epochs: int | None = Field(None, ge=1, description="default: the trials' epochs")
    arms: dict[str, dict[str, Any]] | None = None
    baseline: str | None = None
    tune: Literal["shared", "per-arm"] = "shared"
    fractions: list[float] = Field(default_factory=lambda: [1.0], min_length=1)
    generator_per_seed: bool = False
    folds: int | None = Field(
        None, ge=2, description="K: every cell once per fold (a dataset prepared with --folds K)"
    )
    metric: str = Field("test_top1", description="the test metric the verdict compares")
    alpha: float = Field(0.05, gt=0, lt=1, description="family-wise level of each table (Holm)")

    @model_validator(mode="after")
    def _check(self) -> FinalSpec:
        if isinstance(self.seeds, int):
            if self.seeds < 1:
                raise ValueError("seeds: at least one seed")
            self.seeds = list(range(self.seeds))
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: a non-empty list of different seeds")
        for fraction in self.fractions:
            if not 0.0 < fraction <= 1.0:
                raise ValueError(f"fractions: {fraction} is outside (0, 1]")
        self.fractions = sorted(set(self.fractions))
        if self.folds is not None and self.fractions != [1.0]:
            raise ValueError("folds: cannot be combined with fractions below 1 (yet)")
        for name, overrides in (self.arms or {}).items():
            _check_arm(name, overrides, self.arms or {})
        if self.baseline is not None and self.arms is not None and self.baseline not in self.arms:
            raise ValueError(
                f"baseline: '{self.baseline}' is not among the arms ({', '.join(self.arms)})"
            )
        return self

    @property
    def seed_list(self) -> list[int]:
        """The seeds (``seeds`` after validation is always a list)."""
        return list(self.seeds) if isinstance(self.seeds, list) else list(range(self.seeds))

    def resolved_arms(self, may_use_generator: bool) -> tuple[dict[str, dict[str, Any]], str]:
        """The arms and the baseline, defaults filled in."""
        if self.arms is not None:
            return dict(self.arms), self.baseline or next(iter(self.arms))
        if may_use_generator:
            return {"tuned": {}, "no_gan": {GENERATIVE: "off"}}, self.baseline or "no_gan"
        return {"tuned": {}, "none": {"aug": "none"}}, self.baseline or "none"


def _check_arm(name: str, overrides: Any, arms: dict[str, Any]) -> None:
    if not isinstance(overrides, dict):
        raise ValueError(f"arms.{name}: a mapping of settings ({{}} for the winner as found)")
    if "ensemble" in overrides:
        extra = set(overrides) - ENSEMBLE_KEYS
        if extra:
            raise ValueError(f"arms.{name}: unknown key '{sorted(extra)[0]}' for an ensemble arm")
        members = overrides["ensemble"]
        if not isinstance(members, list) or len(members) < 2:
            raise ValueError(f"arms.{name}.ensemble: a list of at least two arms")
        for member in members:
            if member not in arms:
                raise ValueError(f"arms.{name}.ensemble: unknown arm '{member}'")
            if "ensemble" in (arms[member] or {}):
                raise ValueError(f"arms.{name}.ensemble: '{member}' is an ensemble itself")
        if overrides.get("rule", "vote") not in RULES:
            raise ValueError(f"arms.{name}.rule: one of {', '.join(RULES)}")
        return
    if "rule" in overrides:
        raise ValueError(f"arms.{name}: 'rule' needs 'ensemble'")
    for key, value in overrides.items():
        _check_setting(name, key, value)


def is_ensemble(overrides: dict[str, Any]) -> bool:
    """An arm built per seed from other arms' runs."""
    return "ensemble" in overrides


def apply_overrides(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A winner's settings with an arm's overrides; ``generative: off`` switches GANs off."""
    result = {**params}
    for key, value in overrides.items():
        if key == GENERATIVE:
            for setting, mapping in GENERATIVE_OFF.items():
                if setting in result:
                    result[setting] = mapping.get(result[setting], result[setting])
            for setting in GENERATOR_ONLY:
                result.pop(setting, None)
            result["generator"] = None  # also over a generator fixed in `train`
        else:
            result[key] = value
    return result
