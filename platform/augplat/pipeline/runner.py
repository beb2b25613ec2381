"""Run a pipeline: prepare → gan → expand → study → compare, each step an MLflow Projects run.

How to run::

    augplat pipeline digits                           # pipelines/digits.yaml, minutes on a CPU
    augplat pipeline fer --set prepare.path=~/data/fer2013.csv
    mlflow run . -e pipeline -P definition=fer        # the same, itself a project run

The pipeline's own run is the parent of every step it launches (an explicit
``mlflow.parentRunId`` tag). Under ``mlflow run`` the pipeline adopts that run, then removes
``MLFLOW_RUN_ID`` from its environment so no step can adopt it. Each step is launched with
:func:`augplat.projects.launch.launch_step` unless a finished run with the same key can be reused
(:mod:`augplat.pipeline.reuse`); either way its outputs (dataset, generator, study) are read
from that run's tags and wired into the next step's parameters.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augplat.errors import ConfigError, UserError
from augplat.pipeline import reuse
from augplat.pipeline.definition import STEPS, PipelineSpec
from augplat.runtime.progress import Reporter
from augplat.tracking import tags as tag


class PipelineError(UserError):
    """A step finished but left no usable output in its run."""


@dataclass
class StepOutcome:
    """One step of a pipeline run: its MLflow run, whether it was reused, what it produced."""

    step: str
    run_id: str
    reused: bool
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class PipelineResult:
    """A finished pipeline (also recorded on its MLflow run)."""

    name: str
    run_id: str
    experiment: str
    steps: list[StepOutcome]


@dataclass
class StepPlan:
    """What a step will be launched with; ``finish(key)`` names key-derived outputs."""

    params: dict[str, Any]
    config: dict[str, Any] | None = None  # part of the key; the `config` param unless finish
    inputs: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    finish: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None


@dataclass
class _Context:
    """One pipeline run: the definition, where steps go, and what finished so far."""

    spec: PipelineSpec
    path: Path
    experiment: str
    done: dict[str, StepOutcome] = field(default_factory=dict)
    points: dict[str, Any] = field(default_factory=dict)  # entry point → declared parameters
    project: Any = None
    code: str = ""
    env_manager: str = "local"
    tracking_uri: str | None = None
    store: Any = None  # augplat.tracking.Store
    experiment_id: str = ""
    parent_run_id: str = ""
    rerun: bool = False
    reporter: Reporter = field(default_factory=Reporter)

    def output(self, step: str, key: str) -> str:
        return self.done[step].outputs[key]


def _check_config_keys(ctx: _Context, step: str, model, exclude=()) -> None:
    config = ctx.spec.step(step).config
    unknown = [k for k in config if k not in model.model_fields or k in exclude]
    if unknown:
        raise ConfigError(f"{ctx.path}: steps.{step}.config: unknown key '{unknown[0]}'")


def _plan_prepare(ctx: _Context) -> StepPlan:
    step = ctx.spec.steps.prepare
    if step.config:
        raise ConfigError(f"{ctx.path}: steps.prepare: takes params only, no config")
    params, sources = dict(step.params), {}
    if params.get("path") not in (None, "", "-"):
        source = Path(str(params["path"])).expanduser().resolve()
        if not source.exists():
            raise ConfigError(f"{ctx.path}: steps.prepare.params.path: {source} not found")
        params["path"] = str(source)
        sources["path"] = reuse.source_hash(source)
    return StepPlan(params, sources=sources)


def _plan_gan(ctx: _Context) -> StepPlan:
    from augplat.generators.config import GanConfig

    step = ctx.spec.steps.gan
    _check_config_keys(ctx, "gan", GanConfig, exclude=("experiment", "run_name"))
    params = {**step.params, "data": ctx.output("prepare", "dataset")}
    return StepPlan(params, dict(step.config), {"data": ctx.done["prepare"].run_id})


def _plan_expand(ctx: _Context) -> StepPlan:
    from augplat.expand import ExpandConfig

    step = ctx.spec.steps.expand
    _check_config_keys(ctx, "expand", ExpandConfig, exclude=("experiment", "run_name"))
    config = dict(step.config)
    if "per_class" not in config and "balance" not in config:
        config["balance"] = True  # the project's default: fill every class up
    params = {
        **step.params,
        "generator": ctx.done["gan"].run_id,
        "data": ctx.output("prepare", "dataset"),
    }
    inputs = {"generator": ctx.done["gan"].run_id, "data": ctx.done["prepare"].run_id}

    def finish(key: str, params: dict[str, Any]) -> dict[str, Any]:
        name = f"{ctx.spec.name}-expanded-{key[:8]}"
        return {**params, "name": name, "config": str(reuse.write_config(config))}

    return StepPlan(params, config, inputs, finish=finish)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _plan_study(ctx: _Context) -> StepPlan:
    from pydantic import ValidationError

    from augplat.runtime.settings import read_yaml, validation_error_line
    from augplat.study.spec import StudySpec, find_study_file

    step = ctx.spec.steps.study
    base = read_yaml(find_study_file(step.base)) if step.base else {}
    config = _deep_merge(base, step.config)
    # The study answers the question on the prepared data itself: its arms use the pipeline's
    # generator (GAN augmentation) and its expanded dataset (arms with train_on: expanded).
    train = config.setdefault("train", {})
    train["data"] = ctx.output("prepare", "dataset")
    train["generator"] = ctx.output("gan", "generator")
    config["expand"] = {"dataset": ctx.output("expand", "dataset")}
    config.pop("gan", None)  # the pipeline's gan step is the generator
    config["experiment"] = ctx.experiment
    try:
        StudySpec.model_validate({**config, "name": "check"})
    except ValidationError as exc:
        where = "steps.study.config"
        line = validation_error_line(exc, ctx.path, prefix=f"{where}.", what=where)
        raise ConfigError(line) from None
    params = {"trials": "0", "workers": "1", **step.params, "mode": "fresh"}

    def finish(key: str, params: dict[str, Any]) -> dict[str, Any]:
        named = {**config, "name": f"{ctx.spec.name}-{key[:8]}"}
        return {**params, "study": str(reuse.write_config(named))}

    # the study's name is derived from the key, so the key covers the config before naming
    inputs = {step: ctx.done[step].run_id for step in ("prepare", "gan", "expand")}
    return StepPlan(params, config, inputs, finish=finish)


def _plan_compare(ctx: _Context) -> StepPlan:
    step = ctx.spec.steps.compare
    if step.config:
        raise ConfigError(f"{ctx.path}: steps.compare: takes params only, no config")
    params = {**step.params, "study": ctx.output("study", "study")}
    return StepPlan(params, inputs={"study": ctx.done["study"].run_id})


PLANNERS = {
    "prepare": _plan_prepare,
    "gan": _plan_gan,
    "expand": _plan_expand,
    "study": _plan_study,
    "compare": _plan_compare,
}


def _check_params(spec: PipelineSpec, path: Path, points: dict) -> None:
    """Every given parameter is one the root MLproject's entry point declares."""
    if not points:
        return  # a remote project: MLflow checks after fetching it
    for step in STEPS:
        given = spec.step(step)
        if given is None:
            continue
        if step not in points:
            raise ConfigError(f"{path}: steps.{step}: the project has no '{step}' entry point")
        unknown = [k for k in given.params if k not in points[step]]
        if unknown:
            raise ConfigError(
                f"{path}: steps.{step}.params: unknown parameter '{unknown[0]}' "
                f"(parameters: {', '.join(points[step])})"
            )
        try:
            reuse.normalise(given.params, points[step])  # numbers where numbers are declared
        except ConfigError as exc:
            raise ConfigError(f"{path}: steps.{step}.{exc}") from None


