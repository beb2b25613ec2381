"""Runs whose process is gone: ended FAILED so no statistic, resume or UI counts them running."""

from __future__ import annotations

from augplat.tracking import tags as tag


def run_owner_alive(run) -> bool | None:
    """Whether the process that runs ``run`` is alive (None: unknown, e.g. another host)."""
    from augplat.runtime.liveness import owner_alive

    return owner_alive(run.data.tags)


def fail_if_dead(mlflow_client, run):
    """End ``run`` FAILED when it is RUNNING but its process is provably gone; returns the
    (refreshed) run. Tag ``augplat.ended_by=dead-process`` says who ended it.

    Every command that reads runs (resume, compare, study resume, pipeline reuse) calls this
    (or :func:`end_dead_runs`) so no statistic and no UI counts a dead run as running.
    """
    if run.info.status != "RUNNING" or run_owner_alive(run) is not False:
        return run
    from mlflow.entities import RunTag

    run_id = run.info.run_id
    mlflow_client.log_batch(run_id, tags=[RunTag(tag.ENDED_BY, "dead-process")])
    mlflow_client.set_terminated(run_id, status="FAILED")
    return mlflow_client.get_run(run_id)


def end_dead_runs(mlflow_client, runs) -> list:
    """:func:`fail_if_dead` over ``runs``; returns them, dead ones now FAILED."""
    return [fail_if_dead(mlflow_client, run) for run in runs]
