"""``augplat study``: search training and augmentation settings, then evaluate the winner.

How to run::

    augplat study digits --trials 8                  # studies/digits.yaml, minutes on a CPU
    augplat study fer --trials 50                    # the flagship recipe (GPU)
    augplat study digits --trials 12 --resume        # continue to 12 finished trials
    augplat study digits --backend ray               # Ray Tune (pip install 'augplat[ray]')
    augplat study digits --backend ray --address 127.0.0.1:6379   # join a running cluster
"""

from __future__ import annotations

import os
from enum import Enum

import typer

from augplat.cli.common import TRACKING_URI, setup_logging


class Backend(str, Enum):
    """Search backends."""

    optuna = "optuna"
    ray = "ray"


def study(
    name: str = typer.Argument(..., help="Study name (studies/NAME.yaml) or a YAML path."),
    trials: int = typer.Option(
        None, "--trials", "-n", min=0, help="Finished trials in total (0: the study file's)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an existing study."),
    fresh: bool = typer.Option(False, "--fresh", help="Delete an existing study of that name."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes on this host."),
    storage: str = typer.Option(
        None,
        envvar="AUGPLAT_STUDY_STORAGE",
        show_envvar=True,
        help="Optuna storage: SQLAlchemy URL or journal file. Default: a journal file.",
    ),
    tracking_uri: str = TRACKING_URI,
    backend: Backend = typer.Option(
        None, "--backend", help="Search backend (default: the study file's `backend`)."
    ),
    address: str = typer.Option(
        None, "--address", help="Ray cluster to join (--backend ray). Default: a private local one."
    ),
    set_: list[str] = typer.Option(
        None,
        "--set",
        metavar="KEY=VALUE",
        help="Set any study-file key (dotted: final.seeds=3, train.epochs=2); VALUE in YAML; "
        "repeatable. Give the same ones to --resume.",
    ),
    worker: bool = typer.Option(False, "--worker", hidden=True),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every trial epoch."),
) -> None:
    """Run a study: search (Optuna or Ray Tune), final arms × seeds × fractions, the verdict."""
    setup_logging(verbose)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # report downloads
    if resume and fresh:
        raise typer.BadParameter("--resume and --fresh exclude each other")
    from augplat.runtime.progress import Reporter
    from augplat.study import load_study_spec, run_study

    spec, path = load_study_spec(name, set_)
    result = run_study(
        spec,
        path,
        trials=trials,
        resume=resume,
        fresh=fresh,
        workers=workers,
        storage=storage,
        tracking_uri=tracking_uri,
        worker=worker,
        reporter=Reporter(),
        backend=backend.value if backend else None,
        address=address,
        sets=set_ or [],
    )
    if result is not None:
        _print(result)


def _print(result) -> None:
    """The answer first: one verdict table per fraction, the verdict lines, where to look."""
    import math

    a = result.verdict.analysis
    typer.echo("")
    typer.echo(f"study {result.name}: verdict on {a.metric} (baseline arm: {result.baseline})")
    typer.echo(result.verdict.markdown)
    for line in a.verdicts + result.notes:
        typer.echo(f"- {line}")
    for row in result.verdict.equivalents:
        ratio = "" if math.isnan(row["ratio"]) else f" ({row['ratio']:.2f}x)"
        typer.echo(
            f"- real-image equivalent: {row['arm']} with {row['real images']} real images ≈ "
            f"the baseline with {row['baseline needs']}{ratio}"
        )
    if not math.isnan(result.best_value):
        typer.echo(f"search winner: trial {result.best_trial}, val {result.best_value:.4f}")
    typer.echo("report: report.html and report.md on the study run (augplat ui to browse)")
    typer.echo(f"parent_run_id={result.parent_run_id}")
