"""GAN throughput: training images/s per method, and expansion images/s (generate + write).

Training: a bare loop that calls the method's own ``train_step`` on the same data and batches
(no tracking, no checkpoints, no previews) against ``train_gan`` (per-step metrics to MLflow,
atomic checkpoints, a sample grid per epoch). Both are timed as the marginal cost of extra
steps, so network construction and start-up cancel out: (T(S0 + S) - T(S0)) / S.

Expansion: the common way (generate, then write one PNG per image into class folders, as the
seeds' scripts did) against ``augplat expand`` (generate, write the canonical uint8 arrays,
manifest, distribution plots, sample grid and an MLflow run).

How to run::

    .venv/bin/python bench/bench_gan.py [--size 32] [--steps 40] [--expand 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from common import result

METHODS = ("cgan", "stargan", "cyclegan")


def _config(method: str, size: int, **changes):
    from augplat.generators import GanConfig

    values = {
        "method": method,
        "data": "digits",
        "size": size,
        "ngf": 32,
        "ndf": 32,
        "n_blocks": 3,
        "batch_size": 32,
        "epochs": 100,
        "eval": False,
        "device": "cpu",
        "log_every": 10,
        "checkpoint_every": 20,
    }
    if method == "cyclegan":
        values["data_b"] = "digits_inv"
    return GanConfig.model_validate({**values, **changes})


def bare_images_per_s(method: str, size: int, steps: int, warmup: int = 3) -> float:
    """Images/s of the method's own train_step in a plain loop."""
    from augplat.generators.train import build
    from augplat.runtime.device import batch_indices

    cfg, data, gan = build(_config(method, size))
    gen = torch.Generator().manual_seed(0)
    order = [i for i in batch_indices(len(data.images), cfg.batch_size, gen)]
    images = 0
    for step in range(warmup + steps):
        if step == warmup:
            start, images = time.perf_counter(), 0
        idx = order[step % len(order)]
        gan.train_step(data.batch(idx, gen), step, gen)
        images += len(idx)
    return images / (time.perf_counter() - start)


def augplat_images_per_s(method: str, size: int, steps: int, warmup: int = 3) -> float:
    """Marginal images/s of train_gan (tracking, checkpoints, previews included)."""
    from augplat.generators import train_gan

    def run(n: int) -> float:
        start = time.perf_counter()
        train_gan(_config(method, size, max_steps=n))
        return time.perf_counter() - start

    run(warmup)  # first run pays one-off costs (store creation, imports): not measured
    short = min(run(warmup) for _ in range(2))
    long = min(run(warmup + steps) for _ in range(2))
    return steps * 32 / (long - short)


def bare_expand_images_per_s(run_id: str, n: int, out: Path) -> float:
    """Generate n cgan images and write one PNG each into class folders (the common way)."""
    from PIL import Image

    from augplat.generators.lookup import load_generator

    start = time.perf_counter()  # both sides start from a run id: loading counts
    gan = load_generator(run_id, None, "cpu")
    classes = gan.spec.classes
    labels = torch.arange(n) % len(classes)
    images = gan.generate(n, labels, generator=torch.Generator().manual_seed(0))
    pixels = images.mul(255).round().clamp(0, 255).to(torch.uint8).numpy()
    for i, (img, label) in enumerate(zip(pixels, labels.tolist(), strict=True)):
        folder = out / classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[0]).save(folder / f"gen_{i:06d}.png")
    return n / (time.perf_counter() - start)


def augplat_expand_images_per_s(run_id: str, n_per_class: int) -> float:
    from augplat.expand import ExpandConfig, expand_dataset

    cfg = ExpandConfig(data="digits", generator=run_id, per_class=n_per_class, device="cpu")
    start = time.perf_counter()
    expand_dataset(cfg)
    return n_per_class * 10 / (time.perf_counter() - start)


def _prepare(size: int) -> None:
    import numpy as np

    from augplat.data import ImageDataset, load_dataset, prepare_digits
    from augplat.data.store import save_dataset

    prepare_digits(size=size)
    ds = load_dataset("digits")
    inverted = ImageDataset(
        name="digits_inv",
        images=(255 - ds.images).astype(np.uint8),
        labels=ds.labels,
        split=ds.split,
        classes=ds.classes,
        source={"kind": "bench", "of": "digits"},
    )
    save_dataset(inverted)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--expand", type=int, default=2000, help="images to generate")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUGPLAT_HOME"] = os.path.join(tmp, "home")
        os.chdir(tmp)  # MLflow's default store (./mlflow.db) lands in the temp dir
        _prepare(args.size)
        ratios = []
        for method in METHODS:
            bare = bare_images_per_s(method, args.size, args.steps)
            ours = augplat_images_per_s(method, args.size, args.steps)
            ratios.append(ours / bare)
            print(
                f"{method} train, {args.size}px batch 32: bare {bare:.1f} img/s, "
                f"augplat {ours:.1f} img/s ({(ours / bare - 1) * 100:+.1f}%)",
                flush=True,
            )
        from augplat.generators import train_gan

        run_id = train_gan(_config("cgan", args.size, max_steps=2)).run_id
        per_class = max(1, args.expand // 10)
        bare = bare_expand_images_per_s(run_id, per_class * 10, Path(tmp) / "pngs")
        ours = augplat_expand_images_per_s(run_id, per_class)
        print(f"cgan expansion of {per_class * 10} images: bare {bare:.0f} img/s, ours {ours:.0f}")
        print(f"GAN training throughput, augplat/bare, mean over methods: {sum(ratios) / 3:.3f}")
    result("gan-expand", bare, ours, "img/s", higher_is_better=True)


if __name__ == "__main__":
    main()
