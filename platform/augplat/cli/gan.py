"""``augplat gan``: train, sample, evaluate and import generators.

How to run::

    augplat gan train cgan --data digits --epochs 20 --ema 0.999 --ada
    augplat gan train stargan --data fer --epochs 50
    augplat gan train cyclegan --data fer --data-b anime --channels 3 --size 48
    augplat gan train --resume <run-id>
    augplat gan sample <run-id> --n 8 --out grid.png
    augplat gan eval <run-id> [--classifier <train-run-id>]
    augplat gan import cartoongan.pt --name hayao --channels 3 --range -1,1
    augplat gan register <run-id> --name fer-stargan --alias champion

Options left unset fall back to the config file, then to the method's defaults.
"""

from __future__ import annotations

from pathlib import Path

import typer

from augplat.cli import gan_register
from augplat.cli.common import TRACKING_URI, VERBOSE, setup_logging
from augplat.cli.options import config_command, lazy_group

# Kept literal so `--help` needs no torch import; a test checks it matches the registry.
METHOD_NAMES = "cgan, cyclegan, stargan"

Group = lazy_group()  # `gan train` is built when used: its options come from GanConfig
app = typer.Typer(
    cls=Group,
    help="Train GAN generators, sample and evaluate them, import pretrained translators.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Spellings that differ from --field-name; every other GanConfig field is --field-name.
FLAGS = {
    "data": ("--data", "-d"),
    "gan_loss": ("--gan-loss", "--loss"),
    "epochs": ("--epochs", "-e"),
    "batch_size": ("--batch-size", "-b"),
}


def _opt(help_text: str, *flags: str):
    return typer.Option(None, *flags, help=help_text, show_default=False)


@config_command("augplat.generators.config:GanConfig", flags=FLAGS)
def train(
    overrides: dict,
    method: str = typer.Argument(None, help=f"GAN method: {METHOD_NAMES}.", show_default=False),
    config: Path = _opt("YAML file with GanConfig keys; flags override it.", "--config", "-c"),
    resume: str = _opt("Run id of an interrupted or paused run to continue.", "--resume"),
    stop_after: int = _opt("Pause (checkpoint, resumable) after this global step.", "--stop-after"),
    tracking_uri: str = TRACKING_URI,
    verbose: bool = VERBOSE,
) -> None:
    """Train a generator on prepared data; everything is logged to one MLflow run."""
    setup_logging(verbose)
    from augplat.errors import ConfigError
    from augplat.generators import GanConfig
    from augplat.quality import train_generator
    from augplat.runtime.progress import default_reporter
    from augplat.runtime.settings import build_config, read_yaml

    named = method or "method" in overrides or (config and "method" in read_yaml(config))
    if not named and not resume:
        raise ConfigError(f"name a GAN method ({METHOD_NAMES}) or --resume a run")
    if method is not None:
        overrides["method"] = method
    cfg = build_config(GanConfig, config, overrides)
    result = train_generator(
        cfg,
        tracking_uri=tracking_uri,
        resume=resume,
        stop_after=stop_after,
        overrides=overrides,
        reporter=default_reporter(),
    )
    for key, value in result.quality.items():
        typer.echo(f"{key}={value:.4f}")
    state = "finished" if result.completed else "paused"
    typer.echo(f"{result.method} {state} at step {result.steps}/{result.total_steps}")
    typer.echo(f"run_id={result.run_id}")


Group.add("train", train)


@app.command("sample")
def sample(
    run: str = typer.Argument(..., help="GAN run id (or an imported generator's name)."),
    n: int = typer.Option(8, "--n", "-n", help="Images per class / per row."),
    out: Path = _opt("PNG to write [default: samples_<run>.png].", "--out", "-o"),
    data: str = _opt("Dataset with source images (default: the run's).", "--data", "-d"),
    strength: float = _opt("Show variations of this strength instead.", "--strength"),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise / source images."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Write a grid of samples from a run's generator."""
    setup_logging(False)
    from augplat.generators.sampling import sample_grid

    path = sample_grid(
        run,
        n=n,
        out=out,
        data=data,
        strength=strength,
        seed=seed,
        device=device,
        tracking_uri=tracking_uri,
    )
    typer.echo(f"wrote {path}")


@app.command("eval")
def evaluate(
    run: str = typer.Argument(..., help="GAN run id (or an imported generator's name)."),
    classifier: str = _opt("Judge: run id of an `augplat train` run.", "--classifier"),
    samples: int = _opt("Synthetic images (default: the run's eval_samples).", "--samples"),
    data: str = _opt("Dataset (required for imported translators).", "--data", "-d"),
    allow_foreign_generator: bool = typer.Option(
        False,
        "--allow-foreign-generator",
        help="Evaluate on a dataset whose train split lacks some of the generator's training "
        "images (never one holding them in val/test); recorded on the run.",
    ),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Measure FID/KID (classifier features), label fidelity and CAS; log them to the run.

    The run records which dataset the metrics came from (``augplat.eval_dataset`` tags)."""
    setup_logging(False)
    from augplat.quality import evaluate_run

    metrics = evaluate_run(
        run,
        classifier=classifier,
        n_samples=samples,
        data=data,
        device=device,
        tracking_uri=tracking_uri,
        allow_foreign=allow_foreign_generator,
    )
    for key, value in metrics.items():
        typer.echo(f"{key}={value:.4f}")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="TorchScript image-to-image model (.pt)."),
    name: str = typer.Option(..., "--name", help="Name of the generator (also the run name)."),
    channels: int = typer.Option(3, "--channels", help="Channels the model takes (1 or 3)."),
    size: int = typer.Option(32, "--size", help="Side of the validation batch."),
    value_range: str = typer.Option("0,1", "--range", help="Pixel range of the model: 0,1 | -1,1."),
    experiment: str = typer.Option("augplat", "--experiment", help="MLflow experiment."),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Register a TorchScript translator (CartoonGAN, AnimeGAN ports, ...) as a generator run."""
    setup_logging(False)
    from augplat.generators import import_translator

    run_id = import_translator(
        file,
        name,
        channels=channels,
        size=size,
        value_range=value_range,
        experiment=experiment,
        tracking_uri=tracking_uri,
    )
    typer.echo(f"imported {file} as '{name}'")
    typer.echo(f"run_id={run_id}")


app.command("register")(gan_register.register)
