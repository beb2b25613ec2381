"""The search stage of a study: one shared search, or one search per arm with equal budgets.

How it works::

    plans = tune(ctx, study)         # → {arm: ArmPlan(params, trials)}

``shared``: one Optuna (or Ray Tune) search over the whole space; every arm trains the winner's
settings with its own overrides. ``per-arm``: every non-ensemble arm gets its own Optuna study
(``<study>.<arm>`` in the same storage) with the same number of trials, in the space where the
arm's settings are fixed (:func:`augplat.study.arms.arm_search_spec`); each arm then trains its
own winner. Trials of every search are children of the study's parent run, tagged with their arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from augplat.errors import ConfigError
from augplat.runtime.progress import Reporter
from augplat.study import optuna_backend as ob
from augplat.study.arms import arm_search_spec, shared_plans
from augplat.study.final import ArmPlan
from augplat.tracking import tags as tag


@dataclass
class SearchContext:
    """What a search needs besides the spec."""

    spec: Any  # the search spec (data at the largest fraction, generator set)
    parent: Any
    n_trials: int
    storage: str | None
    fresh: bool
    tracking_uri: str | None
    reporter: Reporter
    arms: dict[str, dict[str, Any]]
    backend: str = "optuna"
    address: str | None = None


def winner(study) -> tuple[dict[str, Any], int]:
    """The best trial's params and the number of finished trials (an error when none)."""
    if not any(t.state.name == "COMPLETE" for t in study.trials):
        raise ConfigError(f"study '{study.study_name}' has no completed trial to evaluate")
    return dict(study.best_params), ob.finished(study)


def _ray_search(ctx: SearchContext, spec, study) -> None:
    """Ray Tune runs the missing trials; they join the Optuna study so resume and report match."""
    from augplat.study import ray_backend

    ctx.parent.set_tags({tag.BACKEND: "ray"})
    missing = ctx.n_trials - ob.finished(study)
    if missing <= 0:
        return
    rows = ray_backend.run_ray_search(
        spec,
        n_trials=missing,
        parent_run_id=ctx.parent.run_id,
        tracking_uri=ctx.tracking_uri,
        address=ctx.address,
        reporter=ctx.reporter,
        previous=study.trials,
    )
    ray_backend.to_optuna_study(spec, rows, study=study)


def search(ctx: SearchContext, spec, study, extra_workers=None) -> None:
    """Run ``spec``'s missing trials into ``study`` (Optuna in-process, or Ray Tune)."""
    if ctx.backend == "ray":
        _ray_search(ctx, spec, study)
        return
    objective = ob.Objective(spec, ctx.parent.run_id, ctx.tracking_uri)
    ob.optimize(study, objective, ctx.n_trials, spec.timeout, ctx.reporter)
    for proc in extra_workers or ():
        proc.wait()


def _arm_study(ctx: SearchContext, sub):
    """The Optuna study of one arm, in the main study's storage."""
    import optuna

    from augplat.study.storage import default_storage_path, open_storage

    url = ctx.storage or str(default_storage_path(ctx.spec.name))
    storage = open_storage(url, sub.name)
    if ctx.fresh and sub.name in optuna.study.get_all_study_names(storage):
        optuna.delete_study(study_name=sub.name, storage=storage)
    return ob.load_or_create(sub, storage)


def tune(ctx: SearchContext, study, extra_workers=None) -> dict[str, ArmPlan]:
    """Search (shared or per arm); returns every arm's plan."""
    if ctx.spec.final.tune == "shared":
        search(ctx, ctx.spec, study, extra_workers)
        params, trials = winner(study)
        return shared_plans(ctx.arms, params, ctx.spec.train, trials)
    plans: dict[str, ArmPlan] = {}
    for name, overrides in ctx.arms.items():
        if "ensemble" in overrides:
            plans[name] = ArmPlan(name, overrides, {}, 0)
            continue
        sub = arm_search_spec(ctx.spec, name, overrides)
        if not sub.space:
            ctx.reporter.message(f"arm {name}: every searched setting is fixed: nothing to tune")
            plans[name] = ArmPlan(name, overrides, dict(sub.train), 0)
            continue
        ctx.reporter.message(f"arm {name}: its own search, {ctx.n_trials} trials")
        arm_study = _arm_study(ctx, sub)
        search(ctx, sub, arm_study)
        params, trials = winner(arm_study)
        plans[name] = ArmPlan(name, overrides, {**sub.train, **params}, trials)
        ctx.parent.log_params({f"best.{name}.{k}": v for k, v in params.items()})
    return plans
