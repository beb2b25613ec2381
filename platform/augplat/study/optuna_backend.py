"""The Optuna backend: samplers, pruners, the trial objective and the optimisation loop.

Each trial is one child MLflow run of the study's parent run, linked by explicit run id. The
epoch hook feeds the validation metric to ``trial.report`` so pruners really stop trials; a
pruned trial's run ends KILLED and is tagged ``augplat.trial_state=PRUNED``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from augplat.runtime.progress import Reporter
from augplat.study.space import suggest_params
from augplat.study.spec import StudySpec
from augplat.study.storage import beat, mark_owner
from augplat.tracking import tags as tag

log = logging.getLogger("augplat")

FINISHED_STATES = ("COMPLETE", "PRUNED")


def make_sampler(spec: StudySpec):
    """The Optuna sampler named in the spec, seeded."""
    import optuna

    s = spec.sampler
    if s.name == "random":
        return optuna.samplers.RandomSampler(seed=s.seed)
    if s.name == "cmaes":
        return optuna.samplers.CmaEsSampler(
            seed=s.seed, n_startup_trials=s.n_startup_trials, warn_independent_sampling=False
        )
    if s.name == "grid":
        grid = {name: p.grid_values() for name, p in spec.space.items()}
        return optuna.samplers.GridSampler(grid, seed=s.seed)
    return optuna.samplers.TPESampler(seed=s.seed, n_startup_trials=s.n_startup_trials)


def make_pruner(spec: StudySpec):
    """The Optuna pruner named in the spec; resources are epochs."""
    import optuna

    p = spec.pruner
    epochs = int(spec.trial_config({}).epochs)
    if p.name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps
        )
    if p.name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=p.min_resource, max_resource=epochs, reduction_factor=p.reduction_factor
        )
    if p.name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=p.min_resource, reduction_factor=p.reduction_factor
        )
    return optuna.pruners.NopPruner()


def load_or_create(spec, storage):
    """The Optuna study named ``spec.name`` in ``storage`` (created when missing), with the
    spec's direction, sampler and pruner: one place for the main study and per-arm studies."""
    import optuna

    return optuna.create_study(
        storage=storage,
        study_name=spec.name,
        direction=spec.objective.direction,
        sampler=make_sampler(spec),
        pruner=make_pruner(spec),
        load_if_exists=True,
    )


def _pruned_error():
    import optuna

    class TrialPrunedRun(optuna.TrialPruned):
        """Pruned by the study; ``run_status`` tells train_classifier how to end the run."""

        run_status = "KILLED"

    return TrialPrunedRun


class _QuietReporter(Reporter):
    """Trials log their epochs at debug level: the study's own progress line is the signal."""

    def end_epoch(self, epoch: int, metrics) -> None:
        log.debug("  epoch %d %s", epoch, {k: round(v, 4) for k, v in metrics.items()})

    def message(self, text: str) -> None:
        log.debug("  %s", text)


