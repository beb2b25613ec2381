"""Seeded, stratified splits and subsamples.

Stratified per class so that every class keeps its share in every split, and seeded so that the
same labels and seed always give the same split (a rerun must train on the same images). Each
class keeps at least one training image: a class that vanishes from train cannot be learned.
"""

from __future__ import annotations

import numpy as np

from augplat.errors import UserError

SPLITS = ("train", "val", "test")
SPLIT_CODES = {name: code for code, name in enumerate(SPLITS)}


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


def _group_kfold(labels: np.ndarray, groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index (0..k-1) per item; no group in two folds; class shares kept where groups
    allow (scikit-learn's StratifiedGroupKFold, seeded)."""
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    n_groups = len(np.unique(groups))
    if k > n_groups:
        raise UserError(f"cannot make {k} folds from {n_groups} group(s): lower the fold count")
    folds = np.zeros(len(labels), dtype=np.int8)
    with warnings.catch_warnings():
        # "least populated class has only n members": expected on small lab sets.
        warnings.simplefilter("ignore", UserWarning)
        splitter = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
        if n_groups == len(labels):  # one item per group: plain stratified folds
            splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
        try:
            parts = list(splitter.split(np.zeros(len(labels)), labels, groups))
        except ValueError as exc:  # e.g. more folds than images of every class
            raise UserError(f"cannot make {k} stratified folds: {exc}") from None
    for fold, (_, held) in enumerate(parts):
        folds[held] = fold
    return folds


def assign_folds(
    labels: np.ndarray, k: int, seed: int = 0, groups: np.ndarray | None = None
) -> np.ndarray:
    """Seeded, stratified fold index per item (int8, 0..k-1); every item in exactly one fold.

    With ``groups``, every group's items share a fold (subject-aware k-fold).
    """
    if not 3 <= k <= 100:
        # One fold tests and the next validates (see fold_split): two folds leave no train.
        raise UserError(f"folds must be between 3 and 100, got {k}")
    labels = np.asarray(labels)
    groups = np.arange(len(labels)) if groups is None else np.asarray(groups)
    return _group_kfold(labels, groups, k, seed)


def fold_split(folds: np.ndarray, fold: int) -> np.ndarray:
    """Split codes for fold ``fold`` of ``k``: that fold tests, the next one validates, the
    rest train (so val, like test, never shares a group with train)."""
    k = int(folds.max()) + 1 if len(folds) else 0
    if not 0 <= fold < k:
        raise UserError(f"fold must be between 0 and {k - 1}, got {fold}")
    codes = np.full(len(folds), SPLIT_CODES["train"], dtype=np.int8)
    codes[folds == (fold + 1) % k] = SPLIT_CODES["val"]
    codes[folds == fold] = SPLIT_CODES["test"]
    return codes


def _held_out(labels, groups, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of about ``fraction`` of the items, whole groups, stratified."""
    if fraction <= 0 or len(labels) == 0:
        return np.zeros(len(labels), dtype=bool)
    k = max(2, int(np.floor(1.0 / fraction + 0.5)))  # the nearest 1/k to the fraction
    k = min(k, len(np.unique(groups)))
    if k < 2:
        return np.zeros(len(labels), dtype=bool)
    return _group_kfold(labels, groups, k, seed) == 0


def grouped_split(
    labels: np.ndarray, groups: np.ndarray, val_fraction: float, test_fraction: float, seed=0
) -> np.ndarray:
    """Like :func:`stratified_split`, but every group lies in one split only.

    Shares are whole groups, so they come out near the fractions (test takes one of the
    nearest ``1/k`` folds, then val one fold of what is left), not exact.
    """
    check_fractions(val_fraction, test_fraction)
    labels, groups = np.asarray(labels), np.asarray(groups)
    codes = np.full(len(labels), SPLIT_CODES["train"], dtype=np.int8)
    test = _held_out(labels, groups, test_fraction, seed)
    codes[test] = SPLIT_CODES["test"]
    rest = np.flatnonzero(~test)
    val_share = val_fraction / (1.0 - test_fraction) if test_fraction < 1 else 0.0
    val = _held_out(labels[rest], groups[rest], val_share, seed + 1)
    codes[rest[val]] = SPLIT_CODES["val"]
    return codes


def resolve_fractions(
    train_split: float | None, val_fraction: float | None, test_fraction: float | None
) -> tuple[float, float]:
    """``(val, test)`` fractions from the options; ``--train-split F`` (seed 003's ratio)
    leaves ``1 - F`` held out, halved between val and test unless one of them is given."""
    if train_split is None:
        return (0.1 if val_fraction is None else val_fraction,
                0.1 if test_fraction is None else test_fraction)  # fmt: skip
    if not 0.0 < train_split <= 1.0:
        raise UserError(f"train split must be in (0, 1], got {train_split}")
    rest = 1.0 - train_split
    if val_fraction is None and test_fraction is None:
        val_fraction = test_fraction = rest / 2
    elif val_fraction is None:
        val_fraction = rest - test_fraction
    elif test_fraction is None:
        test_fraction = rest - val_fraction
    total = train_split + val_fraction + test_fraction
    if abs(total - 1.0) > 1e-9 or min(val_fraction, test_fraction) < 0:
        raise UserError(
            f"train split {train_split} + val fraction {val_fraction} + test fraction "
            f"{test_fraction} must add up to 1"
        )
    check_fractions(val_fraction, test_fraction)
    return float(val_fraction), float(test_fraction)
