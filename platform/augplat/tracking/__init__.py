"""The only package that talks to MLflow; everything else asks it.

* :mod:`~augplat.tracking.uri` — which store (URI precedence, redaction, reachability).
* :mod:`~augplat.tracking.runs` — the run lifecycle: :func:`open_run` / :func:`start_run`,
  :func:`reopen_run` for ``--resume``, one status rule (:func:`end_status`).
* :mod:`~augplat.tracking.logger` — :class:`RunLogger`: logging to one run by id.
* :mod:`~augplat.tracking.store` — :func:`connect` → :class:`Store`: typed, always-paged queries
  (:meth:`Store.find_runs` by kind / tags / status / parent), metric histories, artifacts.
* :mod:`~augplat.tracking.tags` — the ``augplat.*`` tag vocabulary
  (``from augplat.tracking import tags as tag``).
* :mod:`~augplat.tracking.owner` — runs whose process died end FAILED.
* :mod:`~augplat.tracking.artifacts` — scratch space, quiet downloads, checkpoints.

mlflow itself is imported inside functions only, so ``augplat --help`` stays instant.
"""

from __future__ import annotations

from augplat.tracking.artifacts import latest_artifact, scratch_dir
from augplat.tracking.logger import RunLogger, end_status, flatten
from augplat.tracking.owner import end_dead_runs, fail_if_dead, run_owner_alive
from augplat.tracking.queries import fetch_run, find_runs, run_filter, run_is_kind, search_all
from augplat.tracking.runs import (
    DEFAULT_EXPERIMENT,
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    experiment_id,
    launch_tags,
    open_run,
    record_prepared_dataset,
    reopen_run,
    start_run,
)
from augplat.tracking.store import Store, connect, store_of
from augplat.tracking.uri import (
    check_reachable,
    default_tracking_uri,
    redact_uri,
    resolve_tracking_uri,
    store_errors,
)

__all__ = [
    "DEFAULT_EXPERIMENT",
    "EXPERIMENT_KIND",
    "EXPERIMENT_KIND_TAG",
    "RunLogger",
    "Store",
    "check_reachable",
    "connect",
    "default_tracking_uri",
    "end_dead_runs",
    "end_status",
    "experiment_id",
    "fail_if_dead",
    "fetch_run",
    "find_runs",
    "flatten",
    "latest_artifact",
    "launch_tags",
    "open_run",
    "record_prepared_dataset",
    "redact_uri",
    "reopen_run",
    "resolve_tracking_uri",
    "run_filter",
    "run_is_kind",
    "run_owner_alive",
    "scratch_dir",
    "search_all",
    "start_run",
    "store_errors",
    "store_of",
]