def check_definition(spec: PipelineSpec, path: Path, points: dict) -> None:
    """Everything about a definition that can be wrong, checked before any step is launched:
    parameters, config keys and the study definition (with stand-ins for wired outputs)."""
    _check_params(spec, path, points)
    stand_in = _Context(spec, path, "check")
    for step, outputs in (
        ("prepare", {"dataset": "x", "digest": "x"}),
        ("gan", {"generator": "x"}),
        ("expand", {"dataset": "x", "digest": "x"}),
        ("study", {"study": "x"}),
    ):
        PLANNERS[step](stand_in)
        stand_in.done[step] = StepOutcome(step, "x", False, outputs)
    if spec.steps.compare is not None:
        PLANNERS["compare"](stand_in)


def _run_step(ctx: _Context, step: str) -> StepOutcome:
    from augplat.projects.launch import launch_step

    plan = PLANNERS[step](ctx)
    params = reuse.normalise(plan.params, ctx.points.get(step, {}))
    key = reuse.step_key(step, ctx.code, params, plan.config, plan.inputs, plan.sources)
    found = None if ctx.rerun else reuse.find_reusable(ctx.store, ctx.experiment_id, step, key)
    if found is not None:
        run, outputs = found
        ctx.reporter.message(f"{step}: reusing finished run {run.info.run_id}")
        return StepOutcome(step, run.info.run_id, True, outputs)
    if plan.finish is not None:
        params = plan.finish(key, params)
    elif plan.config is not None:
        params = {**params, "config": str(reuse.write_config(plan.config))}
    ctx.reporter.message(f"{step}: launching ({ctx.env_manager} environment)")
    result = launch_step(
        step,
        params,
        project=ctx.project,
        env_manager=ctx.env_manager,
        experiment=ctx.experiment,
        run_name=f"{ctx.spec.name}-{step}",
        parent_run_id=ctx.parent_run_id,
        tags={
            reuse.KEY_TAG: key,
            tag.PIPELINE: ctx.spec.name,
            tag.INPUTS: json.dumps(plan.inputs, sort_keys=True),
        },
        tracking_uri=ctx.tracking_uri,
    )
    outputs = reuse.outputs_of(step, ctx.store.get_run(result.run_id))
    if outputs is None:
        raise PipelineError(
            f"step '{step}' finished but its run {result.run_id} records no usable output "
            "(see the step's output above)"
        )
    return StepOutcome(step, result.run_id, False, outputs)


