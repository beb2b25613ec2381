"""FID and KID against direct computations on constructed feature sets."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from augplat.quality.metrics import fid, kid, mmd2_polynomial


def _features(n=400, d=8, shift=0.0, seed=0):
    mix = np.random.default_rng(123).normal(size=(d, d)) / np.sqrt(d)  # one distribution
    return np.random.default_rng(seed).normal(size=(n, d)) @ mix + shift


def _fid_scipy(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2)
    root = root.real if np.iscomplexobj(root) else root
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def _mmd2_loops(x, y):
    d = x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_fid_of_identical_sets_is_zero():
    a = _features()
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)


def test_fid_matches_scipy_and_grows_with_the_shift():
    a = _features(seed=0)
    for shift in (0.0, 0.5, 2.0):
        b = _features(seed=1, shift=shift)
        assert fid(a, b) == pytest.approx(_fid_scipy(a, b), rel=1e-6, abs=1e-8)
    values = [fid(a, _features(seed=1, shift=s)) for s in (0.0, 0.5, 2.0)]
    assert values[0] < values[1] < values[2]
    # a pure mean shift of s in every one of d=8 dimensions adds 8·s² exactly
    assert fid(a, a + 2.0) == pytest.approx(8 * 4.0, rel=1e-9)


def test_fid_is_stable_for_singular_covariances():
    a, b = _features(n=5, d=32, seed=0), _features(n=5, d=32, seed=1)  # rank ≤ 4 covariances
    value = fid(a, b)
    assert np.isfinite(value) and value >= 0
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)


def test_unbiased_polynomial_mmd_matches_the_definition():
    x, y = _features(n=12, d=4, seed=0), _features(n=9, d=4, seed=1, shift=0.3)
    assert mmd2_polynomial(x, y) == pytest.approx(_mmd2_loops(x, y), rel=1e-10)


def test_kid_is_near_zero_for_the_same_distribution_and_larger_when_shifted():
    a, same, shifted = _features(seed=0), _features(seed=1), _features(seed=2, shift=1.0)
    near, _ = kid(a, same, subset_size=200, subsets=5)
    far, far_std = kid(a, shifted, subset_size=200, subsets=5)
    assert abs(near) < 0.05 * far and far > 0 and far_std >= 0
    assert kid(a[:1], same) != kid(a[:1], same)  # NaN: fewer than 2 samples
