"""The Ray Tune backend: OptunaSearch proposes, ASHA stops, every trial is a child MLflow run.

How to run::

    pip install -e '.[ray]'
    augplat study digits --backend ray                        # a private Ray instance on 127.0.0.1
    ray start --head --node-ip-address 127.0.0.1 --port 6379  # or join a running cluster
    augplat study digits --backend ray --address 127.0.0.1:6379

Ray's ``OptunaSearch`` runs its Optuna study with a ``NopPruner``, so stopping is the scheduler's
job: ASHA with the study's ``pruner.min_resource`` as grace period, its ``reduction_factor`` and
``max_t`` = the trials' epochs (``pruner.name: none`` runs every trial to the end). Trials use the
same conditional search space (:func:`augplat.study.space.suggest_params`), the same training
call, tags and MLflow structure as the Optuna backend, plus ``augplat.backend=ray``.

Working directories: Ray moves each trial's process into its own trial directory, so everything a
worker needs arrives as an absolute path from the driver: the tracking URI (a relative SQLite
file is made absolute), ``AUGPLAT_HOME`` and Tune's ``storage_path`` (``<home>/ray_results``).
Anything a library still writes relative to the cwd lands in the trial directory, never in the
user's. On a multi-node cluster the workers need the same data home path (shared storage) and a
tracking server; a SQLite tracking file only works on one host.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from augplat.runtime.progress import Reporter
from augplat.study.ray_trial import OBJECTIVE_KEY, TRIAL_KEY, collect_rows, train_trial
from augplat.study.space import ParamSpec, suggest_params
from augplat.study.spec import StudySpec

__all__ = [
    "OBJECTIVE_KEY",
    "TRIAL_KEY",
    "collect_rows",
    "run_ray_search",
    "to_optuna_study",
]

log = logging.getLogger("augplat")

# Ray resolves "127.0.0.1" to the host's routable address unless clusters are off; with this
# flag off a local instance advertises and binds loopback only (read when ray is imported).
_LOOPBACK_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class SearchSpace:
    """Optuna define-by-run function for ``OptunaSearch`` (a class, so Tune can pickle it).

    Returns the trial's number as a constant config entry: Optuna numbers trials 0, 1, ... in
    the order they are asked for, which is the order Tune creates them; ``seeded`` earlier
    trials given to the searcher's study are skipped, ``first_trial`` is where ours start.
    """

    def __init__(self, space: dict[str, ParamSpec], first_trial: int = 0, seeded: int = 0):
        self.space = space
        self.first_trial = first_trial
        self.seeded = seeded

    def __call__(self, trial) -> dict[str, int]:
        suggest_params(trial, self.space)  # Ray captures the suggested values itself
        return {TRIAL_KEY: self.first_trial + trial.number - self.seeded}


def distributions(space: dict[str, ParamSpec]) -> dict[str, Any]:
    """The Optuna distribution :meth:`ParamSpec.suggest` would create, per parameter."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, p in space.items():
        if p.type == "categorical":
            out[name] = CategoricalDistribution(p.choices)
        elif p.type == "int":
            step = int(p.step) if p.step else 1
            out[name] = IntDistribution(int(p.low), int(p.high), step=step, log=p.log)
        else:
            out[name] = FloatDistribution(p.low, p.high, step=p.step, log=p.log)
    return out


def absolute_tracking_uri(uri: str | None) -> str:
    """The resolved tracking URI with a relative SQLite file or local path made absolute."""
    from augplat.tracking import resolve_tracking_uri

    resolved = resolve_tracking_uri(uri)
    base, sep, query = resolved.partition("?")
    scheme = urlsplit(base).scheme
    if scheme == "sqlite" and base.startswith("sqlite:///"):
        path = base[len("sqlite:///") :]
        if path and path != ":memory:" and not path.startswith("/"):
            return f"sqlite:///{Path(path).resolve()}{sep}{query}"
    elif scheme == "file" and not urlsplit(base).netloc:
        path = urlsplit(base).path
        if not path.startswith("/"):
            return Path(path).resolve().as_uri()
    elif scheme == "" or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        return str(Path(resolved).resolve())
    return resolved


def require_ray() -> None:
    """Fail with one clear line when Ray Tune is not installed."""
    import importlib.util

    from augplat.errors import ConfigError

    if importlib.util.find_spec("ray") is None:
        raise ConfigError("the ray backend needs Ray Tune: pip install 'augplat[ray]'")


