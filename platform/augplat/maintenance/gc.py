"""Reclaim disk from ``<home>/runs``: local run state that nothing will read again.

How to run::

    augplat gc --dry-run      # what would go, and how much
    augplat gc

A run's directory holds its local checkpoints (for ``--resume``) and caches. It goes when:

* the run was deleted in the tracking store;
* the run FINISHED and its checkpoints are uploaded (``checkpoints/last.pt``): the local copy is
  a duplicate;
* the run is a study trial that ended unfinished (pruned or failed): Optuna never resumes a
  trial, it starts new ones.

Everything else stays: running runs, resumable runs (killed or failed outside a study), finished
runs whose local checkpoints are the only copy, and directories of runs this store does not know
(they may belong to another tracking store). Runs left RUNNING by a dead process are ended
FAILED on the way (:func:`augplat.tracking.end_dead_runs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from augplat.runtime.home import runs_dir


@dataclass
class Reclaim:
    """One local run directory that can go."""

    run_id: str
    path: Path
    reason: str
    size: int


@dataclass
class GcPlan:
    """What :func:`plan` found: directories to remove, and run ids it left alone as unknown."""

    remove: list[Reclaim]
    unknown: list[str]

    @property
    def size(self) -> int:
        """Bytes the removals free."""
        return sum(item.size for item in self.remove)


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _reason(store, run) -> str | None:
    """Why the run's local state can go, or None to keep it."""
    from augplat.runtime.checkpoints import ARTIFACT_DIR, LAST
    from augplat.tracking import tags as tag

    if run.info.lifecycle_stage == "deleted":
        return "deleted run"
    status = run.info.status
    if status in ("RUNNING", "SCHEDULED"):
        return None
    if status != "FINISHED":
        return f"{status.lower()} study trial" if tag.TRIAL in run.data.tags else None
    if store.has_artifact(run.info.run_id, f"{ARTIFACT_DIR}/{LAST}"):
        return "finished, checkpoints uploaded"
    return None


def plan(store) -> GcPlan:
    """Look at every local run directory; ends dead RUNNING runs FAILED as it goes.

    Args:
        store: The tracking store (:func:`augplat.tracking.connect`).
    """
    found = GcPlan([], [])
    root = runs_dir()
    for path in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        run = store.get_run(path.name)
        if run is None:  # not a run of this store
            found.unknown.append(path.name)
            continue
        reason = _reason(store, store.fail_if_dead(run))
        if reason is not None:
            found.remove.append(Reclaim(path.name, path, reason, _size(path)))
    return found


def remove(found: GcPlan) -> None:
    """Delete the planned directories."""
    import shutil

    for item in found.remove:
        shutil.rmtree(item.path, ignore_errors=True)
