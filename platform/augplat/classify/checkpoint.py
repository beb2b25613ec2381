"""Training checkpoints: written atomically, found again for ``--resume``.

A checkpoint holds everything the loop needs to continue bit-for-bit: model, optimizer,
scheduler and AMP-scaler states, the finished epoch, the metric history, the best score so far,
and the resolved config. ``best.pt`` and ``last.pt`` live in ``<home>/runs/<run-id>/`` while the
run trains and are uploaded as run artifacts under ``checkpoints/`` when it ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from augplat.errors import UserError
from augplat.fsutil import atomic_path
from augplat.home import runs_dir

LAST, BEST = "last.pt", "best.pt"
ARTIFACT_DIR = "checkpoints"


def run_dir(run_id: str) -> Path:
    """Local state directory of a run."""
    return runs_dir() / run_id


def save(path: str | Path, state: dict[str, Any]) -> Path:
    """``torch.save`` through a temporary file, so a kill never leaves half a checkpoint."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


class BackgroundSaver:
    """Writes checkpoints on a background thread while the next epoch trains.

    ``torch.save`` of a model plus Adam state is ~3x the weights and costs a noticeable share
    of a short epoch; the write releases the GIL, so overlapping it with training hides it.
    The state is snapshotted (tensors cloned) before the call returns, so training may mutate
    the live weights at once. At most one write is in flight; :meth:`wait` re-raises its error.
    """

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="augplat-ckpt")
        self._pending = None

    def submit(self, state: dict[str, Any], last: Path, best: Path | None) -> None:
        """Snapshot ``state`` and write it to ``last`` (and publish it as ``best``)."""
        snapshot = _clone_tensors(state)
        self.wait()

        def write() -> None:
            save(last, snapshot)
            if best is not None:
                publish_copy(last, best)

        self._pending = self._pool.submit(write)

    def wait(self) -> None:
        """Block until the write in flight (if any) is on disk."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        """Finish the last write and stop the thread."""
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _clone_tensors(value):
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone_tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clone_tensors(v) for v in value)
    return value


def publish_copy(source: str | Path, target: str | Path) -> Path:
    """Atomically make ``target`` a copy of ``source`` (a hard link when the filesystem allows).

    The link goes to a temporary name first and is renamed over ``target``: a reader of
    ``target`` never sees a missing or partial file. ``source`` is itself replaced (not
    rewritten) on the next save, so the link keeps the old content.
    """
    import os
    import shutil

    target = Path(target)
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:  # no hard links here (some network filesystems): copy the bytes
            shutil.copyfile(source, tmp)
    return target


def load(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint onto the CPU (tensors only: no pickled code is executed)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise UserError(f"{path}: cannot read checkpoint ({exc})") from None


def find_for_resume(logger) -> Path:
    """``last.pt`` of a run: the local copy if this machine trained it, else the artifact."""
    local = run_dir(logger.run_id) / LAST
    if local.is_file():
        return local
    try:
        return logger.download(f"{ARTIFACT_DIR}/{LAST}", run_dir(logger.run_id) / "download")
    except Exception:  # MlflowException / OSError: the artifact simply is not there
        raise UserError(
            f"run {logger.run_id} has no checkpoint to resume from (neither {local} nor the "
            f"artifact {ARTIFACT_DIR}/{LAST})"
        ) from None
