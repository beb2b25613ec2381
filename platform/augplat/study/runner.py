"""Run a study end to end: search → final grid of arms × seeds × fractions → the verdict.

How to run::

    augplat study digits --trials 8
    augplat study digits --trials 20 --resume          # continue to 20 finished trials
    augplat study fer --trials 50 --workers 2          # two processes, one journal storage

Flow: the data of each fraction and its generator (trained or reused) → the search on the
largest fraction (shared, or one per arm with equal trials) → every final cell
(:mod:`augplat.study.final`, resumable cell by cell) → the verdict from the cells alone
(:mod:`augplat.study.verdict`, the statistics of ``augplat compare``) → printed, written into
the parent run's description, tags and ``report.md`` / ``report.html``.

The parent MLflow run's id is stored in the Optuna study (user attribute), so a resumed study
and every worker log under the same parent, linked by id, never through ambient state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augplat.errors import ConfigError
from augplat.runtime.progress import MessagesOnly, Reporter
from augplat.study import optuna_backend as ob
from augplat.study import publish
from augplat.study.spec import StudySpec
from augplat.study.storage import (
    check_storage_url,
    default_storage_path,
    fail_stale_trials,
    open_storage,
)
from augplat.tracking import tags as tag

PARENT_ATTR = "mlflow_parent_run_id"
TRACKING_VAR = "MLFLOW_TRACKING_URI"
PROJECT_RUN_VAR = "MLFLOW_RUN_ID"


@dataclass
class StudyResult:
    """Summary of a finished study (all of it is also in the parent MLflow run)."""

    name: str
    parent_run_id: str
    best_value: float
    best_params: dict[str, Any]
    best_trial: int
    counts: dict[str, int]
    final: list[dict[str, Any]] = field(default_factory=list)
    verdict: Any = None  # augplat.study.verdict.StudyVerdict
    arms: dict[str, Any] = field(default_factory=dict)
    baseline: str = ""
    notes: list[str] = field(default_factory=list)


def _end_stale_run(tracking_uri: str | None):
    def on_stale(study, frozen) -> None:
        from augplat import tracking

        run_id = frozen.user_attrs.get("mlflow_run_id")
        if run_id:
            logger = tracking.connect(tracking_uri).logger(run_id)
            logger.set_tags({tag.TRIAL_STATE: "FAIL"})
            logger.end("FAILED")

    return on_stale


def _open_study(spec: StudySpec, storage_url, resume: bool, fresh: bool, tracking_uri):
    import optuna

    from augplat import tracking

    # An unreachable tracking server must fail before the storage (a journal file) exists.
    tracking.check_reachable(tracking.resolve_tracking_uri(tracking_uri))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(storage_url, spec.name, on_stale=_end_stale_run(tracking_uri))
    exists = spec.name in optuna.study.get_all_study_names(storage)
    if exists and fresh:
        optuna.delete_study(study_name=spec.name, storage=storage)
        exists = False
    if exists and not resume:
        where = tracking.redact_uri(storage_url) if storage_url else default_storage_path(spec.name)
        raise ConfigError(
            f"study '{spec.name}' already exists in {where}: --resume continues it, "
            "--fresh starts it over"
        )
    return ob.load_or_create(spec, storage)


def _check_inputs(spec: StudySpec) -> None:
    """Fail on bad data or model names before any run or trial exists."""
    from augplat.classify.backbones import BACKBONES
    from augplat.data import load_dataset

    base = spec.trial_config({})
    load_dataset(base.data)
    models = spec.space["model"].choices if "model" in spec.space else [base.model]
    for name in models:
        BACKBONES.get(str(name))


def _parent(study, spec: StudySpec, spec_path: Path, tracking_uri, n_trials: int, adopt, sets):
    from augplat import tracking

    run_id = study.user_attrs.get(PARENT_ATTR)
    if run_id:
        return tracking.reopen_run(run_id, tracking_uri)
    if adopt:  # under `mlflow run`: the project's run becomes the parent, and only the parent
        os.environ[PROJECT_RUN_VAR] = adopt
    try:
        logger = tracking.start_run(
            spec.experiment_name,
            f"study-{spec.name}",
            tags={tag.KIND: tag.KIND_STUDY, tag.STUDY: spec.name},
            tracking_uri=tracking_uri,
        )
    finally:
        os.environ.pop(PROJECT_RUN_VAR, None)
    study.set_user_attr(PARENT_ATTR, logger.run_id)
    logger.log_params(
        {
            "study": spec.model_dump(mode="json", exclude={"space"}),
            "trials_requested": n_trials,
            **({"study_set": list(sets)} if sets else {}),
        }
    )
    logger.log_text(spec_path.read_text(encoding="utf-8"), "study.yaml")
    return logger


def _spawn_workers(n: int, spec_path: Path, args: dict[str, Any]) -> list[subprocess.Popen]:
    """Extra worker processes on this host sharing the storage (they skip the final stage)."""
    cmd = [
        sys.executable,
        "-m",
        "augplat",
        "study",
        str(spec_path),
        "--worker",
        "--trials",
        str(args["trials"]),
        *(part for item in args.get("sets", ()) for part in ("--set", item)),
    ]
    env = dict(os.environ)
    # Through the environment, not argv: either URL may hold a password (`ps` shows argv).
    for flag, var in (("storage", "AUGPLAT_STUDY_STORAGE"), ("tracking_uri", TRACKING_VAR)):
        if args.get(flag):
            env[var] = str(args[flag])
    return [subprocess.Popen(cmd, env=env) for _ in range(n)]


def _search_spec(spec: StudySpec, inputs, reporter, tracking_uri, worker: bool) -> StudySpec:
    """The spec the search runs: data at the largest fraction, its generator named."""
    from augplat.study.generator import ensure_generator

    top = spec.final.fractions[-1]
    train = {**spec.train, "data": inputs.data(top)}
    search = spec.model_copy(update={"train": train})
    ensure_generator(search, tracking_uri, None if worker else MessagesOnly(reporter))
    if search.train.get("generator") and not spec.final.generator_per_seed:
        inputs.remember_generator(top, search.train["generator"])
    return search


def _require_generator_source(spec: StudySpec, may_use: bool) -> None:
    if may_use and not spec.train.get("generator") and spec.gan is None:
        raise ConfigError(
            f"study '{spec.name}': an arm or the search may use GAN augmentation but names no "
            "generator; set train.generator to a GAN run id, or add a `gan:` section (e.g. "
            "`gan: {method: stargan}`) so the study trains one first"
        )


def _check_backend(spec, backend: str, workers: int, worker: bool, storage, address) -> None:
    """Option combinations that cannot work, before anything starts."""
    if backend == "ray":
        from augplat.study.ray_backend import require_ray

        require_ray()
        if workers > 1 or worker:
            raise ConfigError("--workers is for the optuna backend; Ray places the trials itself")
    elif address:
        raise ConfigError("--address is for the ray backend (--backend ray)")
    if workers > 1 and storage and storage.startswith("sqlite"):
        raise ConfigError("--workers needs a journal file or a server database, not SQLite")
    if workers > 1 and spec.final.tune == "per-arm":
        raise ConfigError(
            "--workers runs one shared search; final.tune per-arm runs in one process"
        )


def _result(spec, study, parent, plans, grid, verdict, baseline) -> StudyResult:
    complete = any(t.state.name == "COMPLETE" for t in study.trials)
    rows = []
    for cell in grid.cells():
        rows.append({"arm": cell.arm, "seed": cell.seed, "fraction": cell.fraction,
                     "run_id": grid.done.get(cell.key)})  # fmt: skip
    return StudyResult(
        name=spec.name,
        parent_run_id=parent.run_id,
        best_value=study.best_value if complete else float("nan"),
        best_params=dict(study.best_params) if complete else {},
        best_trial=study.best_trial.number if complete else -1,
        counts=ob.count_states(study),
        final=rows,
        verdict=verdict,
        arms={name: p.params for name, p in plans.items()},
        baseline=baseline,
        notes=publish.same_settings(plans),
    )


def run_study(
    spec: StudySpec,
    spec_path: Path,
    *,
    trials: int | None = None,
    resume: bool = False,
    fresh: bool = False,
    workers: int = 1,
    storage: str | None = None,
    tracking_uri: str | None = None,
    worker: bool = False,
    reporter: Reporter | None = None,
    backend: str | None = None,
    address: str | None = None,
    sets: list[str] | tuple[str, ...] = (),
) -> StudyResult | None:
    """Search, run the final grid of arms, and give the verdict; everything tracked in MLflow.

    Args:
        spec: The validated study definition.
        spec_path: Its file (logged to the parent run; workers re-read it).
        trials: Finished trials wanted in total, per search (default: the spec's).
        resume: Continue an existing study (finished trials and cells are kept).
        fresh: Delete an existing study of that name first.
        workers: Processes on this host (needs a journal or RDB storage, not SQLite).
        storage: Optuna storage URL or journal file (default: a journal in the data home).
        tracking_uri: MLflow tracking URI.
        worker: Internal: only run trials of an existing study (spawned by ``workers``).
        reporter: Progress reporter.
        backend: ``optuna`` or ``ray`` (default: the spec's).
        address: Ray cluster to join (ray backend; default a private local instance).
        sets: The ``--set`` items ``spec`` was loaded with (workers load it the same way; the
            parent run records them as ``study_set``).
    """
    from augplat.study.arms import may_use_generator
    from augplat.study.final import FinalGrid
    from augplat.study.final_inputs import FinalInputs
    from augplat.study.tuning import SearchContext, tune
    from augplat.study.verdict import study_verdict

    reporter = reporter or Reporter()
    n_trials = trials or spec.trials
    backend = backend or spec.backend
    # Only the parent may adopt an MLflow Projects run: generators, expansions, workers and
    # cells made before or after it get runs of their own.
    adopt = os.environ.pop(PROJECT_RUN_VAR, None)
    _check_backend(spec, backend, workers, worker, storage, address)
    check_storage_url(storage)  # before generators are trained, not after
    from augplat import tracking

    tracking.check_reachable(tracking.resolve_tracking_uri(tracking_uri))
    may_use = may_use_generator(spec)
    _require_generator_source(spec, may_use)
    arms, baseline = spec.final.resolved_arms(may_use)
    inputs = FinalInputs(spec, tracking_uri, reporter)
    search_spec = _search_spec(spec, inputs, reporter, tracking_uri, worker)
    _check_inputs(search_spec)
    # the search spec from here on: its settings name the generator a `train.aug: gan` needs
    study = _open_study(search_spec, storage, resume or worker, fresh and not worker, tracking_uri)
    if worker:
        objective = ob.Objective(search_spec, study.user_attrs[PARENT_ATTR], tracking_uri)
        ob.optimize(study, objective, n_trials, spec.timeout, reporter)
        return None
    parent = _parent(study, spec, spec_path, tracking_uri, n_trials, adopt, sets)
    parent.set_tags({tag.BASELINE: baseline, tag.TUNE: spec.final.tune})
    stale = fail_stale_trials(study, _end_stale_run(tracking_uri))
    if stale:
        reporter.message(f"marked {len(stale)} trial(s) left running by a dead process as failed")
    ctx = SearchContext(
        search_spec, parent, n_trials, storage, fresh, tracking_uri, reporter, arms, backend,
        address,
    )  # fmt: skip
    with tracking.open_run(logger=parent):  # crashed: FAILED; Ctrl-C: KILLED
        extra = []
        if backend == "optuna" and spec.final.tune == "shared":
            storage_arg = storage or str(default_storage_path(spec.name))
            args = {"trials": n_trials, "storage": storage_arg, "tracking_uri": tracking_uri}
            args["sets"] = list(sets)
            extra = _spawn_workers(workers - 1, spec_path, args)
        plans = tune(ctx, study, extra)
        grid = FinalGrid(search_spec, parent, plans, inputs, tracking_uri, reporter)
        grid.run()
        verdict = study_verdict(spec, parent.run_id, baseline, tracking_uri)
        publish.summarise(spec, study, parent, plans, grid, verdict)
        where = (spec_path, storage, backend, tracking_uri)
        publish.publish(search_spec, parent, plans, inputs, verdict, baseline, n_trials, *where)
    return _result(spec, study, parent, plans, grid, verdict, baseline)
