"""``--resume``: reopen a run and find where it stopped (its last checkpoint, or its start)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from augplat.errors import UserError
from augplat.runtime.checkpoints import find_local_or_artifact, load
from augplat.tracking.logger import end_status


@dataclass
class ResumePoint:
    """Where a ``--resume`` continues: the reopened run, its checkpoint (None: start over
    inside the same run) and the run's own config values; ``finished``: nothing to do."""

    logger: Any
    ckpt: dict[str, Any] | None
    config: dict[str, Any]
    finished: bool = False


def open_for_resume(run_id: str, tracking_uri: str | None) -> ResumePoint:
    """Reopen run ``run_id`` for ``--resume`` (``finished`` when it already did: a no-op).

    Without a checkpoint (killed before the first one) the run starts over from its logged
    ``config.yaml``. Any error here ends the run FAILED instead of leaving it RUNNING.
    """
    import yaml

    from augplat import tracking

    logger = tracking.reopen_run(run_id, tracking_uri, finished_is_done=True)
    if logger.already_finished:
        return ResumePoint(logger, None, {}, finished=True)
    with failing(logger):
        logger.remember_logged_steps()  # steps redone after the checkpoint are not logged twice
        path = find_local_or_artifact(logger)
        if path is not None:
            ckpt = load(path)
            return ResumePoint(logger, ckpt, ckpt["config"])
        text = logger.read_text("config.yaml")
        if text is None:
            raise UserError(
                f"run {run_id} was killed while it started: it has neither a checkpoint nor its "
                "config.yaml, so it cannot resume; start a new run"
            )
        return ResumePoint(logger, None, yaml.safe_load(text))


@contextlib.contextmanager
def failing(logger) -> Iterator[None]:
    """End the run when the block raises (a resume that cannot go on), by the one rule
    (:func:`~augplat.tracking.logger.end_status`: FAILED, or KILLED on Ctrl-C); re-raise."""
    try:
        yield
    except BaseException as exc:
        logger.end(end_status(exc))
        raise
