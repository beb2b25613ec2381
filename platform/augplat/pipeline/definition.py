"""Pipeline definitions: ``pipelines/<name>.yaml`` → a validated :class:`PipelineSpec`.

How to run::

    augplat pipeline fer                      # finds pipelines/fer.yaml
    augplat pipeline path/to/my-pipeline.yaml --set gan.epochs=20

A pipeline file names its steps in order — ``prepare`` → ``gan`` → ``expand`` → ``study`` →
``compare`` (optional) — and gives each step ``params`` (the typed parameters of the root
MLproject's entry point of the same name) and ``config`` (any other key of the step's config: a
GanConfig for ``gan``, an ExpandConfig for ``expand``, a study definition for ``study``, which may
start from ``base: <study name>``). Parameters that carry one step's output into the next (the
dataset, the generator, the study) are set by the pipeline and may not be given. Every error
names the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from augplat.errors import ConfigError
from augplat.runtime.definitions import find_definition
from augplat.runtime.settings import StrictModel, read_yaml, validation_error_line

STEPS = ("prepare", "gan", "expand", "study", "compare")
# step → parameters whose values the pipeline wires from earlier steps' runs
WIRED = {
    "prepare": (),
    "gan": ("data",),
    "expand": ("generator", "data", "name"),
    "study": ("study", "mode"),
    "compare": ("study",),
}

Scalar = str | int | float | bool


class StepSpec(StrictModel):
    """One step: typed entry point parameters and the rest of its config."""

    params: dict[str, Scalar] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)


class StudyStepSpec(StepSpec):
    """The study step: ``config`` is a study definition, optionally on top of ``base``."""

    base: str | None = Field(None, description="study name or YAML path to start from")


class StepsSpec(StrictModel):
    """The steps, in the order they run."""

    prepare: StepSpec
    gan: StepSpec
    expand: StepSpec
    study: StudyStepSpec
    compare: StepSpec | None = None


class PipelineSpec(StrictModel):
    """A whole pipeline definition."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    experiment: str | None = Field(None, description="MLflow experiment; default pipeline-<name>")
    env_manager: Literal["local", "uv", "virtualenv", "conda"] = "local"
    steps: StepsSpec

    @property
    def experiment_name(self) -> str:
        """MLflow experiment holding the pipeline run and every step's run."""
        return self.experiment or f"pipeline-{self.name}"

    def step(self, name: str) -> StepSpec | None:
        """The spec of step ``name`` (None for an omitted optional step)."""
        return getattr(self.steps, name)


def find_pipeline_file(name_or_path: str) -> Path:
    """``pipelines/NAME.yaml`` (``$AUGPLAT_PIPELINES``, cwd, the source tree) or a direct path."""
    return find_definition(name_or_path, "pipelines", "AUGPLAT_PIPELINES", "pipeline")


def _set(values: dict[str, Any], dotted: str, value: str, path: Path) -> None:
    step, _, param = dotted.partition(".")
    if step not in STEPS or not param or "." in param:
        raise ConfigError(f"--set {dotted}={value}: expected STEP.PARAM=VALUE, STEP one of {STEPS}")
    steps = values.setdefault("steps", {})
    if not isinstance(steps, dict) or not isinstance(steps.get(step, {}), dict):
        raise ConfigError(f"{path}: steps.{step}: expected a mapping")
    steps.setdefault(step, {}).setdefault("params", {})[param] = value


def load_pipeline_spec(
    name_or_path: str, overrides: dict[str, str] | None = None
) -> tuple[PipelineSpec, Path]:
    """Find, read and validate a pipeline file; ``overrides`` are ``{"step.param": value}``."""
    path = find_pipeline_file(name_or_path)
    values = read_yaml(path)
    values.setdefault("name", path.stem)
    for dotted, value in (overrides or {}).items():
        _set(values, dotted, value, path)
    try:
        spec = PipelineSpec.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(validation_error_line(exc, path, what="pipeline")) from None
    for step in STEPS:
        given = spec.step(step)
        if given is None:
            continue
        wired = [k for k in given.params if k in WIRED[step]]
        if wired:
            raise ConfigError(
                f"{path}: steps.{step}.params.{wired[0]}: set by the pipeline from the previous "
                "step's run; remove it"
            )
        both = sorted(set(given.params) & set(given.config))
        if both:
            raise ConfigError(
                f"{path}: steps.{step}: '{both[0]}' is both a parameter and a config key "
                "(the parameter would win); keep one"
            )
    return spec, path
