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
