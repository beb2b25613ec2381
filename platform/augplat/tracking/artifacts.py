"""Artifacts: scratch space, quiet downloads, a run's newest file of a kind, its checkpoints.

Every download goes through :func:`download` so none draws a progress bar (one line per
command) and a failed one leaves no empty directory behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from augplat.tracking.uri import store_errors

CHECKPOINT_DIR = "checkpoints"  # = augplat.runtime.checkpoints.ARTIFACT_DIR


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary directory for artifacts that are uploaded and then discarded."""
    with tempfile.TemporaryDirectory(prefix="augplat-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def _no_progress_bar() -> Iterator[None]:
    previous = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = previous


def download(mlflow_client, run_id: str, artifact_path: str, dst: str | Path) -> Path:
    """Download an artifact of run ``run_id`` into ``dst``; returns the local path.

    Raises:
        MlflowException: No such artifact (or the store refused).
        OSError: The artifact store or ``dst`` could not be read or written.
    """
    dst = Path(dst)
    created = not dst.exists()
    dst.mkdir(parents=True, exist_ok=True)
    try:
        with _no_progress_bar():
            return Path(mlflow_client.download_artifacts(run_id, artifact_path, str(dst)))
    except BaseException:
        if created and not any(dst.iterdir()):
            dst.rmdir()
        raise


def try_download(mlflow_client, run_id: str, artifact_path: str, dst: str | Path) -> Path | None:
    """:func:`download`, or None when the run has no such artifact (or it cannot be read)."""
    try:
        return download(mlflow_client, run_id, artifact_path, dst)
    except store_errors():
        return None


def has_artifact(mlflow_client, run_id: str, artifact_path: str) -> bool:
    """Whether run ``run_id`` has this artifact file (asked without downloading anything)."""
    parent = artifact_path.rpartition("/")[0] or None
    try:
        listed = mlflow_client.list_artifacts(run_id, parent)
    except store_errors():  # no such directory
        return False
    return any(f.path == artifact_path for f in listed)


def latest_artifact(mlflow_client, run_id: str, folder: str, suffix: str, dst: Path) -> Path | None:
    """Download into ``dst`` the last (by name) file of ``folder`` ending in ``suffix``."""
    try:
        names = sorted(
            a.path for a in mlflow_client.list_artifacts(run_id, folder) if a.path.endswith(suffix)
        )
    except store_errors():
        return None
    return try_download(mlflow_client, run_id, names[-1], dst) if names else None


def fetch_checkpoint(mlflow_client, run_id: str, name: str, dst: str | Path) -> Path | None:
    """A run's uploaded checkpoint ``checkpoints/<name>`` downloaded into ``dst``, or None
    when the run has none (killed before its first, or a study trial that never uploads)."""
    path = f"{CHECKPOINT_DIR}/{name}"
    if not has_artifact(mlflow_client, run_id, path):
        return None
    return try_download(mlflow_client, run_id, path, dst)
