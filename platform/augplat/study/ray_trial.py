"""One Ray Tune trial: what runs on a Ray worker, and how the driver settles it afterwards.

Tune runs :func:`train_trial` in a worker process whose cwd is the trial's directory, so
everything arrives from the driver as absolute paths in ``ctx``. Each epoch reports the
validation metric (for ASHA), the best value so far (for the searcher) and the epoch. A trial
Tune stops at a report ends its run KILLED, tagged PRUNED; a trial torn down between reports
cannot, so once Tune is done the driver settles every trial (:func:`collect_rows`): Tune says
which errored, MLflow says which finished, and the rest were pruned.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from augplat.study.spec import StudySpec
from augplat.tracking import tags as tag

log = logging.getLogger("augplat")

TRIAL_KEY = "augplat_trial"  # constant config entry: the trial number, not a searched param
OBJECTIVE_KEY = "augplat_objective"  # best value so far: what the searcher learns from


class _StoppedByScheduler(SystemExit):
    """Tune asked the trial to stop; exit code 0 is Ray's graceful end of a function trainable."""

    run_status = "KILLED"  # how train_classifier ends the MLflow run


def train_trial(config: dict[str, Any], ctx: dict[str, Any]) -> None:
    """The Tune function trainable: one trial = one child run of the study's parent run.

    Args:
        config: Tune's trial config: the suggested params plus :data:`TRIAL_KEY`.
        ctx: From the driver: ``spec`` (JSON), ``parent_run_id``, ``tracking_uri``, ``home``.
    """
    from ray import tune

    from augplat.classify.finetune import train_classifier
    from augplat.study.optuna_backend import _QuietReporter

    os.environ.pop("MLFLOW_RUN_ID", None)  # never adopt an ambient (mlflow run) run
    os.environ["AUGPLAT_HOME"] = ctx["home"]
    spec = StudySpec.model_validate(ctx["spec"])
    number = int(config[TRIAL_KEY])
    params = {k: v for k, v in config.items() if k in spec.space}
    cfg = spec.trial_config(
        params,
        run_name=f"{spec.name}-trial-{number}",
        test_eval=False,
        log_checkpoints=False,
        log_model=spec.log_trial_models,
    )
    metric, better = spec.objective.metric, (max if spec.objective.direction == "maximize" else min)
    best: list[float] = []
    run_ids: list[str] = []

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        best[:] = [better(best[0], metrics[metric])] if best else [metrics[metric]]
        try:
            tune.report({metric: metrics[metric], OBJECTIVE_KEY: best[0], "epoch": epoch})
        except SystemExit as exc:  # Tune stops a trial by exiting its thread at report time
            raise _StoppedByScheduler(0) from exc

    tags = {tag.STUDY: spec.name, tag.TRIAL: str(number), tag.BACKEND: "ray"}
    try:
        train_classifier(
            cfg,
            tracking_uri=ctx["tracking_uri"],
            reporter=_QuietReporter(),
            on_epoch=on_epoch,
            parent_run_id=ctx["parent_run_id"],
            tags=tags,
            on_start=run_ids.append,
            keep_checkpoints=spec.keep_trial_checkpoints,
        )
    except _StoppedByScheduler:
        _tag_trial(ctx["tracking_uri"], run_ids, "PRUNED")
        raise
    except Exception:
        _tag_trial(ctx["tracking_uri"], run_ids, "FAIL")
        raise
    _tag_trial(ctx["tracking_uri"], run_ids, "COMPLETE")


def _tag_trial(tracking_uri: str, run_ids: list[str], state: str) -> None:
    from augplat import tracking

    if run_ids:
        tracking.connect(tracking_uri).logger(run_ids[0]).set_tags({tag.TRIAL_STATE: state})


def collect_rows(
    spec: StudySpec,
    trials: dict[int, tuple[dict[str, Any], bool]],
    parent_run_id: str,
    tracking_uri: str,
) -> list[dict[str, Any]]:
    """Settle each trial's state from Tune (errors) and MLflow (finished or not); fix its run.

    A trial Tune stopped may have been torn down mid-epoch, before it could end its run: any
    trial run that did not finish and did not error is pruned (tagged PRUNED, ended KILLED).
    """
    from augplat import tracking

    store = tracking.connect(tracking_uri)
    runs = _trial_runs(store, parent_run_id)
    rows = []
    for number in sorted(trials):
        config, errored = trials[number]
        run = runs.get(number)
        status = run.info.status if run is not None else None
        state = "FAIL" if errored or run is None else "COMPLETE"
        if state == "COMPLETE" and status != "FINISHED":
            state = "PRUNED"
        row = {
            "number": number,
            "state": state,
            "value": None,
            "params": {k: v for k, v in config.items() if k in spec.space},
            "mlflow_run_id": run.info.run_id if run is not None else None,
            "best_epoch": None,
            "intermediate_values": {},
            "start": run.info.start_time if run is not None else None,
            "end": run.info.end_time if run is not None else None,
        }
        if run is not None:
            _settle_run(store, run, row, spec)
        rows.append(row)
    return rows


def _trial_runs(store, parent_run_id: str) -> dict[int, Any]:
    exp = store.fetch_run(parent_run_id).info.experiment_id
    found = store.find_runs([exp], parent=parent_run_id, tags={tag.BACKEND: "ray"})
    runs: dict[int, Any] = {}
    for run in sorted(found, key=lambda r: r.info.start_time or 0):
        tags = run.data.tags
        if tag.TRIAL in tags:
            runs[int(tags[tag.TRIAL])] = run  # the latest run of a number wins
    return runs


def _settle_run(store, run, row: dict[str, Any], spec: StudySpec) -> None:
    """Fill the row's values from the run's metric history; make the run's tag and status agree."""
    history = store.metric_history(run.info.run_id, spec.objective.metric)
    values = {int(m.step): float(m.value) for m in sorted(history, key=lambda m: m.timestamp)}
    row["intermediate_values"] = values
    if row["state"] == "COMPLETE" and not values:
        row["state"] = "FAIL"  # finished without a single validated epoch: nothing to rank
    state = row["state"]
    if values and state == "COMPLETE":
        pick = max if spec.objective.direction == "maximize" else min
        best_epoch = pick(sorted(values), key=lambda e: values[e])  # first best, as training
        row["value"], row["best_epoch"] = values[best_epoch], best_epoch
    elif values and state == "PRUNED":
        row["value"] = values[max(values)]  # Optuna's convention: the last reported value
    logger = store.logger(run.info.run_id)
    if run.data.tags.get(tag.TRIAL_STATE) != state:
        logger.set_tags({tag.TRIAL_STATE: state})
    wanted = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}[state]
    if run.info.status != wanted:
        log.debug(
            "trial %s: run %s was %s, ending it %s",
            row["number"],
            run.info.run_id,
            run.info.status,
            wanted,
        )
        logger.end(wanted)
        row["end"] = logger.run().info.end_time
