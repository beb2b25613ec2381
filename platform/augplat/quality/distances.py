"""Distances between sets of classifier features: Fréchet distance (FID) and KID.

Both compare real and synthetic images in a judge classifier's penultimate features
(:mod:`augplat.quality.judge`), so the metrics are named ``fid_clf`` / ``kid_clf``.
"""

from __future__ import annotations

import numpy as np

KID_SUBSET = 1000  # images per KID subset (Bińkowski et al.; torchmetrics' default)


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance ``|mu1-mu2|² + Tr(S1 + S2 - 2 (S1 S2)^½)`` between Gaussian fits.

    The trace of ``(S1 S2)^½`` equals the sum of square roots of the eigenvalues of the symmetric
    PSD matrix ``S1^½ S2 S1^½``, which ``eigh`` computes stably even for singular covariances
    (fewer samples than feature dimensions), with no complex parts to discard.
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.atleast_2d(np.cov(real, rowvar=False)), np.atleast_2d(np.cov(fake, rowvar=False))
    vals, vecs = np.linalg.eigh(s1)
    root1 = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root1 @ s2 @ root1
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    value = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_root)
    return max(value, 0.0)


def mmd2_polynomial(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with ``k(a, b) = (a·b / d + 1)³`` (the KID kernel of Bińkowski et al.)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d, m, n = x.shape[1], len(x), len(y)
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2 * kxy.mean())


def kid_subset_size(n_real: int, n_fake: int, subset_size: int = KID_SUBSET) -> int:
    """Images per KID subset: ``subset_size``, clipped to the smaller set."""
    return min(subset_size, n_real, n_fake)


def kid(
    real: np.ndarray,
    fake: np.ndarray,
    subset_size: int = KID_SUBSET,
    subsets: int = 10,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance (here: in classifier features): mean and std over subsets.

    Subsets hold ``subset_size`` images, clipped to the smaller set
    (:func:`kid_subset_size`; callers report the clipping).
    """
    rng = np.random.default_rng(seed)
    m = kid_subset_size(len(real), len(fake), subset_size)
    if m < 2:
        return float("nan"), float("nan")
    pick = lambda a: a[rng.choice(len(a), m, replace=False)]  # noqa: E731
    values = [mmd2_polynomial(pick(real), pick(fake)) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))
