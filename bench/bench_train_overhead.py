"""Training overhead: an `augplat train` epoch against a bare PyTorch loop.

Same model (create_model), same data (the embedded digits, in memory), same augmentation
(ClassicAugment "default"), same batch size and a validation pass per epoch in both. augplat's
epoch additionally logs metrics to MLflow, writes best/last checkpoints atomically and reports
progress. The per-epoch cost is the marginal time of extra epochs, so start-up and the one-off
final evaluation cancel out: (T(1 + E epochs) - T(1 epoch)) / E.

How to run::

    .venv/bin/python bench/bench_train_overhead.py [--model resnet18] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from common import result


def bare_epoch_time(model_name: str, epochs: int, batch_size: int) -> float:
    """Seconds per epoch of a plain loop: shuffle, augment, forward, backward, step, validate."""
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
    start = time.perf_counter()
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
    return (time.perf_counter() - start) / epochs


def augplat_epoch_time(model_name: str, epochs: int, batch_size: int) -> float:
    """Marginal seconds per epoch of `train_classifier` (tracking, checkpoints included)."""
    from augplat.classify.finetune import train_classifier
    from augplat.config import TrainConfig

    def run(n: int) -> float:
        cfg = TrainConfig(
            data="digits",
            model=model_name,
            epochs=n,
            batch_size=batch_size,
            log_model=False,
            scheduler="none",
        )
        start = time.perf_counter()
        train_classifier(cfg)
        return time.perf_counter() - start

    one = min(run(1) for _ in range(2))
    many = min(run(1 + epochs) for _ in range(2))
    return (many - one) / epochs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUGPLAT_HOME"] = os.path.join(tmp, "home")
        os.chdir(tmp)  # MLflow's default store (./mlflow.db) lands in the temp dir
        from augplat.data import prepare_digits

        prepare_digits()
        bare = min(bare_epoch_time(args.model, args.epochs, args.batch_size) for _ in range(2))
        ours = augplat_epoch_time(args.model, args.epochs, args.batch_size)
    print(
        f"{args.model} on digits, batch {args.batch_size}: bare {bare:.3f}s/epoch, "
        f"augplat {ours:.3f}s/epoch ({(ours / bare - 1) * 100:+.1f}%)"
    )
    result("train-epoch", bare, ours, "s/epoch", higher_is_better=False)


if __name__ == "__main__":
    main()
