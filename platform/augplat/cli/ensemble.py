"""``augplat ensemble``: combine trained classifier runs and score the ensemble, tracked in MLflow.

How to run::

    augplat ensemble <run-id> <run-id> <run-id> --rule vote
    augplat ensemble <run-id> <run-id> --rule sum --experiment digits --run-name ens-sum

Prints the ensemble's val/test metrics next to each member's top-1 and ``run_id=<id>``.
"""

from __future__ import annotations

import os

import typer

from augplat.cli.common import TRACKING_URI, VERBOSE, setup_logging
from augplat.cli.options import config_command


@config_command("augplat.classify.ensemble_run:EnsembleConfig")
def ensemble(
    overrides: dict,
    runs: list[str] = typer.Argument(..., help="Member run ids (finished `augplat train` runs)."),
    tracking_uri: str = TRACKING_URI,
    verbose: bool = VERBOSE,
) -> None:
    """Combine trained classifier runs (sum | max | vote); log the ensemble as its own run."""
    setup_logging(verbose)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per member
    from augplat.classify.ensemble_run import EnsembleConfig, run_ensemble
    from augplat.runtime.settings import build_config

    cfg = build_config(EnsembleConfig, None, {**overrides, "runs": tuple(runs)})
    result = run_ensemble(cfg, tracking_uri=tracking_uri)
    _print_result(result)


def _print_result(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ensemble ({result.rule}) run {result.run_id}")
    table.add_column("")
    table.add_column("val top1", justify="right")
    table.add_column("test top1", justify="right")

    def cell(row, key):
        return f"{row[key]:.4f}" if key in row else "-"

    for row in result.member_metrics:
        table.add_row(f"member {row['run_id']}", cell(row, "val_top1"), cell(row, "test_top1"))
    table.add_row("ensemble", cell(result.metrics, "val_top1"), cell(result.metrics, "test_top1"))
    Console(highlight=False, markup=False, width=120).print(table)
    for key in ("test_top1", "test_top2", "test_top5", "test_macro_f1"):
        if key in result.metrics:
            typer.echo(f"{key}={result.metrics[key]:.4f}")
    typer.echo(f"run_id={result.run_id}")
