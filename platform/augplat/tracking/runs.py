"""The run lifecycle: create, adopt (MLflow Projects), reopen (``--resume``) and end a run.

Every job opens its run with :func:`open_run` (or ends a reopened one with
:meth:`RunLogger.closing`), so every run ends by one rule (:func:`end_status`): the job returned
→ FINISHED; Ctrl-C → KILLED; a deliberate pause ends it KILLED itself; any other error → FAILED.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from augplat.tracking import tags as tag
from augplat.tracking.logger import RunLogger
from augplat.tracking.owner import fail_if_dead, run_owner_alive
from augplat.tracking.queries import fetch_run
from augplat.tracking.uri import client

DEFAULT_EXPERIMENT = "augplat"

# MLflow 3's UI opens an experiment of this kind on its training runs, not the GenAI overview.
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"


def experiment_id(mlflow_client, name: str) -> str:
    """Id of experiment ``name``, created if missing (as a model-training experiment)."""
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            mlflow_client.restore_experiment(experiment.experiment_id)
        if EXPERIMENT_KIND_TAG not in experiment.tags:
            mlflow_client.set_experiment_tag(
                experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
            )
        return experiment.experiment_id
    return mlflow_client.create_experiment(name, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})


def launch_tags() -> dict[str, str]:
    """Tags ``augplat launch`` hands a step (``AUGPLAT_RUN_TAGS``: parent run, step, key) for
    the project run it adopts; empty outside a launch."""
    try:
        tags = json.loads(os.environ.get("AUGPLAT_RUN_TAGS") or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


def start_run(
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    tracking_uri: str | None = None,
) -> RunLogger:
    """Create a run (a child when ``parent_run_id`` is given) and return its logger.

    When launched by ``mlflow run`` (``MLFLOW_RUN_ID`` set) and no parent is given, the project's
    run is adopted instead of creating a new one, so the step logs where MLflow Projects expects;
    the tags ``augplat launch`` passed along (:func:`launch_tags`) are set on it first.
    """
    from augplat.runtime.liveness import owner_tags

    mlflow_client = client(tracking_uri)
    all_tags = {**owner_tags(), **{str(k): str(v) for k, v in (tags or {}).items()}}
    project_run = os.environ.get("MLFLOW_RUN_ID")
    if project_run and parent_run_id is None:
        logger = RunLogger(mlflow_client, project_run)
        all_tags = {**launch_tags(), **all_tags}
        if all_tags:
            logger.set_tags(all_tags)
        return logger
    if parent_run_id:
        all_tags[tag.PARENT_RUN_ID] = parent_run_id
    exp_id = experiment_id(mlflow_client, experiment)
    run = mlflow_client.create_run(exp_id, tags=all_tags, run_name=run_name)
    return RunLogger(mlflow_client, run.info.run_id)


@contextlib.contextmanager
def open_run(
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    *,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    tracking_uri: str | None = None,
    logger: RunLogger | None = None,
) -> Iterator[RunLogger]:
    """A new run (as :func:`start_run`; or ``logger``, a run opened already, e.g. reopened for
    ``--resume``) that ends with the block by :func:`end_status`.

    A body that pauses deliberately calls ``logger.end("KILLED")`` itself; that status stands.
    """
    if logger is None:
        logger = start_run(experiment, run_name, tags, parent_run_id, tracking_uri)
    with logger.closing():
        yield logger


def reopen_run(
    run_id: str, tracking_uri: str | None = None, *, finished_is_done: bool = False
) -> RunLogger:
    """Reopen an existing run (for ``--resume``) as this process's.

    A run whose owner process is gone is first ended FAILED (:func:`fail_if_dead`) and then
    taken over. With ``finished_is_done`` a FINISHED run is not reopened: the logger comes back
    with ``already_finished`` set (resuming a finished training run is a no-op).

    Raises:
        TrackingError: No such run in this store.
        ConfigError: The run is still running in a live process.
    """
    from augplat.errors import ConfigError
    from augplat.runtime.liveness import HOST_TAG, PID_TAG, owner_tags

    mlflow_client = client(tracking_uri)
    run = fail_if_dead(mlflow_client, fetch_run(mlflow_client, run_id))
    logger = RunLogger(mlflow_client, run_id)
    if finished_is_done and run.info.status == "FINISHED":
        logger.already_finished = True
        return logger
    if run.info.status == "RUNNING" and run_owner_alive(run):
        tags = run.data.tags
        raise ConfigError(
            f"run {run_id} is still running (pid {tags.get(PID_TAG)} on {tags.get(HOST_TAG)}): "
            "stop it first, or wait for it"
        )
    logger.mark_running()
    logger.set_tags(owner_tags())
    return logger


def record_prepared_dataset(ds, directory: str | Path) -> str | None:
    """Tag the run MLflow Projects made for a ``prepare`` step with the dataset it produced.

    Only under ``mlflow run`` (``MLFLOW_RUN_ID`` set): later pipeline steps read the dataset's
    name and digest from this run. Returns the run id, or None outside a project run.
    """
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return None
    logger = RunLogger(client(), run_id)
    logger.set_tags(
        {
            **launch_tags(),
            tag.KIND: tag.KIND_PREPARE,
            tag.DATASET: ds.name,
            tag.DATASET_DIGEST: ds.digest,
        }
    )
    logger.log_dataset(ds.name, ds.digest, str(Path(directory).resolve()), context="prepared")
    manifest = Path(directory) / "manifest.json"
    if manifest.is_file():
        logger.log_artifact(manifest, "data")
    return run_id
