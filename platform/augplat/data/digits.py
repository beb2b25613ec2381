"""The embedded default: scikit-learn's handwritten digits, no download needed.

1,797 real 8x8 images (values 0..16) ship inside scikit-learn. They are scaled to 0..255, resized
to ``size`` (default 16: twice the source resolution, enough for the small-stem backbones and a
CPU epoch in seconds) and split 70/15/15, seeded and stratified. ``fraction`` keeps that share
of the train split only (val and test stay whole, so scores stay comparable): the small-data
regime where generative augmentation should matter most.
"""

from __future__ import annotations

import hashlib

import numpy as np

from augplat.data.dataset import SPLIT_CODES, ImageDataset
from augplat.data.folder import check_size
from augplat.data.splits import stratified_split, stratified_subsample

DIGIT_CLASSES = tuple(str(d) for d in range(10))
SOURCE = "sklearn.datasets.load_digits"


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 ``N×H×W`` images to ``N×size×size`` (bicubic, as for image folders)."""
    if images.shape[1:] == (size, size):
        return images
    from PIL import Image

    return np.stack(
        [
            np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BICUBIC))
            for img in images
        ]
    )


def read_digits(
    size: int = 16,
    fraction: float = 1.0,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    name: str = "digits",
) -> ImageDataset:
    """Build the digits dataset.

    Args:
        size: Side of the square images.
        fraction: Share of the train split to keep, ``0 < fraction <= 1``, stratified, at least
            one image per class. Val and test are not touched.
        seed: Seed of the split and of the subsample.
        val_fraction: Share of each class for val.
        test_fraction: Share of each class for test.
        name: Dataset name.
    """
    from sklearn.datasets import load_digits

    size = check_size(size)
    bunch = load_digits()
    raw = np.asarray(bunch.images)
    labels = np.asarray(bunch.target, dtype=np.int64)
    split = stratified_split(labels, val_fraction, test_fraction, seed)
    train = np.flatnonzero(split == SPLIT_CODES["train"])
    kept_train = train[stratified_subsample(labels[train], fraction, seed)]
    keep = np.sort(np.concatenate([kept_train, np.flatnonzero(split != SPLIT_CODES["train"])]))
    images = np.rint(raw[keep] * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return ImageDataset(
        images=_resize(images, size)[:, None],
        labels=labels[keep],
        split=split[keep],
        classes=list(DIGIT_CLASSES),
        name=name,
        hflip=False,  # a mirrored 2, 3, 4, 5, 7 or 9 is not that digit
        source={
            "reader": "digits",
            "path": SOURCE,
            "sha256": hashlib.sha256(np.ascontiguousarray(raw).tobytes()).hexdigest(),
            "options": {
                "size": size,
                "fraction": fraction,
                "seed": seed,
                "val_fraction": val_fraction,
                "test_fraction": test_fraction,
            },
        },
    )