def _is_loopback(address: str | None) -> bool:
    host = (address or "").removeprefix("ray://").rsplit(":", 1)[0]
    return host in ("127.0.0.1", "localhost", "::1", "[::1]")


def _init_ray(address: str | None, env_vars: dict[str, str]) -> bool:
    """Join ``address`` (or ``RAY_ADDRESS``) or start a private loopback-only instance.

    Returns whether ``ray`` was initialised here (and so must be shut down here).
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None or _is_loopback(address):
        os.environ.setdefault(_LOOPBACK_ONLY_ENV, "0")
    import ray

    if ray.is_initialized():
        return False
    common = {
        "runtime_env": {"env_vars": env_vars},
        "log_to_driver": False,  # trial epochs go to MLflow; errors come back through Tune
        "logging_level": logging.WARNING,
    }
    if address:
        try:
            ray.init(address=address, **common)
        except (ConnectionError, TimeoutError) as exc:
            from augplat.errors import ConfigError

            raise ConfigError(
                f"cannot join the Ray cluster at {address} ({exc}); is it running, and if it uses "
                "token authentication, are RAY_AUTH_MODE=token and its token set?"
            ) from None
    else:
        ray.init(
            address="local",
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            dashboard_host="127.0.0.1",
            **common,
        )
    return True


def _scheduler(spec: StudySpec):
    """ASHA over epochs, or None (FIFO) for ``pruner.name: none``."""
    from ray.tune.schedulers import ASHAScheduler

    if spec.pruner.name == "none":
        return None
    epochs = int(spec.trial_config({}).epochs)
    return ASHAScheduler(
        time_attr="epoch",
        metric=spec.objective.metric,
        mode="max" if spec.objective.direction == "maximize" else "min",
        max_t=epochs,
        grace_period=min(spec.pruner.min_resource, epochs),
        reduction_factor=spec.pruner.reduction_factor,
        stop_last_trials=False,  # a trial reaching max_t finishes its own run (not killed)
    )


def _progress_callback(reporter: Reporter, n_trials: int):
    from ray import tune

    class Progress(tune.Callback):
        """One status line per ended trial (driver side; not pickled with the experiment)."""

        def __init__(self) -> None:
            self.reporter: Reporter | None = reporter
            self.ended = 0

        def __getstate__(self) -> dict[str, Any]:
            return {"reporter": None, "ended": self.ended}

        def _ended(self, trial, how: str) -> None:
            self.ended += 1
            if self.reporter is not None:
                number = trial.config.get(TRIAL_KEY, "?")
                epoch = (trial.last_result or {}).get("epoch", 0)
                self.reporter.message(
                    f"trial {number} {how} after epoch {epoch} ({self.ended}/{n_trials} ended)"
                )

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            self._ended(trial, "ended")  # finished, or stopped by ASHA: settled afterwards

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            self._ended(trial, "failed")

    return Progress()


def _trial_dirname(trial) -> str:
    return f"trial-{trial.config.get(TRIAL_KEY, 'x')}-{trial.trial_id}"


def _searcher(spec: StudySpec, previous: list | None = None):
    """OptunaSearch with the spec's sampler; after ``spec.timeout`` it proposes no new trial.

    Like the Optuna backend, the timeout never interrupts a running trial (Tune's own
    ``time_budget_s`` would stop them all, and they would look pruned), and a resumed study's
    finished trials (``previous``) inform the sampler.
    """
    from ray.tune.search import Searcher
    from ray.tune.search.optuna import OptunaSearch

    from augplat.study.optuna_backend import make_sampler

    class TimedOptunaSearch(OptunaSearch):
        deadline: float | None = None

        def suggest(self, trial_id: str):
            if self.deadline is not None and time.time() > self.deadline:
                return Searcher.FINISHED
            return super().suggest(trial_id)

    previous = list(previous or [])
    finished = [t for t in previous if t.state.is_finished()]
    space = SearchSpace(spec.space, first_trial=len(previous), seeded=len(finished))
    searcher = TimedOptunaSearch(
        space=space,
        metric=OBJECTIVE_KEY,
        mode="max" if spec.objective.direction == "maximize" else "min",
        sampler=make_sampler(spec),
    )
    ot_study = getattr(searcher, "_ot_study", None)  # Ray's in-memory Optuna study (private)
    if finished and ot_study is not None:
        ot_study.add_trials(finished)
    else:
        space.seeded = 0  # nothing seeded: its numbers start at 0
    if spec.timeout is not None:
        searcher.deadline = time.time() + spec.timeout
    return searcher


def _tuner(spec: StudySpec, n_trials: int, ctx: dict[str, Any], previous, reporter):
    from ray import tune

    from augplat.runtime.home import augplat_home

    searcher = _searcher(spec, previous)
    trainable = tune.with_resources(
        tune.with_parameters(train_trial, ctx=ctx),
        {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu},
    )
    storage = augplat_home() / "ray_results"
    storage.mkdir(parents=True, exist_ok=True)
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=_scheduler(spec),
            num_samples=n_trials,
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}-{ctx['parent_run_id'][:8]}",
            storage_path=str(storage),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),  # a retry would be a new run
            callbacks=[_progress_callback(reporter, n_trials)],
        ),
    )


def run_ray_search(
    spec: StudySpec,
    *,
    n_trials: int,
    parent_run_id: str,
    tracking_uri: str | None,
    address: str | None = None,
    reporter: Reporter,
    previous: list | None = None,
) -> list[dict[str, Any]]:
    """Run ``n_trials`` Tune trials as child runs of ``parent_run_id``; one row per trial.

    Args:
        spec: The study definition (space, objective, pruner → ASHA, resources per trial).
        n_trials: Trials to run.
        parent_run_id: The study's parent MLflow run.
        tracking_uri: MLflow URI (made absolute for the workers).
        address: A Ray cluster to join; default ``RAY_ADDRESS`` or a private local instance.
        reporter: Progress messages.
        previous: A resumed study's trials: numbering continues after them, and the finished
            ones inform the sampler.

    Returns:
        Dicts with number, state (COMPLETE/PRUNED/FAIL), value, params, mlflow_run_id,
        best_epoch, intermediate_values, start and end (epoch milliseconds).
    """
    from augplat.runtime.home import augplat_home

    uri = absolute_tracking_uri(tracking_uri)
    home = str(augplat_home())
    env_vars = {"AUGPLAT_HOME": home, "MLFLOW_TRACKING_URI": uri, "RAY_CHDIR_TO_TRIAL_DIR": "1"}
    ctx = {
        "spec": spec.model_dump(mode="json"),
        "parent_run_id": parent_run_id,
        "tracking_uri": uri,
        "home": home,
    }
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no tables on stdout
    owned = _init_ray(address, env_vars)
    try:
        import ray

        cpus = ray.cluster_resources().get("CPU", 0)
        reporter.message(f"ray: {n_trials} trials on a cluster with {cpus:g} CPUs")
        grid = _tuner(spec, n_trials, ctx, previous, reporter).fit()
        trials = {}
        for result in grid:
            config = result.config or {}
            if TRIAL_KEY in config:
                trials[int(config[TRIAL_KEY])] = (config, result.error is not None)
    finally:
        if owned:
            import ray

            ray.shutdown()
    return collect_rows(spec, trials, parent_run_id, uri)


def to_optuna_study(spec: StudySpec, rows: list[dict[str, Any]], study=None):
    """Ray rows → Optuna trials, so the report code sees what the Optuna backend produces.

    Args:
        spec: The study definition (direction, distributions).
        rows: From :func:`run_ray_search`, in trial-number order.
        study: Add to this (e.g. persistent) study; default a new in-memory one.
    """
    import optuna

    if study is None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(study_name=spec.name, direction=spec.objective.direction)
    dists = distributions(spec.space)
    for row in sorted(rows, key=lambda r: r["number"]):
        state = optuna.trial.TrialState[row["state"]]
        value = row["value"] if state != optuna.trial.TrialState.FAIL else None
        attrs = {"mlflow_run_id": row["mlflow_run_id"], "backend": "ray"}
        if row.get("best_epoch") is not None:
            attrs["best_epoch"] = row["best_epoch"]
        trial = optuna.trial.create_trial(
            params=row["params"],
            distributions={k: dists[k] for k in row["params"]},
            value=value,
            state=state,
            intermediate_values=row.get("intermediate_values") or None,
            user_attrs=attrs,
        )
        if row.get("start"):
            trial.datetime_start = datetime.fromtimestamp(row["start"] / 1000)
        if row.get("end"):
            trial.datetime_complete = datetime.fromtimestamp(row["end"] / 1000)
        study.add_trial(trial)
    return study
