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

from augplat.cli.common import TRACKING_URI_HELP, setup_logging


def _opt(help_text: str, *flags: str):
    return typer.Option(None, *flags, help=help_text, show_default=False)


def expand(
    config: Path = _opt("YAML file with ExpandConfig keys; flags override it.", "--config", "-c"),
    data: str = _opt(
        "Source dataset name or path [default: the generator's training data].", "--data", "-d"
    ),
    generator: str = _opt("GAN run id (or imported generator name).", "--generator", "-g"),
    classic: bool = typer.Option(
        None,
        "--classic",
        help="Classic-augmented copies of real images instead of a GAN.",
        show_default=False,
    ),
    policy: str = _opt("--classic policy name or YAML file [default: default].", "--policy"),
    strength: float = _opt("--classic strength [default: 1.0].", "--strength"),
    per_class: int = _opt("Add exactly N synthetic train images to every class.", "--per-class"),
    balance: bool = typer.Option(
        None,
        "--balance",
        help="Fill every class up to the largest class count × --multiplier.",
        show_default=False,
    ),
    multiplier: float = _opt(
        "With --balance: target = largest count × M; M > 1 grows the largest class too "
        "[default: 1.0].",
        "--multiplier",
    ),
    name: str = _opt("Output dataset name [default: <data>-expanded].", "--name", "-n"),
    seed: int = _opt("Seed for source picks and generation noise [default: 0].", "--seed"),
    allow_foreign_generator: bool = typer.Option(
        None,
        "--allow-foreign-generator",
        help="Use a generator trained on images outside the dataset's train split (never on "
        "its val/test images); the expansion and its run record it.",
        show_default=False,
    ),
    batch_size: int = _opt("Generation batch size [default: 256].", "--batch-size", "-b"),
    device: str = _opt("auto | cpu | cuda [default: auto].", "--device"),
    experiment: str = _opt("MLflow experiment [default: augplat].", "--experiment"),
    run_name: str = _opt("MLflow run name.", "--run-name"),
    tracking_uri: str = _opt(TRACKING_URI_HELP, "--tracking-uri"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Make a new dataset whose train split is grown with synthetic (GAN or classic) images."""
    setup_logging(verbose)
    overrides = {k: v for k, v in locals().items() if k not in _NOT_CONFIG}
    from augplat.classify.config import build_config
    from augplat.expand import ExpandConfig, expand_dataset

    cfg = build_config(ExpandConfig, config, overrides)
    result = expand_dataset(cfg, tracking_uri=tracking_uri)
    _print_result(result)


_NOT_CONFIG = {"config", "tracking_uri", "verbose"}


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