def run_pipeline(
    spec: PipelineSpec,
    path: Path,
    *,
    project=None,
    env_manager: str | None = None,
    tracking_uri: str | None = None,
    rerun: bool = False,
    reporter: Reporter | None = None,
) -> PipelineResult:
    """Run (or reuse) every step of ``spec`` in order; all of it under one pipeline run.

    Args:
        spec: The validated pipeline definition.
        path: Its file.
        project: The :class:`augplat.projects.launch.Project` whose entry points run the steps
            (default: this repository).
        env_manager: local | uv | virtualenv | conda (default: the definition's).
        tracking_uri: MLflow tracking URI.
        rerun: Launch every step even when a finished run could be reused.
        reporter: Progress messages.

    Raises:
        ConfigError: A bad definition or parameter, found before anything is launched.
        augplat.projects.launch.StepFailed: A step failed; the pipeline run ends FAILED.
    """
    from augplat import tracking
    from augplat.projects.launch import absolute_store_uri, code_version, entry_points, find_project

    project = project or find_project()
    points = entry_points(project)
    check_definition(spec, path, points)
    uri = absolute_store_uri(tracking.resolve_tracking_uri(tracking_uri))
    code = code_version(project)
    run_tags = {tag.KIND: tag.KIND_PIPELINE, tag.PIPELINE: spec.name}
    name = f"pipeline-{spec.name}"
    with tracking.open_run(spec.experiment_name, name, tags=run_tags, tracking_uri=uri) as parent:
        for var in ("MLFLOW_RUN_ID", "AUGPLAT_RUN_TAGS"):  # adopted (or not): explicit ids only
            os.environ.pop(var, None)
        ctx = _Context(
            spec,
            path,
            parent.experiment_name(),
            points=points,
            project=project,
            code=code,
            env_manager=env_manager or spec.env_manager,
            tracking_uri=uri,
            store=tracking.store_of(parent),
            experiment_id=parent.experiment_id,
            parent_run_id=parent.run_id,
            rerun=rerun,
            reporter=reporter or Reporter(),
        )
        _run_steps(ctx, parent)
    return PipelineResult(spec.name, parent.run_id, ctx.experiment, list(ctx.done.values()))


def _run_steps(ctx: _Context, parent) -> None:
    """Run (or reuse) each step in order, recording each on the pipeline run ``parent``."""
    import yaml

    spec = ctx.spec
    parent.log_params({"pipeline": spec.name, "code_version": ctx.code})
    resolved = yaml.safe_dump(spec.model_dump(mode="json", exclude_none=True), sort_keys=False)
    parent.log_text(resolved, "pipeline.yaml")  # with the --set overrides applied
    for step in STEPS:
        if spec.step(step) is not None:
            outcome = ctx.done[step] = _run_step(ctx, step)
            parent.set_tags(
                {
                    f"{tag.STEP_PREFIX}{step}": outcome.run_id,
                    f"{tag.REUSED_PREFIX}{step}": str(outcome.reused).lower(),
                }
            )
    rows = [vars(o) for o in ctx.done.values()]
    parent.log_text(json.dumps(rows, indent=2), "pipeline/steps.json")
