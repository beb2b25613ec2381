"""Training overhead: an `augplat train` epoch against a bare PyTorch loop.

Same model (create_model), same data (the embedded digits, in memory), same augmentation
(ClassicAugment "default"), same batch size and a validation pass per epoch in both. augplat's
epoch additionally logs metrics to MLflow, writes best/last checkpoints and reports progress.

An epoch's cost is the wall time from the end of one epoch to the end of the next (augplat's
``on_epoch`` callback fires after its logging, checkpointing and progress), so start-up, the
first (warm-up) epoch and the final evaluation are left out. Rounds alternate which side runs
first, so slow drift of a shared machine hits both; the figures are medians over every measured
epoch of every round.

How to run::

    .venv/bin/python bench/bench_train_overhead.py [--model resnet18] [--epochs 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time

import torch
from common import result


def _durations(ends: list[float]) -> list[float]:
    """Per-epoch wall times from epoch-end timestamps, the first (warm-up) epoch left out."""
    return [b - a for a, b in itertools.pairwise(ends)]


def bare_epochs(model_name: str, epochs: int, batch_size: int) -> list[float]:
    """Epoch times of a plain loop: shuffle, augment, forward, backward, step, validate."""
    from augplat.augment import ClassicAugment
    from augplat.classify.backbones import create_model
    from augplat.data import load_dataset

    ds = load_dataset("digits")
    x_train, y_train = (torch.from_numpy(a) for a in ds.arrays("train"))
    x_val, y_val = (torch.from_numpy(a) for a in ds.arrays("val"))
    torch.manual_seed(0)
    model = create_model(model_name, ds.num_classes, ds.shape[0], ds.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    aug, gen = ClassicAugment("default"), torch.Generator().manual_seed(0)
    ends = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            loss = torch.nn.functional.cross_entropy(
                model(aug(x_train[idx].float() / 255, gen)), y_train[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for i in range(0, len(x_val), 512):
                model(x_val[i : i + 512].float() / 255).argmax(1).eq(y_val[i : i + 512]).sum()
        ends.append(time.perf_counter())
    return _durations(ends)


def augplat_epochs(model_name: str, epochs: int, batch_size: int) -> list[float]:
    """Epoch times of `train_classifier` (tracking, checkpoints, progress included)."""
    from augplat.classify.config import TrainConfig
    from augplat.classify.finetune import train_classifier

    cfg = TrainConfig(
        data="digits",
        model=model_name,
        epochs=epochs,
        batch_size=batch_size,
        log_model=False,
        scheduler="none",
    )
    ends: list[float] = []
    train_classifier(cfg, on_epoch=lambda epoch, metrics: ends.append(time.perf_counter()))
    return _durations(ends)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--epochs", type=int, default=4, help="per run; the first is warm-up")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUGPLAT_HOME"] = os.path.join(tmp, "home")
        os.chdir(tmp)  # MLflow's default store (./mlflow.db) lands in the temp dir
        from augplat.data import prepare_digits

        prepare_digits()
        augplat_epochs(args.model, 1, args.batch_size)  # creates the store, imports MLflow
        for round_ in range(args.rounds):
            sides = [(bare, bare_epochs), (ours, augplat_epochs)]
            for times, run in sides if round_ % 2 == 0 else sides[::-1]:
                times += run(args.model, args.epochs, args.batch_size)
            print(
                f"round {round_ + 1}: bare {statistics.median(bare[-args.epochs + 1 :]):.3f}s, "
                f"augplat {statistics.median(ours[-args.epochs + 1 :]):.3f}s per epoch"
            )
    base, mine = statistics.median(bare), statistics.median(ours)
    print(
        f"{args.model} on digits, batch {args.batch_size}, {len(bare)} epochs each: "
        f"bare {base:.3f}s/epoch, augplat {mine:.3f}s/epoch ({(mine / base - 1) * 100:+.1f}%)"
    )
    result("train-epoch", base, mine, "s/epoch", higher_is_better=False)


if __name__ == "__main__":
    main()
