"""Embedded digits: real data, shapes, classes, and `fraction` shrinking train only."""

from __future__ import annotations

import numpy as np
import pytest

from augplat.data.digits import read_digits
from augplat.errors import UserError


def test_defaults_shape_classes_and_split():
    ds = read_digits()

    assert ds.images.shape == (1797, 1, 16, 16) and ds.images.dtype == np.uint8
    assert ds.classes == [str(d) for d in range(10)]
    assert ds.images.max() == 255 and ds.images.min() == 0
    per_class = np.bincount(ds.labels)
    counts = ds.counts()
    for cls, n in zip(ds.classes, per_class, strict=True):
        held_out = int(np.floor(n * 0.15 + 0.5))  # 70/15/15, rounded half up per class
        assert counts["val"][cls] == counts["test"][cls] == held_out
        assert counts["train"][cls] == n - 2 * held_out
    assert ds.source["reader"] == "digits" and ds.source["options"]["size"] == 16


def test_fraction_shrinks_train_stratified_and_leaves_val_test_untouched():
    full = read_digits(size=8, seed=4)
    small = read_digits(size=8, seed=4, fraction=0.1)

    for split in ("val", "test"):
        np.testing.assert_array_equal(small.arrays(split)[0], full.arrays(split)[0])
        np.testing.assert_array_equal(small.arrays(split)[1], full.arrays(split)[1])
    full_train, small_train = full.counts()["train"], small.counts()["train"]
    for cls, n in full_train.items():
        assert small_train[cls] == int(np.floor(n * 0.1 + 0.5))
    # the kept train images are a subset of the full train split
    full_rows = {row.tobytes() for row in full.arrays("train")[0]}
    assert all(row.tobytes() in full_rows for row in small.arrays("train")[0])


def test_tiny_fraction_keeps_one_image_per_class():
    ds = read_digits(size=8, fraction=0.001)
    assert ds.counts()["train"] == {str(d): 1 for d in range(10)}


def test_size_8_keeps_the_original_pixels_scaled():
    from sklearn.datasets import load_digits

    ds = read_digits(size=8, val_fraction=0.0, test_fraction=0.0)
    raw = load_digits().images
    np.testing.assert_array_equal(ds.images[:, 0], np.rint(raw * 255 / 16).astype(np.uint8))


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_fraction_out_of_range(fraction):
    with pytest.raises(UserError, match="fraction must be in"):
        read_digits(fraction=fraction)
