"""``augplat gc``: free the disk that finished, deleted and pruned runs leave in the data home.

How to run::

    augplat gc --dry-run        # list what would be removed, and the total
    augplat gc                  # remove it

See :mod:`augplat.maintenance.gc` for what goes and what stays.
"""

from __future__ import annotations

import typer

from augplat.cli.common import TRACKING_URI, VERBOSE, setup_logging


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
    tracking_uri: str = TRACKING_URI,
    verbose: bool = VERBOSE,
) -> None:
    """Remove local run state (checkpoints, caches) that no run will read again."""
    setup_logging(verbose)
    from augplat import tracking
    from augplat.maintenance import gc as collector

    found = collector.plan(tracking.connect(tracking_uri))
    verb = "would remove" if dry_run else "removed"
    if not dry_run:
        collector.remove(found)
    for item in found.remove:
        typer.echo(f"{verb} {item.path} ({item.reason}, {_mb(item.size)})")
    typer.echo(f"{verb} {len(found.remove)} run directories, {_mb(found.size)}")
    if found.unknown:
        unknown = len(found.unknown)
        typer.echo(f"kept {unknown} directories of runs this tracking store does not know")
