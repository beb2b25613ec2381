"""``augplat study``: search training and augmentation settings, then evaluate the winner.

How to run::

    augplat study digits --trials 8                  # studies/digits.yaml, minutes on a CPU
    augplat study fer --trials 50                    # the flagship recipe (GPU)
    augplat study digits --trials 12 --resume        # continue to 12 finished trials
    augplat study digits --backend ray               # Ray Tune (pip install 'augplat[ray]')
    augplat study digits --backend ray --address 127.0.0.1:6379   # join a running cluster
"""

from __future__ import annotations

from enum import Enum

import typer

from augplat.cli.common import TRACKING_URI_HELP, setup_logging


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
    tracking_uri: str = typer.Option(None, help=TRACKING_URI_HELP),
    backend: Backend = typer.Option(
        None, "--backend", help="Search backend (default: the study file's `backend`)."
    ),
    address: str = typer.Option(
        None, "--address", help="Ray cluster to join (--backend ray). Default: a private local one."
    ),
    worker: bool = typer.Option(False, "--worker", hidden=True),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every trial epoch."),
) -> None:
    """Run a study (Optuna or Ray Tune): trials as child MLflow runs, pruning, final evaluation."""
    setup_logging(verbose)
    if resume and fresh:
        raise typer.BadParameter("--resume and --fresh exclude each other")
    from augplat.progress import Reporter
    from augplat.study import load_study_spec, run_study

    spec, path = load_study_spec(name)
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
    )
    if result is not None:
        _print(result)


def _print(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"study {result.name} (parent run {result.parent_run_id})")
    table.add_column("")
    table.add_column("value")
    table.add_row("best trial", str(result.best_trial))
    table.add_row("best val score", f"{result.best_value:.4f}")
    for key, value in result.best_params.items():
        table.add_row(f"  {key}", str(value))
    table.add_row("trials", ", ".join(f"{k.lower()} {v}" for k, v in sorted(result.counts.items())))
    for row in result.final:
        table.add_row(
            f"final seed {row['seed']} test_top1", f"{row.get('test_top1', float('nan')):.4f}"
        )
    Console().print(table)
    typer.echo(f"parent_run_id={result.parent_run_id}")
