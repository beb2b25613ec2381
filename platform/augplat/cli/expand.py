"""``augplat expand``: grow a dataset's train split with synthetic images, tracked in MLflow.

How to run::

    augplat expand --generator <run-id> --data fer --balance              # every class to the max
    augplat expand --generator <run-id> --data fer --per-class 500 --name fer-500
    augplat expand --classic --policy albumentations --balance --multiplier 2 --data affect

Prints the new dataset's name and path, the per-class counts, and ``run_id=<id>``.
Options left unset fall back to the config file, then to the defaults of ``ExpandConfig``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from augplat.cli.common import TRACKING_URI, VERBOSE, setup_logging
from augplat.cli.options import config_command

# Spellings that differ from --field-name; every other ExpandConfig field is --field-name.
FLAGS = {
    "data": ("--data", "-d"),
    "generator": ("--generator", "-g"),
    "classic": ("--classic",),
    "balance": ("--balance",),
    "name": ("--name", "-n"),
    "allow_foreign_generator": ("--allow-foreign-generator",),
    "batch_size": ("--batch-size", "-b"),
}


@config_command("augplat.expand:ExpandConfig", flags=FLAGS)
def expand(
    overrides: dict,
    config: Path = typer.Option(
        None, "--config", "-c", help="YAML file with ExpandConfig keys; flags override it."
    ),
    tracking_uri: str = TRACKING_URI,
    verbose: bool = VERBOSE,
) -> None:
    """Make a new dataset whose train split is grown with synthetic (GAN or classic) images."""
    setup_logging(verbose)
    from augplat.expand import ExpandConfig, expand_dataset
    from augplat.runtime.settings import build_config

    cfg = build_config(ExpandConfig, config, overrides)
    result = expand_dataset(cfg, tracking_uri=tracking_uri)
    _print_result(result)


def _print_result(result) -> None:
    from rich.console import Console
    from rich.table import Table

    ds = result.dataset
    console = Console(highlight=False, markup=False)
    table = Table(title=f"{ds.name} ({result.strategy})")
    for column in ("class", "train before", "added", "train after"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for cls, before in result.before.items():
        added = result.added[cls]
        table.add_row(cls, str(before), str(added), str(before + added))
    console.print(table)
    typer.echo(f"dataset={ds.name}")
    typer.echo(f"path={result.path}")
    typer.echo(f"run_id={result.run_id}")
