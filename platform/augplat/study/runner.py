"""Run a study end to end: parent run → search → final multi-seed evaluation → report.

How to run::

    augplat study digits --trials 8
    augplat study digits --trials 20 --resume          # continue to 20 finished trials
    augplat study fer --trials 50 --workers 2          # two processes, one journal storage

The parent MLflow run's id is stored in the Optuna study (user attribute), so a resumed study
and every worker log under the same parent, linked by id, never through ambient state.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augplat.errors import ConfigError
from augplat.progress import Reporter
from augplat.study import optuna_backend as ob
from augplat.study import report as study_report
from augplat.study.spec import StudySpec
from augplat.study.storage import default_storage_path, fail_stale_trials, open_storage

PARENT_ATTR = "mlflow_parent_run_id"
TRACKING_VAR = "MLFLOW_TRACKING_URI"


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


def _end_stale_run(tracking_uri: str | None):
    def on_stale(study, frozen) -> None:
        from augplat import tracking

        run_id = frozen.user_attrs.get("mlflow_run_id")
        if run_id:
            logger = tracking.RunLogger(tracking.client(tracking_uri), run_id)
            logger.set_tags({"augplat.trial_state": "FAIL"})
            logger.end("FAILED")

    return on_stale


def _open_study(spec: StudySpec, storage_url, resume: bool, fresh: bool, tracking_uri):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(storage_url, spec.name, on_stale=_end_stale_run(tracking_uri))
    exists = spec.name in optuna.study.get_all_study_names(storage)
    if exists and fresh:
        optuna.delete_study(study_name=spec.name, storage=storage)
        exists = False
    if exists and not resume:
        where = storage_url or default_storage_path(spec.name)
        raise ConfigError(
            f"study '{spec.name}' already exists in {where}: --resume continues it, "
            "--fresh starts it over"
        )
    return optuna.create_study(
        storage=storage,
        study_name=spec.name,
        direction=spec.objective.direction,
        sampler=ob.make_sampler(spec),
        pruner=ob.make_pruner(spec),
        load_if_exists=True,
    )


def _check_inputs(spec: StudySpec) -> None:
    """Fail on bad data or model names before any run or trial exists."""
    from augplat.classify.backbones import BACKBONES
    from augplat.data import load_dataset

    base = spec.trial_config({})
    load_dataset(base.data)
    models = spec.space["model"].choices if "model" in spec.space else [base.model]
    for name in models:
        BACKBONES.get(str(name))


def _parent(study, spec: StudySpec, spec_path: Path, tracking_uri, n_trials: int):
    from augplat import tracking

    run_id = study.user_attrs.get(PARENT_ATTR)
    if run_id:
        return tracking.reopen_run(run_id, tracking_uri)
    logger = tracking.start_run(
        spec.experiment_name,
        f"study-{spec.name}",
        tags={"augplat.kind": "study", "augplat.study": spec.name},
        tracking_uri=tracking_uri,
    )
    study.set_user_attr(PARENT_ATTR, logger.run_id)
    logger.log_params(
        {"study": spec.model_dump(mode="json", exclude={"space"}), "trials_requested": n_trials}
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
    ]
    env = dict(os.environ)
    # Through the environment, not argv: either URL may hold a password (`ps` shows argv).
    for flag, var in (("storage", "AUGPLAT_STUDY_STORAGE"), ("tracking_uri", TRACKING_VAR)):
        if args.get(flag):
            env[var] = str(args[flag])
    return [subprocess.Popen(cmd, env=env) for _ in range(n)]


def _final_runs(spec: StudySpec, study, parent, tracking_uri, reporter) -> list[dict[str, Any]]:
    """Retrain the best configuration once per final seed; each run is tested once."""
    from augplat.classify.finetune import train_classifier

    rows = []
    for seed in spec.final.seeds:
        extra = {"seed": seed, "run_name": f"{spec.name}-final-seed{seed}"}
        if spec.final.epochs:
            extra["epochs"] = spec.final.epochs
        cfg = spec.trial_config(study.best_params, **extra)
        reporter.message(f"final run, seed {seed}: {study.best_params}")
        result = train_classifier(
            cfg,
            tracking_uri=tracking_uri,
            reporter=Reporter(),
            parent_run_id=parent.run_id,
            tags={"augplat.study": spec.name, "augplat.final": "true"},
        )
        rows.append(
            {
                "seed": seed,
                "run_id": result.run_id,
                **{
                    k: v
                    for k, v in result.test.items()
                    if k.startswith("test_") and "_acc_" not in k
                },
            }
        )
    return rows


def _summarise(spec, study, parent, final_rows) -> None:
    from augplat.tracking import scratch_dir

    counts = ob.count_states(study)
    metrics = {
        "best_value": study.best_value,
        "best_trial": study.best_trial.number,
        **{f"trials_{k.lower()}": v for k, v in counts.items()},
    }
    for key in ("test_top1", "test_macro_f1"):
        values = [row[key] for row in final_rows if key in row]
        if values:
            metrics[f"final_{key}_mean"] = statistics.fmean(values)
            metrics[f"final_{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    parent.log_metrics(metrics)
    with scratch_dir() as out:
        study_report.trials_table(study, out / "trials.csv")
        study_report.best_params(study, out / "best_params.json")
        if final_rows:
            import csv

            with open(out / "final.csv", "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(final_rows[0]))
                writer.writeheader()
                writer.writerows(final_rows)
        study_report.study_plots(study, out)
        parent.log_artifact(out, "study")
    parent.log_params({f"best.{k}": v for k, v in study.best_params.items()})


def _ray_search(spec, study, parent, n_trials: int, tracking_uri, address, reporter) -> None:
    """Ray Tune runs the missing trials; they join the Optuna study so resume and report match."""
    from augplat.study import ray_backend

    parent.set_tags({"augplat.backend": "ray"})
    missing = n_trials - ob.finished(study)
    if missing <= 0:
        return
    rows = ray_backend.run_ray_search(
        spec,
        n_trials=missing,
        parent_run_id=parent.run_id,
        tracking_uri=tracking_uri,
        address=address,
        reporter=reporter,
        previous=study.trials,
    )
    ray_backend.to_optuna_study(spec, rows, study=study)


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
) -> StudyResult | None:
    """Search, then retrain the best config per final seed; everything tracked in MLflow.

    Args:
        spec: The validated study definition.
        spec_path: Its file (logged to the parent run; workers re-read it).
        trials: Finished trials wanted in total (default: the spec's).
        resume: Continue an existing study.
        fresh: Delete an existing study of that name first.
        workers: Processes on this host (needs a journal or RDB storage, not SQLite).
        storage: Optuna storage URL or journal file (default: a journal in the data home).
        tracking_uri: MLflow tracking URI.
        worker: Internal: only run trials of an existing study (spawned by ``workers``).
        reporter: Progress reporter.
        backend: ``optuna`` or ``ray`` (default: the spec's).
        address: Ray cluster to join (ray backend; default a private local instance).
    """
    reporter = reporter or Reporter()
    n_trials = trials or spec.trials
    backend = backend or spec.backend
    if backend == "ray":
        from augplat.study.ray_backend import require_ray

        require_ray()
        if workers > 1 or worker:
            raise ConfigError("--workers is for the optuna backend; Ray places the trials itself")
    elif address:
        raise ConfigError("--address is for the ray backend (--backend ray)")
    if workers > 1 and storage and storage.startswith("sqlite"):
        raise ConfigError("--workers needs a journal file or a server database, not SQLite")
    from augplat.study.generator import ensure_generator

    ensure_generator(spec, tracking_uri, None if worker else reporter)
    _check_inputs(spec)
    study = _open_study(spec, storage, resume or worker, fresh and not worker, tracking_uri)
    objective = ob.Objective(spec, "", tracking_uri)
    if worker:
        objective.parent_run_id = study.user_attrs[PARENT_ATTR]
        ob.optimize(study, objective, n_trials, spec.timeout, reporter)
        return None
    parent = _parent(study, spec, spec_path, tracking_uri, n_trials)
    objective.parent_run_id = parent.run_id
    stale = fail_stale_trials(study, _end_stale_run(tracking_uri))
    if stale:
        reporter.message(f"marked {len(stale)} trial(s) left running by a dead process as failed")
    try:
        if backend == "ray":
            _ray_search(spec, study, parent, n_trials, tracking_uri, address, reporter)
        else:
            extra = _spawn_workers(
                workers - 1,
                spec_path,
                {
                    "trials": n_trials,
                    "storage": storage or str(default_storage_path(spec.name)),
                    "tracking_uri": tracking_uri,
                },
            )
            ob.optimize(study, objective, n_trials, spec.timeout, reporter)
            for proc in extra:
                proc.wait()
        if not any(t.state.name == "COMPLETE" for t in study.trials):
            raise ConfigError(f"study '{spec.name}' has no completed trial to evaluate")
        final_rows = _final_runs(spec, study, parent, tracking_uri, reporter)
        _summarise(spec, study, parent, final_rows)
    except BaseException:
        parent.end("KILLED")
        raise
    parent.end("FINISHED")
    return StudyResult(
        name=spec.name,
        parent_run_id=parent.run_id,
        best_value=study.best_value,
        best_params=study.best_params,
        best_trial=study.best_trial.number,
        counts=ob.count_states(study),
        final=final_rows,
    )
