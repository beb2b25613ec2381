"""``augplat train``: fine-tune a classifier with classic or GAN augmentation, tracked in MLflow.

How to run::

    augplat train --data digits --epochs 5
    augplat train --data fer --model resnet18 --optimizer adam --lr 2e-4 --scheduler cosine
    augplat train --config run.yaml --batch-size 128     # YAML defaults, flags override
    augplat train --data fer --aug gan --generator <gan-run-id> --gan-prob 0.5
    augplat train --data fer --train-on united --generator <gan-run-id>
    augplat train --data fer --train-on expanded --expanded fer-expanded
    augplat train --data fer --test-mode both --generator <cyclegan-run-id>  # test-time aug
    augplat train --data digits --ccl-lambda 0.55 --seeds 5   # five seeds, one group
    augplat train --data ckplus --folds 10 --tta tencrop   # every fold of a --folds 10 dataset
    augplat train --resume <run-id>                        # continue an interrupted run

Options left unset fall back to the config file, then to the defaults of ``TrainConfig``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from augplat.cli.common import TRACKING_URI, VERBOSE, setup_logging
from augplat.cli.options import config_command

# Spellings that differ from --field-name; every other TrainConfig field is --field-name.
FLAGS = {
    "data": ("--data", "-d"),
    "model": ("--model", "-m"),
    "freeze_backbone": ("--freeze-backbone/--finetune",),
    "epochs": ("--epochs", "-e"),
    "batch_size": ("--batch-size", "-b"),
    "weight_decay": ("--weight-decay", "--wd"),
    "allow_foreign_generator": ("--allow-foreign-generator",),
}


@config_command("augplat.classify.config:TrainConfig", flags=FLAGS)
def train(
    overrides: dict,
    config: Path = typer.Option(
        None, "--config", "-c", help="YAML file with TrainConfig keys; flags override it."
    ),
    folds: int = typer.Option(
        0,
        "--folds",
        help="Train every fold 0..K-1 of a dataset prepared with --folds K (one "
        "tagged group, like --seeds; with --seeds, every seed runs every fold).",
    ),
    seeds: int = typer.Option(
        1, "--seeds", help="Train K times with seeds seed, seed+1, ... (one tagged group)."
    ),
    resume: str = typer.Option(
        None, "--resume", help="Run id of an interrupted run to continue.", show_default=False
    ),
    tracking_uri: str = TRACKING_URI,
    verbose: bool = VERBOSE,
) -> None:
    """Fine-tune a classifier on a prepared dataset; everything is logged to one MLflow run."""
    setup_logging(verbose)
    from augplat.classify.config import TrainConfig, build_config

    cfg = build_config(TrainConfig, config, overrides)
    from augplat.runtime.progress import default_reporter

    if folds:
        _train_folds(cfg, folds, seeds, resume, tracking_uri)
        return
    if seeds != 1:
        _train_seeds(cfg, seeds, resume, tracking_uri)
        return
    from augplat.classify.finetune import train_classifier

    result = train_classifier(
        cfg, tracking_uri=tracking_uri, resume=resume, reporter=default_reporter()
    )
    _print_result(result)


def _train_folds(cfg, k: int, seeds: int, resume: str | None, tracking_uri: str | None) -> None:
    from augplat.classify.repeats import summarize, train_folds
    from augplat.errors import ConfigError
    from augplat.runtime.progress import default_reporter

    if resume:
        raise ConfigError("--folds and --resume do not combine: resume each run by its id")
    if cfg.fold is not None:
        raise ConfigError("--fold I trains one fold, --folds K all of them: give one")
    results = train_folds(
        cfg, k, seeds=seeds, tracking_uri=tracking_uri, reporter_factory=default_reporter,
        on_result=_print_result,
    )  # fmt: skip
    typer.echo(f"{k} folds × {seeds} seed(s):")
    for key, (mean, std) in summarize(results).items():
        typer.echo(f"  {key}: {mean:.4f} ± {std:.4f}")
    typer.echo("compare strategies: augplat compare " + " ".join(r.run_id for r in results))


def _train_seeds(cfg, k: int, resume: str | None, tracking_uri: str | None) -> None:
    from augplat.classify.repeats import summarize, train_seeds
    from augplat.errors import ConfigError
    from augplat.runtime.progress import default_reporter

    if resume:
        raise ConfigError("--seeds and --resume do not combine: resume each run by its id")
    results = train_seeds(
        cfg,
        k,
        tracking_uri=tracking_uri,
        reporter_factory=default_reporter,
        on_result=_print_result,
    )
    typer.echo(f"{k} seeds ({cfg.seed}..{cfg.seed + k - 1}):")
    for key, (mean, std) in summarize(results).items():
        typer.echo(f"  {key}: {mean:.4f} ± {std:.4f}")
    typer.echo("compare strategies: augplat compare " + " ".join(r.run_id for r in results))


def _print_result(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run {result.run_id}", show_header=False)
    table.add_row("best epoch", str(result.best_epoch))
    table.add_row("best val score", f"{result.best_score:.4f}")
    for key in ("test_top1", "test_top2", "test_top5", "test_macro_f1", "test_loss"):
        if key in result.test:
            table.add_row(key, f"{result.test[key]:.4f}")
    if result.stopped_early:
        table.add_row("stopped early", "yes")
    Console().print(table)
    typer.echo(f"run_id={result.run_id}")
    typer.echo("browse it: augplat ui  (or open your tracking server)")
