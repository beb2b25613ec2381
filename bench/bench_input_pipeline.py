"""Input pipeline: augmented training batches per second.

Baseline: the common way — a torchvision ImageFolder of PNG files, PIL transforms with the same
augmentations (flip, affine, random-resized crop, brightness/contrast, erasing), a DataLoader
with 2 workers. augplat: the prepared uint8 tensor indexed per batch and augmented as a whole
batch by ``ClassicAugment("default")`` (what ``augplat train`` does), on the same CPU.

How to run::

    .venv/bin/python bench/bench_input_pipeline.py [--images 4096] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import result


def _write_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    from PIL import Image

    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[0]).save(folder / f"{i}.png")


def baseline_rate(root: Path, batch_size: int, size: int) -> float:
    """Batches/s of ImageFolder + PIL transforms + DataLoader(num_workers=2)."""
    from torchvision import datasets, transforms

    tf = transforms.Compose(
        [
            transforms.Grayscale(1),
            transforms.RandomHorizontalFlip(0.5),
            transforms.RandomResizedCrop(size, scale=(0.8, 1.0), antialias=True),
            transforms.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1)),
            transforms.ColorJitter(brightness=0.2, contrast=0.2),
            transforms.ToTensor(),
            transforms.RandomErasing(p=0.25),
        ]
    )
    loader = torch.utils.data.DataLoader(
        datasets.ImageFolder(str(root), transform=tf),
        batch_size=batch_size,
        shuffle=True,
        num_workers=2,
        persistent_workers=True,
    )
    for _ in loader:  # warm-up epoch: worker start, file cache
        pass
    start, batches = time.perf_counter(), 0
    for _ in loader:
        batches += 1
    return batches / (time.perf_counter() - start)


def augplat_rate(images: np.ndarray, batch_size: int) -> float:
    """Batches/s of augplat's batched tensor path (index, scale, augment)."""
    from augplat.augment import ClassicAugment
    from augplat.classify.engine import prepare_batch
    from augplat.runtime.device import batch_indices, epoch_generator

    data = torch.from_numpy(images)
    aug = ClassicAugment("default")

    def epoch(e: int) -> int:
        gen, n = epoch_generator(0, e), 0
        for idx in batch_indices(len(data), batch_size, gen):
            prepare_batch(data[idx], aug, gen)
            n += 1
        return n

    epoch(0)
    start = time.perf_counter()
    batches = epoch(1)
    return batches / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--size", type=int, default=48)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.images, 1, args.size, args.size), dtype=np.uint8)
    labels = rng.integers(0, 7, args.images)
    with tempfile.TemporaryDirectory() as tmp:
        _write_folder(Path(tmp), images, labels)
        base = baseline_rate(Path(tmp), args.batch_size, args.size)
    ours = augplat_rate(images, args.batch_size)
    print(
        f"{args.images} images {args.size}px, batch {args.batch_size}, torch threads "
        f"{torch.get_num_threads()}"
    )
    result("input-pipeline", base, ours, "batches/s", higher_is_better=True)


if __name__ == "__main__":
    main()
