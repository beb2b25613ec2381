"""A tracking store to ask: runs, experiments, metric histories, artifacts (:func:`connect`).

Everything outside ``tracking`` reads MLflow through a :class:`Store` (or the
:class:`~augplat.tracking.logger.RunLogger` of its own run); none holds an ``MlflowClient``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from augplat.tracking import artifacts, owner, queries
from augplat.tracking.logger import RunLogger
from augplat.tracking.uri import client, redact_uri


class Store:
    """One tracking store (a server, a SQLite file or a directory), asked by typed queries.

    Attributes:
        client: The ``MlflowClient``, for the modules of ``augplat.tracking`` only (as
            :attr:`RunLogger.client`): code outside calls this class's methods instead.
    """

    def __init__(self, mlflow_client):
        self.client = mlflow_client

    @property
    def uri(self) -> str:
        """The tracking URI (may hold credentials: print :attr:`where`)."""
        return str(self.client.tracking_uri)

    @property
    def where(self) -> str:
        """The tracking URI with any password hidden, for messages."""
        return redact_uri(self.uri)

    def logger(self, run_id: str) -> RunLogger:
        """A logger for the existing run ``run_id`` (tags, artifacts, ending it)."""
        return RunLogger(self.client, run_id)

    # ---- runs ----

    def get_run(self, run_id: str):
        """The run ``run_id``, or None when this store has none."""
        return queries.get_run(self.client, run_id)

    def fetch_run(self, run_id: str, **checks: Any):
        """The run ``run_id`` or one clear error (:func:`queries.fetch_run`'s ``checks``)."""
        return queries.fetch_run(self.client, run_id, **checks)

    def find_runs(
        self,
        experiment_ids: Iterable[str] | None = None,
        *,
        kind: str | None = None,
        tags: Mapping[str, Any] | None = None,
        status: str | None = None,
        parent: str | None = None,
        order_by: Sequence[str] = queries.NEWEST_FIRST,
        limit: int | None = None,
        page_size: int = 1000,
    ) -> list:
        """Runs by kind, tags, status and parent, newest first (:func:`queries.find_runs`)."""
        return queries.find_runs(
            self.client,
            experiment_ids,
            kind=kind,
            tags=tags,
            status=status,
            parent=parent,
            order_by=order_by,
            limit=limit,
            page_size=page_size,
        )

    def metric_history(self, run_id: str, key: str) -> list:
        """Every logged value of a run's metric (``.step``, ``.value``, ``.timestamp``)."""
        return list(self.client.get_metric_history(run_id, key))

    def fail_if_dead(self, run):
        """End ``run`` FAILED when its process is provably gone; returns the fresh run."""
        return owner.fail_if_dead(self.client, run)

    def end_dead_runs(self, runs) -> list:
        """:meth:`fail_if_dead` over ``runs``."""
        return owner.end_dead_runs(self.client, runs)

    # ---- experiments ----

    def experiment_ids(self) -> list[str]:
        """The ids of every active experiment."""
        return queries.all_experiment_ids(self.client)

    def experiment_named(self, name: str) -> str | None:
        """The id of the active experiment ``name``, or None."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None or experiment.lifecycle_stage == "deleted":
            return None
        return experiment.experiment_id

    def experiment_name(self, experiment_id: str) -> str:
        """The name of experiment ``experiment_id``."""
        return self.client.get_experiment(experiment_id).name

    # ---- artifacts ----

    def download(self, run_id: str, artifact_path: str, dst: str | Path) -> Path | None:
        """An artifact of run ``run_id`` downloaded into ``dst``, or None when it is missing."""
        return artifacts.try_download(self.client, run_id, artifact_path, dst)

    def has_artifact(self, run_id: str, artifact_path: str) -> bool:
        """Whether run ``run_id`` has this artifact file."""
        return artifacts.has_artifact(self.client, run_id, artifact_path)

    def fetch_checkpoint(self, run_id: str, name: str, dst: str | Path) -> Path | None:
        """Run ``run_id``'s uploaded ``checkpoints/<name>`` in ``dst``, or None."""
        return artifacts.fetch_checkpoint(self.client, run_id, name, dst)

    def latest_artifact(self, run_id: str, folder: str, suffix: str, dst: Path) -> Path | None:
        """The last (by name) file of ``folder`` ending in ``suffix``, downloaded, or None."""
        return artifacts.latest_artifact(self.client, run_id, folder, suffix, dst)


def connect(tracking_uri: str | None = None) -> Store:
    """The store at ``tracking_uri`` (resolved as :func:`~augplat.tracking.uri.
    resolve_tracking_uri`), after checking a server answers."""
    return Store(client(tracking_uri))


def store_of(logger: RunLogger) -> Store:
    """The store ``logger`` writes to."""
    return Store(logger.client)
