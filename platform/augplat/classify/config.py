"""The classifier training job's settings (:class:`TrainConfig`).

A config file is plain YAML whose keys are the fields of the config model; CLI flags override
single fields. Unknown keys are errors naming the key and the file, so a typo never silently
falls back to a default. The resolved config is what gets logged to MLflow as ``config.yaml``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from augplat.runtime.settings import JobConfig, build_config, read_yaml, to_yaml

# Kept literal so `augplat --help` needs no torch import; a test checks it matches the registry.
BACKBONE_NAMES = (
    "resnet18, resnet34, resnet50, densenet121, densenet201, vgg16, mobilenet_v3_small, "
    "efficientnet_b0, simplecnn"
)


class TrainConfig(JobConfig):
    """Everything that defines one classifier training run.

    Defaults follow the seeds' best FER2013 ResNet18 recipe (seed 001: Adam, lr 2e-4 region,
    cosine schedule) scaled for a laptop CPU: they train the embedded digits in about a minute.
    Each field is also an ``augplat train`` option; its description is the option's help.
    """

    # data and model
    data: str = Field("digits", description="prepared dataset name or path")
    model: str = Field("resnet18", description=f"backbone: {BACKBONE_NAMES}")
    stem: Literal["auto", "small", "standard"] = Field(
        "auto", description="input stem: small (32–64 px images), standard, or auto by size"
    )
    weights: str = Field("none", description="none | imagenet (local torch cache only) | PATH")
    freeze_backbone: bool = Field(False, description="feature extraction vs full fine-tuning")
    image_size: int | None = Field(
        None, ge=8, le=1024, description="resize inputs to this size (default: keep the dataset's)"
    )
    fold: int | None = Field(
        None, ge=0, description="fold I of a dataset prepared with --folds K: it tests, fold "
        "I+1 validates, the rest train; unset uses the prepared split",
    )  # fmt: skip

    # optimisation
    epochs: int = Field(10, ge=1, description="epochs")
    batch_size: int = Field(64, ge=1, description="batch size")
    optimizer: Literal["adam", "adamw", "sgd", "adagrad"] = Field("adam", description="optimizer")
    lr: float = Field(1e-3, gt=0, description="learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    nesterov: bool = Field(False, description="Nesterov SGD")
    weight_decay: float = Field(1e-4, ge=0, description="weight decay")
    scheduler: Literal["cosine", "plateau", "step", "none"] = Field(
        "cosine", description="learning-rate schedule"
    )
    step_size: int = Field(10, ge=1, description="step scheduler period in epochs")
    gamma: float = Field(0.1, gt=0, le=1, description="step/plateau decay factor")
    plateau_patience: int = Field(3, ge=0, description="plateau scheduler: epochs without gain")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="label smoothing")
    early_stop: int = Field(0, ge=0, description="stop after N epochs without val gain; 0 = off")
    monitor: Literal["val_acc", "val_loss", "val_macro_f1"] = Field(
        "val_acc", description="validation metric that picks the best epoch"
    )
    # Contrastive-center loss (Qi & Su 2017; seed 000 used lambda 0.55 with Adam, 1 with
    # Adagrad): pulls penultimate features to their class centre, away from the others.
    ccl_lambda: float = Field(0.0, ge=0, description="contrastive-center loss weight; 0 = off")

    # augmentation
    aug: Literal["none", "classic", "gan", "both"] = Field(
        "classic",
        description="none | classic | gan (GAN variants, needs --generator) | both (GAN, then "
        "classic)",
    )
    aug_policy: str = Field(
        "default", description="policy name (none, light, default, strong, albumentations) or YAML"
    )
    aug_strength: float = Field(1.0, ge=0, description="scale of augmentation magnitudes")
    # GAN augmentation (seeds 000/001): each train sample is replaced by a generated variant
    # with probability gan_prob; 0.5 is seed 000's cartoon share.
    gan_prob: float = Field(
        0.5, ge=0, le=1, description="GAN augmentation: probability each sample is replaced"
    )
    generator: str | None = Field(
        None,
        description="GAN run id (or imported generator name, or models:/NAME@ALIAS) for "
        "--aug gan|both",
    )
    gan_strength: float = Field(
        0.3, ge=0, le=1,
        description="same-label variation strength in [0, 1] for class-code generators (stargan)",
    )  # fmt: skip
    gan_bank: int = Field(
        0, ge=0, description="precompute K GAN variants per train image and draw one per epoch; "
        "0 = generate online",
    )  # fmt: skip
    # What the model trains and is tested on (seed 000's train_on_united / test_mode cartoon,
    # seed 001's expanded dataset).
    train_on: Literal["original", "synthetic", "united", "expanded"] = Field(
        "original",
        description="original | synthetic (generated variants of the train split only) | "
        "united (original + generated) | expanded (train split of --expanded)",
    )
    synthetic_variants: int = Field(
        1, ge=1, description="generated variants per train image for --train-on synthetic|united"
    )
    expanded: str | None = Field(
        None, description="dataset made by `augplat expand` from --data, for --train-on expanded"
    )
    test_mode: Literal["regular", "gan", "both"] = Field(
        "regular",
        description="regular | gan (translated test set) | both (average of the two: test-time "
        "augmentation; needs a label-free translator)",
    )
    allow_foreign_generator: bool = Field(
        False,
        description="use a generator trained on images outside --data's train split (never on "
        "its val/test images); the run is tagged augplat.foreign_generator=true",
    )
    tta: Literal["none", "hflip", "tencrop"] = Field(
        "none",
        description="test-time augmentation, logged as test_tta_* beside the plain test "
        "metrics: hflip (image + mirror) or tencrop (corners + centre, and mirrors)",
    )

    # runtime
    seed: int = Field(0, description="seed for everything")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="device")
    amp: bool = Field(True, description="mixed precision on CUDA")
    channels_last: bool = Field(True, description="use the channels_last memory format on CUDA")
    compile: bool = Field(False, description="torch.compile the model")
    eval_batch_size: int = Field(512, ge=1, description="evaluation batch size")
    tsne: bool = Field(False, description="t-SNE plot of penultimate test features")

    # tracking
    experiment: str = Field("augplat", description="MLflow experiment")
    run_name: str | None = Field(None, description="MLflow run name")
    log_model: bool = Field(True, description="log the best model with mlflow.pytorch")
    log_checkpoints: bool = Field(True, description="upload best/last checkpoints as artifacts")
    checkpoint_interval: float = Field(
        30.0,
        ge=0,
        description="seconds between checkpoint writes; 0: every epoch. The last finished "
        "epoch is always written at the end, on Ctrl-C and on errors",
    )
    test_eval: bool = Field(True, description="evaluate the best-val checkpoint on test once")

    @model_validator(mode="after")
    def _check_consistency(self) -> TrainConfig:
        if self.nesterov and self.optimizer != "sgd":
            raise ValueError("nesterov only applies to optimizer 'sgd'")
        for needs, what in (
            (self.aug in ("gan", "both"), f"aug '{self.aug}'"),
            (self.train_on in ("synthetic", "united"), f"train_on '{self.train_on}'"),
            (self.test_mode != "regular", f"test_mode '{self.test_mode}'"),
        ):
            if needs and not self.generator:
                raise ValueError(
                    f"{what} needs a generator: pass --generator RUN_ID (a GAN run id, or the "
                    "name of an imported generator)"
                )
        if self.train_on == "expanded" and not self.expanded:
            raise ValueError(
                "train_on 'expanded' needs --expanded NAME (a dataset made by `augplat expand`)"
            )
        if self.expanded and self.train_on != "expanded":
            raise ValueError("expanded is only used with train_on 'expanded'")
        if self.train_on in ("synthetic", "united") and self.aug in ("gan", "both"):
            raise ValueError(
                f"train_on '{self.train_on}' already trains on generated images; combine it "
                "with aug 'classic' or 'none', not a second GAN augmentation"
            )
        return self

    def uses_generator(self) -> bool:
        """True when any part of the run needs the generator."""
        return (
            self.aug in ("gan", "both")
            or self.train_on in ("synthetic", "united")
            or self.test_mode != "regular"
        )


__all__ = ["BACKBONE_NAMES", "TrainConfig", "build_config", "read_yaml", "to_yaml"]
