"""Seeded, stratified splits and subsamples.

Stratified per class so that every class keeps its share in every split, and seeded so that the
same labels and seed always give the same split (a rerun must train on the same images). Each
class keeps at least one training image: a class that vanishes from train cannot be learned.
"""

from __future__ import annotations

import numpy as np

from augplat.data.dataset import SPLIT_CODES
from augplat.errors import UserError


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Raise :class:`UserError` unless both fractions are in [0, 1) and leave room for train."""
    for label, value in (("val fraction", val_fraction), ("test fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise UserError(f"{label} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise UserError(
            f"val fraction + test fraction must be below 1 (nothing left to train on), "
            f"got {val_fraction} + {test_fraction}"
        )


def _share(n: int, fraction: float) -> int:
    """Round ``n * fraction`` half up (``round`` rounds half to even, which surprises)."""
    return int(np.floor(n * fraction + 0.5))


def stratified_split(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int = 0
) -> np.ndarray:
    """Assign every item to train, val or test, per class, by seeded shuffling.

    Args:
        labels: Class index per item.
        val_fraction: Share of each class that goes to val.
        test_fraction: Share of each class that goes to test.
        seed: Seed of the shuffle; the same labels and seed give the same split.

    Returns:
        int8 split codes (see :data:`augplat.data.dataset.SPLIT_CODES`), one per item.
    """
    check_fractions(val_fraction, test_fraction)
    labels = np.asarray(labels)
    codes = np.full(len(labels), SPLIT_CODES["train"], dtype=np.int8)
    rng = np.random.default_rng(seed)
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n = len(members)
        n_test = _share(n, test_fraction)
        n_val = _share(n, val_fraction)
        # Shrink the held-out shares (val first) so that one image is left for train.
        excess = max(0, n_val + n_test - (n - 1))
        from_val = min(n_val, excess)
        n_val, n_test = n_val - from_val, n_test - (excess - from_val)
        codes[members[:n_test]] = SPLIT_CODES["test"]
        codes[members[n_test : n_test + n_val]] = SPLIT_CODES["val"]
    return codes


def stratified_subsample(labels: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a seeded, stratified subsample keeping ``fraction`` of every class.

    Every class present in ``labels`` keeps at least one item.

    Args:
        labels: Class index per item.
        fraction: Share to keep, ``0 < fraction <= 1``.
        seed: Seed of the choice.

    Returns:
        Sorted int64 indices into ``labels``.
    """
    if not 0.0 < fraction <= 1.0:
        raise UserError(f"fraction must be in (0, 1], got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        n_keep = max(1, _share(len(members), fraction))
        keep.append(rng.choice(members, size=n_keep, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
