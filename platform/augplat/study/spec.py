"""Study definitions: ``studies/<name>.yaml`` → a validated :class:`StudySpec`.

How to run::

    augplat study digits --trials 8          # finds studies/digits.yaml
    augplat study path/to/my-study.yaml

A study file names the data and model (``train``: any TrainConfig keys, fixed for every trial),
the search ``space`` (TrainConfig keys only), the objective, sampler, pruner, budget, the final
multi-seed evaluation and the backend. Every error names the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from augplat.classify.config import TrainConfig, read_yaml
from augplat.errors import ConfigError
from augplat.runtime.definitions import find_definition
from augplat.runtime.settings import StrictModel, set_dotted, validation_error_line
from augplat.study.final_spec import FinalSpec
from augplat.study.space import ParamSpec, check_conditions, check_values


class ObjectiveSpec(StrictModel):
    """What the search optimises; always a validation metric (the test split never selects)."""

    metric: Literal["val_acc", "val_loss", "val_macro_f1"] = "val_acc"
    direction: Literal["maximize", "minimize"] | None = None

    @model_validator(mode="after")
    def _default_direction(self) -> ObjectiveSpec:
        natural = "minimize" if self.metric == "val_loss" else "maximize"
        if self.direction is None:
            self.direction = natural
        elif self.direction != natural:
            raise ValueError(f"{self.metric} should be {natural}d, not {self.direction}d")
        return self


class SamplerSpec(StrictModel):
    """Optuna sampler."""

    name: Literal["tpe", "random", "cmaes", "grid"] = "tpe"
    seed: int = 0
    n_startup_trials: int = Field(5, ge=0, description="random trials before TPE/CMA-ES model")


class PrunerSpec(StrictModel):
    """Optuna pruner (Ray Tune uses ASHA with the same grace period instead)."""

    name: Literal["median", "hyperband", "successive_halving", "none"] = "median"
    n_startup_trials: int = Field(3, ge=0, description="median: trials before pruning starts")
    n_warmup_steps: int = Field(1, ge=0, description="median: epochs before a trial can be pruned")
    min_resource: int = Field(1, ge=1, description="hyperband / successive halving / ASHA")
    reduction_factor: int = Field(3, ge=2)


class ResourcesSpec(StrictModel):
    """Per-trial resources (Ray Tune placement; Optuna workers are processes)."""

    cpu: float = Field(1.0, gt=0)
    gpu: float = Field(0.0, ge=0)


class StudySpec(StrictModel):
    """A whole study definition."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    train: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, ParamSpec]
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    trials: int = Field(20, ge=1)
    timeout: float | None = Field(None, gt=0, description="seconds for the search")
    sampler: SamplerSpec = Field(default_factory=SamplerSpec)
    pruner: PrunerSpec = Field(default_factory=PrunerSpec)
    final: FinalSpec = Field(default_factory=FinalSpec)
    backend: Literal["optuna", "ray"] = "optuna"
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    log_trial_models: bool = False
    keep_trial_checkpoints: bool = Field(
        False, description="keep each trial's local checkpoints after it ends (default: removed)"
    )
    gan: dict[str, Any] | None = Field(
        None, description="GanConfig keys: trains the generator first when trials need one"
    )
    experiment: str | None = Field(None, description="MLflow experiment; default study-<name>")
    expand: dict[str, Any] | None = Field(
        None,
        description="ExpandConfig keys (per_class or balance, multiplier, batch_size): how "
        "arms with train_on: expanded get their dataset, one per fraction (and generator)",
    )

    @field_validator("train")
    @classmethod
    def _train_is_a_config(cls, value: dict[str, Any]) -> dict[str, Any]:
        TrainConfig.model_validate(value)  # raises with the offending key
        return value

    @field_validator("space")
    @classmethod
    def _space_keys(cls, value: dict[str, ParamSpec]) -> dict[str, ParamSpec]:
        if not value:
            raise ValueError("the search space is empty")
        unknown = [k for k in value if k not in TrainConfig.model_fields]
        if unknown:
            raise ValueError(f"'{unknown[0]}' is not a training parameter")
        check_conditions(value)
        check_values(value, TrainConfig)
        return value

    @model_validator(mode="after")
    def _objective_is_the_monitor(self) -> StudySpec:
        # One rule: the objective metric selects each trial's checkpoint, feeds the pruner, is
        # the trial's value and picks the winner. A different `monitor` would split them.
        if "monitor" in self.space:
            raise ValueError(
                "space.monitor: the checkpoint metric is the objective's "
                f"({self.objective.metric}); it cannot be searched"
            )
        given = self.train.get("monitor")
        if given is not None and given != self.objective.metric:
            raise ValueError(
                f"train.monitor is {given} but objective.metric is {self.objective.metric}: the "
                "objective selects each trial's checkpoint; drop train.monitor or make them equal"
            )
        return self

    @model_validator(mode="after")
    def _grid_needs_steps(self) -> StudySpec:
        if self.sampler.name == "grid":
            for name, spec in self.space.items():
                try:
                    spec.grid_values()
                except ValueError as exc:
                    raise ValueError(f"space.{name}: {exc}") from None
        return self

    @property
    def experiment_name(self) -> str:
        """MLflow experiment holding the study's parent, trial and final runs."""
        return self.experiment or f"study-{self.name}"

    def trial_config(self, params: dict[str, Any], **extra: Any) -> TrainConfig:
        """The TrainConfig of one trial: fixed ``train`` keys, then the trial's params.

        ``monitor`` is always the objective's metric, so the checkpoint a trial (and each final
        run) keeps, its early stopping and plateau schedule, the value the pruner sees and the
        trial's value all read the same validation metric.
        """
        return TrainConfig.model_validate(
            {
                **self.train,
                **params,
                "experiment": self.experiment_name,
                **extra,
                "monitor": self.objective.metric,
            }
        )


def find_study_file(name_or_path: str) -> Path:
    """``studies/NAME.yaml`` (``$AUGPLAT_STUDIES``, cwd, the source tree) or a direct path."""
    return find_definition(name_or_path, "studies", "AUGPLAT_STUDIES", "study")


def load_study_spec(name_or_path: str, sets: list[str] | None = None) -> tuple[StudySpec, Path]:
    """Find, read and validate a study file; the name defaults to the file's stem.

    Args:
        name_or_path: ``studies/NAME.yaml`` by name, or a path.
        sets: ``--set KEY=VALUE`` items applied on top of the file (dotted keys, YAML values);
            an error they cause is reported against ``--set``, not the file.
    """
    path = find_study_file(name_or_path)
    values = read_yaml(path)
    values.setdefault("name", path.stem)
    try:
        spec = StudySpec.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(validation_error_line(exc, path, what="study")) from None
    if not sets:
        return spec, path
    for item in sets:
        set_dotted(values, item)
    try:
        return StudySpec.model_validate(values), path
    except ValidationError as exc:
        raise ConfigError(validation_error_line(exc, "--set", what="study")) from None