class Objective:
    """Train one trial's configuration; its value is the best value of the objective metric,
    which is also what selected its checkpoint (``monitor`` = the objective metric)."""

    def __init__(self, spec: StudySpec, parent_run_id: str, tracking_uri: str | None):
        self.spec = spec
        self.parent_run_id = parent_run_id
        self.tracking_uri = tracking_uri

    def _tag(self, run_id: str, state: str) -> None:
        from augplat import tracking

        tracking.connect(self.tracking_uri).logger(run_id).set_tags({tag.TRIAL_STATE: state})

    def __call__(self, trial) -> float:
        from augplat.classify.finetune import train_classifier

        mark_owner(trial)
        params = suggest_params(trial, self.spec.space)
        cfg = self.spec.trial_config(
            params,
            run_name=f"{self.spec.name}-trial-{trial.number}",
            test_eval=False,
            log_checkpoints=False,
            log_model=self.spec.log_trial_models,
        )
        metric, pruned_error = self.spec.objective.metric, _pruned_error()

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            trial.report(metrics[metric], epoch)
            beat(trial)
            if trial.should_prune():
                raise pruned_error(f"pruned at epoch {epoch}")

        tags = {tag.STUDY: self.spec.name, tag.TRIAL: str(trial.number)}
        try:
            result = train_classifier(
                cfg,
                tracking_uri=self.tracking_uri,
                keep_checkpoints=self.spec.keep_trial_checkpoints,
                reporter=_QuietReporter(),
                on_epoch=on_epoch,
                parent_run_id=self.parent_run_id,
                tags=tags,
                on_start=lambda run_id: trial.set_user_attr("mlflow_run_id", run_id),
            )
        except pruned_error:
            self._tag(trial.user_attrs["mlflow_run_id"], "PRUNED")
            raise
        except Exception:
            if "mlflow_run_id" in trial.user_attrs:
                self._tag(trial.user_attrs["mlflow_run_id"], "FAIL")
            raise
        self._tag(result.run_id, "COMPLETE")
        trial.set_user_attr("best_epoch", result.best_epoch)
        return objective_value(result, metric)


def objective_value(result, metric: str) -> float:
    """A finished trial's value: ``metric`` at the epoch whose checkpoint the trial kept.

    The trial's config monitors the objective metric (:meth:`StudySpec.trial_config`), so this
    is also the best value of that metric; reading it from the history by name makes a config
    that monitored anything else fail loudly instead of ranking on the wrong metric.
    """
    for row in result.history:
        if int(row["epoch"]) == int(result.best_epoch):
            value = float(row[metric])
            if abs(value - float(result.best_score)) > 1e-12 * max(1.0, abs(value)):
                raise RuntimeError(
                    f"trial kept the checkpoint by another metric than the objective {metric}"
                )
            return value
    raise RuntimeError(f"no validated epoch {result.best_epoch} in the trial's history")


def count_states(study) -> dict[str, int]:
    """Trials per state name (COMPLETE, PRUNED, FAIL, RUNNING, WAITING)."""
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def finished(study) -> int:
    """Trials that count towards the budget: completed or pruned."""
    counts = count_states(study)
    return sum(counts.get(s, 0) for s in FINISHED_STATES)


def optimize(
    study,
    objective: Callable[[Any], float],
    n_trials: int,
    timeout: float | None,
    reporter: Reporter,
) -> None:
    """Run trials one at a time until ``n_trials`` have finished in the whole study.

    Counting finished trials in the storage (not trials run by this process) is what makes
    ``--resume`` and several workers add up to the requested total. Failures do not count
    towards the budget, but a run of consecutive failures stops the search.
    """
    started, failures = time.monotonic(), 0
    while finished(study) < n_trials:
        if timeout is not None and time.monotonic() - started > timeout:
            reporter.message(f"timeout of {timeout:.0f}s reached")
            return
        study.optimize(objective, n_trials=1, catch=(RuntimeError,), gc_after_trial=True)
        last = study.trials[-1] if study.trials else None
        failures = failures + 1 if last is not None and last.state.name == "FAIL" else 0
        if failures >= 3:
            reporter.message("3 trials failed in a row: stopping the search")
            return
        _progress(study, n_trials, started, reporter)


def _progress(study, n_trials: int, started: float, reporter: Reporter) -> None:
    done = finished(study)
    counts = count_states(study)
    elapsed = time.monotonic() - started
    eta = elapsed / max(done, 1) * max(n_trials - done, 0)
    try:
        best = f"best {study.best_value:.4f} (trial {study.best_trial.number})"
    except ValueError:
        best = "no completed trial yet"
    reporter.message(
        f"{done}/{n_trials} finished ({counts.get('COMPLETE', 0)} complete, "
        f"{counts.get('PRUNED', 0)} pruned, {counts.get('FAIL', 0)} failed) | {best} | "
        f"ETA {eta:.0f}s"
    )
