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

from augplat.cli.common import TRACKING_URI_HELP, setup_logging

# Kept literal so `--help` needs no torch import; a test checks it matches the registry.
BACKBONE_NAMES = (
    "resnet18, resnet34, resnet50, densenet121, densenet201, vgg16, mobilenet_v3_small, "
    "efficientnet_b0, simplecnn"
)


def _opt(help_text: str, *flags: str):
    return typer.Option(None, *flags, help=help_text, show_default=False)


def train(
    config: Path = _opt("YAML file with TrainConfig keys; flags override it.", "--config", "-c"),
    data: str = _opt("Prepared dataset name or path [default: digits].", "--data", "-d"),
    model: str = _opt(f"Backbone: {BACKBONE_NAMES} [default: resnet18].", "--model", "-m"),
    stem: str = _opt("auto | small (32–64 px) | standard [default: auto].", "--stem"),
    weights: str = _opt(
        "none | imagenet (local torch cache only) | PATH [default: none].", "--weights"
    ),
    freeze_backbone: bool = typer.Option(
        None,
        "--freeze-backbone/--finetune",
        help="Feature extraction vs full fine-tuning.",
        show_default=False,
    ),
    image_size: int = _opt(
        "Resize inputs to this size (default: keep the dataset's).", "--image-size"
    ),
    epochs: int = _opt("Epochs [default: 10].", "--epochs", "-e"),
    batch_size: int = _opt("Batch size [default: 64].", "--batch-size", "-b"),
    eval_batch_size: int = _opt("Evaluation batch size [default: 512].", "--eval-batch-size"),
    optimizer: str = _opt("adam | adamw | sgd | adagrad [default: adam].", "--optimizer"),
    lr: float = _opt("Learning rate [default: 1e-3].", "--lr"),
    momentum: float = _opt("SGD momentum [default: 0.9].", "--momentum"),
    nesterov: bool = typer.Option(
        None, "--nesterov/--no-nesterov", help="Nesterov SGD.", show_default=False
    ),
    weight_decay: float = _opt("Weight decay [default: 1e-4].", "--weight-decay", "--wd"),
    scheduler: str = _opt("cosine | plateau | step | none [default: cosine].", "--scheduler"),
    step_size: int = _opt("Step scheduler period in epochs [default: 10].", "--step-size"),
    gamma: float = _opt("Step/plateau decay factor [default: 0.1].", "--gamma"),
    label_smoothing: float = _opt("Label smoothing [default: 0].", "--label-smoothing"),
    early_stop: int = _opt(
        "Stop after N epochs without val gain; 0 = off [default: 0].", "--early-stop"
    ),
    monitor: str = _opt("val_acc | val_loss | val_macro_f1 [default: val_acc].", "--monitor"),
    aug: str = _opt(
        "none | classic | gan (GAN variants, needs --generator) | both (GAN, then classic) "
        "[default: classic].",
        "--aug",
    ),
    aug_policy: str = _opt(
        "Policy name (none, light, default, strong, albumentations) or YAML.", "--aug-policy"
    ),
    aug_strength: float = _opt(
        "Scale of augmentation magnitudes [default: 1.0].", "--aug-strength"
    ),
    gan_prob: float = _opt(
        "GAN augmentation: probability each sample is replaced [default: 0.5].", "--gan-prob"
    ),
    generator: str = _opt(
        "GAN run id (or imported generator name) for --aug gan|both.", "--generator"
    ),
    gan_strength: float = _opt(
        "Same-label variation strength in [0, 1] for class-code generators (stargan) "
        "[default: 0.3].",
        "--gan-strength",
    ),
    gan_bank: int = _opt(
        "Precompute K GAN variants per train image and draw one per epoch; 0 = generate online "
        "[default: 0].",
        "--gan-bank",
    ),
    train_on: str = _opt(
        "original | synthetic (generated variants of the train split only) | united (original "
        "+ generated) | expanded (train split of --expanded) [default: original].",
        "--train-on",
    ),
    synthetic_variants: int = _opt(
        "Generated variants per train image for --train-on synthetic|united [default: 1].",
        "--synthetic-variants",
    ),
    expanded: str = _opt(
        "Dataset made by `augplat expand` from --data, for --train-on expanded.", "--expanded"
    ),
    test_mode: str = _opt(
        "regular | gan (translated test set) | both (average of the two: test-time "
        "augmentation; needs a label-free translator) [default: regular].",
        "--test-mode",
    ),
    tta: str = _opt(
        "none | hflip | tencrop: test-time augmentation, logged as test_tta_* beside the plain "
        "test metrics [default: none].",
        "--tta",
    ),
    fold: int = _opt(
        "Fold I of a dataset prepared with --folds K: it tests, fold I+1 validates.", "--fold"
    ),
    folds: int = typer.Option(
        0,
        "--folds",
        help="Train every fold 0..K-1 of a dataset prepared with --folds K (one "
        "tagged group, like --seeds; with --seeds, every seed runs every fold).",
    ),
    allow_foreign_generator: bool = typer.Option(
        None,
        "--allow-foreign-generator",
        help="Use a generator trained on images outside --data's train split (never on its "
        "val/test images); the run is tagged augplat.foreign_generator=true.",
        show_default=False,
    ),
    ccl_lambda: float = _opt(
        "Contrastive-center loss weight; 0 = off [default: 0].", "--ccl-lambda"
    ),
    seed: int = _opt("Seed for everything [default: 0].", "--seed"),
    seeds: int = typer.Option(
        1, "--seeds", help="Train K times with seeds seed, seed+1, ... (one tagged group)."
    ),
    device: str = _opt("auto | cpu | cuda [default: auto].", "--device"),
    amp: bool = typer.Option(
        None, "--amp/--no-amp", help="Mixed precision on CUDA [default: on].", show_default=False
    ),
    channels_last: bool = typer.Option(
        None,
        "--channels-last/--no-channels-last",
        help="channels_last on CUDA [default: on].",
        show_default=False,
    ),
    compile: bool = typer.Option(
        None, "--compile/--no-compile", help="torch.compile the model.", show_default=False
    ),
    tsne: bool = typer.Option(
        None, "--tsne/--no-tsne", help="t-SNE plot of test features.", show_default=False
    ),
    experiment: str = _opt("MLflow experiment [default: augplat].", "--experiment"),
    run_name: str = _opt("MLflow run name.", "--run-name"),
    log_model: bool = typer.Option(
        None, "--log-model/--no-log-model", help="Log the model [default: on].", show_default=False
    ),
    checkpoint_interval: float = _opt(
        "Seconds between checkpoint writes; 0: every epoch [default: 30]. The last finished "
        "epoch is always written at the end and on Ctrl-C.",
        "--checkpoint-interval",
    ),
    resume: str = _opt("Run id of an interrupted run to continue.", "--resume"),
    tracking_uri: str = _opt(TRACKING_URI_HELP, "--tracking-uri"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Fine-tune a classifier on a prepared dataset; everything is logged to one MLflow run."""
    setup_logging(verbose)
    overrides = {k: v for k, v in locals().items() if k not in _NOT_CONFIG}
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


_NOT_CONFIG = {"config", "resume", "tracking_uri", "verbose", "seeds", "folds"}


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
