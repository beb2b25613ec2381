"""``augplat gan``: train, sample, evaluate and import generators.

How to run::

    augplat gan train cgan --data digits --epochs 20 --ema 0.999 --ada
    augplat gan train stargan --data fer --epochs 50
    augplat gan train cyclegan --data fer --data-b anime --channels 3 --size 48
    augplat gan train --resume <run-id>
    augplat gan sample <run-id> --n 8 --out grid.png
    augplat gan eval <run-id> [--classifier <train-run-id>]
    augplat gan import cartoongan.pt --name hayao --channels 3 --range -1,1

Options left unset fall back to the config file, then to the method's defaults.
"""

from __future__ import annotations

from pathlib import Path

import typer

from augplat.cli.common import TRACKING_URI_HELP, setup_logging

# Kept literal so `--help` needs no torch import; a test checks it matches the registry.
METHOD_NAMES = "cgan, cyclegan, stargan"

app = typer.Typer(
    help="Train GAN generators, sample and evaluate them, import pretrained translators.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _opt(help_text: str, *flags: str):
    return typer.Option(None, *flags, help=help_text, show_default=False)


def _flag(on: str, help_text: str):
    return typer.Option(None, on, help=help_text, show_default=False)


@app.command("train")
def train(
    method: str = typer.Argument(None, help=f"GAN method: {METHOD_NAMES}.", show_default=False),
    config: Path = _opt("YAML file with GanConfig keys; flags override it.", "--config", "-c"),
    data: str = _opt("Prepared dataset (domain A for cyclegan) [default: digits].", "--data", "-d"),
    classes: str = _opt("Comma-separated classes of --data to keep.", "--classes"),
    data_b: str = _opt("cyclegan domain B: prepared dataset (e.g. a prepared folder).", "--data-b"),
    classes_b: str = _opt("Comma-separated classes for domain B.", "--classes-b"),
    size: int = _opt("Resize all images to SIZE×SIZE.", "--size"),
    channels: int = _opt("Convert all images to 1 or 3 channels.", "--channels"),
    ngf: int = _opt("Generator width [default: 64].", "--ngf"),
    ndf: int = _opt("Discriminator width [default: 64].", "--ndf"),
    n_blocks: int = _opt("ResNet generator blocks [default: 6].", "--n-blocks"),
    n_layers_d: int = _opt("PatchGAN depth (default: fits the size).", "--n-layers-d"),
    z_dim: int = _opt("cgan noise size [default: 128].", "--z-dim"),
    gan_loss: str = _opt("lsgan | wgangp | hinge (default: per method).", "--gan-loss", "--loss"),
    lambda_cycle: float = _opt("Cycle loss weight [default: 10].", "--lambda-cycle"),
    lambda_identity: float = _opt("Identity weight × lambda [default: 0.5].", "--lambda-identity"),
    pool_size: int = _opt("Image pool size, 0 = off [default: 50].", "--pool-size"),
    lambda_cls: float = _opt("Domain classification weight [default: 1].", "--lambda-cls"),
    lambda_rec: float = _opt("Reconstruction weight [default: 10].", "--lambda-rec"),
    lambda_gp: float = _opt("Gradient penalty weight [default: 10].", "--lambda-gp"),
    mix_prob: float = _opt("stargan: share of mixed targets [default: 0.25].", "--mix-prob"),
    diffaug: str = _opt(
        "DiffAugment ops, '' = off [default: color,translation,cutout].", "--diffaug"
    ),
    ada: bool = _flag("--ada/--no-ada", "Adaptive augmentation probability (ADA heuristic)."),
    ada_target: float = _opt("ADA target r_t [default: 0.6].", "--ada-target"),
    ada_kimg: float = _opt("ADA speed in kimg for p 0→1 [default: 100].", "--ada-kimg"),
    epochs: int = _opt("Epochs at constant lr [default: 10].", "--epochs", "-e"),
    decay_epochs: int = _opt("Further epochs with linear lr decay [default: 0].", "--decay-epochs"),
    max_steps: int = _opt("Step budget: stop training after N steps.", "--max-steps"),
    batch_size: int = _opt("Batch size (default: per method).", "--batch-size", "-b"),
    lr: float = _opt("Generator lr (default: per method).", "--lr"),
    lr_d: float = _opt("Discriminator lr (default: --lr).", "--lr-d"),
    beta1: float = _opt("Adam beta1 [default: 0.5].", "--beta1"),
    n_critic: int = _opt("D steps per G step (default: per method).", "--n-critic"),
    ema: float = _opt("EMA decay of generator weights, 0 = off [default: 0].", "--ema"),
    seed: int = _opt("Seed for everything [default: 0].", "--seed"),
    device: str = _opt("auto | cpu | cuda [default: auto].", "--device"),
    amp: bool = _flag("--amp/--no-amp", "bf16 autocast on CUDA [default: on]."),
    log_every: int = _opt("Steps between loss logs [default: 20].", "--log-every"),
    checkpoint_every: int = _opt("Steps between checkpoints [default: 200].", "--checkpoint-every"),
    preview_images: int = _opt(
        "Images per row of the sample grids [default: 8].", "--preview-images"
    ),
    eval: bool = _flag("--eval/--no-eval", "Quality metrics at the end [default: on]."),
    eval_samples: int = _opt("Synthetic images for the metrics [default: 1000].", "--eval-samples"),
    classifier: str = _opt("Judge: run id of an `augplat train` run.", "--classifier"),
    experiment: str = _opt("MLflow experiment [default: augplat].", "--experiment"),
    run_name: str = _opt("MLflow run name.", "--run-name"),
    resume: str = _opt("Run id of an interrupted or paused run to continue.", "--resume"),
    stop_after: int = _opt("Pause (checkpoint, resumable) after this global step.", "--stop-after"),
    tracking_uri: str = _opt(TRACKING_URI_HELP, "--tracking-uri"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Train a generator on prepared data; everything is logged to one MLflow run."""
    setup_logging(verbose)
    overrides = {k: v for k, v in locals().items() if k not in _NOT_CONFIG}
    from augplat.errors import ConfigError
    from augplat.generators import GanConfig
    from augplat.quality import train_generator
    from augplat.runtime.progress import default_reporter
    from augplat.runtime.settings import build_config, read_yaml

    if method is None and not resume and not (config and "method" in read_yaml(config)):
        raise ConfigError(f"name a GAN method ({METHOD_NAMES}) or --resume a run")
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


_NOT_CONFIG = {"config", "resume", "stop_after", "tracking_uri", "verbose", "method"}


@app.command("sample")
def sample(
    run: str = typer.Argument(..., help="GAN run id (or an imported generator's name)."),
    n: int = typer.Option(8, "--n", "-n", help="Images per class / per row."),
    out: Path = _opt("PNG to write [default: samples_<run>.png].", "--out", "-o"),
    data: str = _opt("Dataset with source images (default: the run's).", "--data", "-d"),
    strength: float = _opt("Show variations of this strength instead.", "--strength"),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise / source images."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    tracking_uri: str = _opt(TRACKING_URI_HELP, "--tracking-uri"),
) -> None:
    """Write a grid of samples from a run's generator."""
    setup_logging(False)
    from augplat.generators.registry import sample_grid

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
    tracking_uri: str = _opt(TRACKING_URI_HELP, "--tracking-uri"),
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
    tracking_uri: str = _opt(TRACKING_URI_HELP, "--tracking-uri"),
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
