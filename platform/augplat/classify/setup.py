"""What a training run is made of, built from its config before the run exists.

:func:`build_setup` resolves the dataset (fold view, TTA check), the device, the generator (loaded
and checked against the data first), the model with the train split's normalisation, the train
set (``train_on``), the augmenters, the loss, optimiser and scheduler. User errors surface here,
before any MLflow run is opened; :mod:`augplat.classify.finetune` runs the epochs and
:mod:`augplat.classify.report` tests the result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from augplat.classify.config import TrainConfig
from augplat.classify.engine import build_optimizer, build_scheduler
from augplat.runtime.device import resolve_device


@dataclass
class TrainSetup:
    """Everything built from the config before the run starts (model, data, augmenters)."""

    cfg: TrainConfig
    dataset: Any
    device: torch.device
    model: torch.nn.Module
    augment: Any
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    loss_fn: Any  # a classify.losses.TrainLoss (its centres train with the model)
    generative: Any = None  # the GanAugment when any part of the run uses the generator
    train_info: dict[str, Any] = field(default_factory=dict)  # what train_on built


def seed_everything(seed: int) -> None:
    """One seed drives Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _gan_augment(cfg: TrainConfig, ds, device, tracking_uri: str | None):
    """The ``GanAugment`` the run uses (GAN augmentation, synthetic/united training, test
    modes; else None) and ``cfg`` naming its run id.

    The generator is loaded and checked against the data before anything else is built; the
    run's config records the resolved run id (an imported generator may be given by name).
    """
    if not cfg.uses_generator():
        return None, cfg
    from augplat.augment.generative import load_gan_augment
    from augplat.classify.train_sets import check_test_mode

    gan, run_id = load_gan_augment(cfg, ds, device, tracking_uri)
    check_test_mode(cfg, gan)
    return gan, cfg.model_copy(update={"generator": run_id})


def _augment(cfg: TrainConfig, gan, train: tuple[torch.Tensor, torch.Tensor], hflip: bool):
    """The batch augmenter: classic, GAN (its bank built here), GAN then classic, or None.

    ``hflip`` is the dataset's word on whether a mirror keeps the label (not for digits).
    """
    from augplat.augment import ChainAugment, ClassicAugment

    classic = None
    if cfg.aug in ("classic", "both"):
        classic = ClassicAugment(cfg.aug_policy, cfg.aug_strength, hflip=hflip)
    if gan is None or cfg.aug not in ("gan", "both"):
        return classic
    if cfg.gan_bank and cfg.gan_prob > 0:
        gan.build_bank(*train, k=cfg.gan_bank, seed=cfg.seed)
    return ChainAugment(gan, classic) if classic is not None else gan


PROBE_IMAGES = 2000  # generated images checked against val/test in online GAN mode


def _near_val_test_probe(ds, gan, train, seed: int) -> dict[str, int]:
    """Generated train images that are near-copies of a val/test image: the whole bank, or
    in online mode one variant each of up to :data:`PROBE_IMAGES` seeded train images."""
    from augplat.classify.train_sets import near_val_test

    if gan.bank is not None:
        return {"gan_bank_near_val_test": near_val_test(ds, gan.bank.flatten(0, 1))}
    images, labels = train[0], train[1]
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    pick = pick[:PROBE_IMAGES].to(images.device)
    probe = gan.generate_bank(images[pick], labels[pick], k=1, seed=seed).flatten(0, 1)
    return {"gan_near_val_test": near_val_test(ds, probe), "gan_near_val_test_probe": len(pick)}


def _load_data(cfg: TrainConfig):
    """The dataset a run trains on (its fold view), refused before anything is built."""
    from augplat.data import load_dataset
    from augplat.data.store import check_classification

    ds = check_classification(load_dataset(cfg.data))
    if cfg.fold is not None:  # --fold I: fold I tests, fold I+1 validates, the rest train
        ds = ds.fold_view(cfg.fold)
    if cfg.tta != "none":  # refuse a mirror TTA on digits before any training
        from augplat.classify.tta import tta_views

        tta_views(cfg.tta, ds.hflip)
    if len(ds.indices("train")) == 0 or len(ds.indices("val")) == 0:
        from augplat.errors import DataError

        raise DataError(f"dataset '{ds.name}' needs non-empty train and val splits")
    return ds


def _create_model(cfg: TrainConfig, ds, train_np, device) -> torch.nn.Module:
    """The backbone, normalised by the train split's per-channel mean and std."""
    from augplat.classify.backbones import create_model

    train_imgs = train_np[0].astype(np.float32) / 255.0
    mean = train_imgs.mean(axis=(0, 2, 3)).tolist()
    std = np.maximum(train_imgs.std(axis=(0, 2, 3)), 1e-3).tolist()
    del train_imgs
    model = create_model(
        cfg.model,
        num_classes=ds.num_classes,
        in_channels=ds.shape[0],
        image_size=cfg.image_size or ds.shape[1],
        stem=cfg.stem,
        weights=cfg.weights,
        freeze_backbone=cfg.freeze_backbone,
        mean=mean,
        std=std,
    ).to(device)
    if cfg.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model


def build_setup(cfg: TrainConfig, tracking_uri: str | None = None) -> TrainSetup:
    """Everything a run needs, built from ``cfg``; user errors raise before any run exists."""
    from augplat.classify.losses import build_loss
    from augplat.classify.train_sets import training_set

    seed_everything(cfg.seed)
    ds = _load_data(cfg)
    device = resolve_device(cfg.device)
    gan, cfg = _gan_augment(cfg, ds, device, tracking_uri)
    train_np = ds.arrays("train")  # a copy out of the dataset: taken once, used twice
    model = _create_model(cfg, ds, train_np, device)
    tensors = {
        split: tuple(torch.from_numpy(a).to(device) for a in ds.arrays(split))
        for split in ("val", "test")
    }
    if cfg.test_mode != "regular":
        # Selection sees validation the way the test will be seen: translated as the test is.
        from augplat.classify.train_sets import translated_test_set

        val_images, val_labels = tensors["val"]
        tensors["val_gan"] = (translated_test_set(gan, val_images, seed=cfg.seed), val_labels)
    *tensors["train"], train_info = training_set(cfg, ds, train_np, gan, device)
    augment = _augment(cfg, gan, tensors["train"], ds.hflip)
    if gan is not None and cfg.aug in ("gan", "both") and cfg.gan_prob > 0:  # copies leak val/test
        train_info = {**train_info, **_near_val_test_probe(ds, gan, tensors["train"], cfg.seed)}
    loss_fn = build_loss(cfg, ds.num_classes, model.feature_dim).to(device)
    optimizer = build_optimizer(cfg, [*model.parameters(), *loss_fn.parameters()])
    use_scaler = cfg.amp and device.type == "cuda" and not torch.cuda.is_bf16_supported()
    return TrainSetup(
        cfg=cfg,
        dataset=ds,
        device=device,
        model=model,
        augment=augment,
        tensors=tensors,
        optimizer=optimizer,
        scheduler=build_scheduler(cfg, optimizer),
        scaler=torch.amp.GradScaler("cuda") if use_scaler else None,
        loss_fn=loss_fn,
        generative=gan,
        train_info=train_info,
    )


def forward_model(s: TrainSetup) -> torch.nn.Module:
    """The module the loop calls: compiled when asked (weights stay shared with ``s.model``)."""
    return torch.compile(s.model) if s.cfg.compile else s.model
