"""The epoch loop's building blocks: device-resident batches, one training epoch, prediction.

Why no DataLoader: every dataset augplat trains on fits in memory as uint8 (all of FER2013 is
83 MB), so batches are gathered by indexing a device tensor and augmented as whole batches.
No worker processes, no PIL, no per-sample Python: this is the fast path on CPU and GPU alike.

Reproducibility: shuffling and augmentation draw from a CPU ``torch.Generator`` seeded from
``(seed, epoch)``, and the global torch seed is reset per epoch (dropout), so an epoch's
randomness does not depend on what ran before it: a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from augplat.runtime.device import autocast, batch_indices


def prepare_batch(
    images_u8: torch.Tensor,
    augment: Callable | None = None,
    generator: torch.Generator | None = None,
    image_size: int | None = None,
    channels_last: bool = False,
    labels: torch.Tensor | None = None,
    index: torch.Tensor | None = None,
) -> torch.Tensor:
    """uint8 batch → float [0, 1], augmented, resized and laid out for the model.

    Augmenters that set ``uses_labels`` (GAN augmentation) also get the batch's ``labels`` and
    train-set ``index``; the others are called as ``augment(x, generator)``.
    """
    x = images_u8.float().div_(255.0)
    if augment is not None:
        if getattr(augment, "uses_labels", False):
            x = augment(x, generator, labels=labels, index=index)
        else:
            x = augment(x, generator)
    if image_size is not None and tuple(x.shape[-2:]) != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def train_epoch(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable,
    batch_size: int,
    generator: torch.Generator,
    augment: Callable | None = None,
    image_size: int | None = None,
    channels_last: bool = False,
    amp: bool = False,
    scaler: torch.amp.GradScaler | None = None,
    on_batch: Callable[[], None] | None = None,
) -> dict[str, float]:
    """One pass over the training images; returns ``train_loss`` and ``train_acc``."""
    model.train()
    needs_features = getattr(loss_fn, "needs_features", False)
    total_loss = torch.zeros((), device=images.device)
    correct = torch.zeros((), device=images.device, dtype=torch.long)
    seen = 0
    for idx in batch_indices(len(images), batch_size, generator):
        idx = idx.to(images.device)
        y = labels[idx]
        x = prepare_batch(
            images[idx], augment, generator, image_size, channels_last, labels=y, index=idx
        )
        with autocast(images.device, amp):
            if needs_features:  # a feature regulariser (contrastive-center loss)
                logits, features = model(x, with_features=True)
                loss = loss_fn(logits, y, features)
            else:
                logits = model(x)
                loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        # Accumulate on device: a .item() per batch would sync the GPU every step.
        total_loss += loss.detach() * len(idx)
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(idx)
        if on_batch is not None:
            on_batch()
    seen = max(seen, 1)
    return {"train_loss": float(total_loss) / seen, "train_acc": float(correct) / seen}


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int,
    image_size: int | None = None,
    channels_last: bool = False,
    amp: bool = False,
    embed: bool = False,
) -> np.ndarray:
    """Logits (or penultimate features with ``embed``) for every image, as float32 numpy."""
    model.eval()
    outputs = []
    for idx in batch_indices(len(images), batch_size):
        x = prepare_batch(images[idx.to(images.device)], None, None, image_size, channels_last)
        with autocast(images.device, amp):
            out = model.embed(x) if embed else model(x)
        outputs.append(out.float().cpu())
    if not outputs:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(outputs).numpy()


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    """Adam, AdamW, SGD (momentum, nesterov) or Adagrad from a :class:`TrainConfig`."""
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(cfg, optimizer):
    """cosine (over all epochs), plateau (on the monitored val metric), step, or None."""
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.scheduler == "plateau":
        mode = "min" if cfg.monitor == "val_loss" else "max"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=cfg.gamma, patience=cfg.plateau_patience
        )
    return None


def step_scheduler(scheduler, monitored: float) -> None:
    """Advance a scheduler once per epoch (plateau needs the monitored value)."""
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(monitored)
    else:
        scheduler.step()
