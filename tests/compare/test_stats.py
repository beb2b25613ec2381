"""Statistics on constructed metric sets whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from augplat.compare.stats import (
    PAIRED,
    WELCH,
    compare_to_baseline,
    holm,
    sign_flip_p,
    summarize,
    word,
)

T_975_4 = 2.7764451051977987  # Student t quantile, 0.975, 4 degrees of freedom (tables: 2.776)


def seeded(values, seeds=None):
    return list(zip(seeds if seeds is not None else range(len(values)), values, strict=True))


def test_summary_mean_std_and_t_interval():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s.n == 5 and s.mean == 3.0
    assert s.std == pytest.approx(math.sqrt(2.5))  # sum of squares 10 over n-1 = 4
    half = T_975_4 * math.sqrt(2.5) / math.sqrt(5)  # = 1.9632
    assert s.ci_low == pytest.approx(3.0 - half) and s.ci_high == pytest.approx(3.0 + half)
    assert s.half_width == pytest.approx(1.9632, abs=1e-4)


def test_summary_of_too_few_values():
    one = summarize([0.7])
    assert one.n == 1 and one.mean == 0.7
    assert math.isnan(one.std) and math.isnan(one.ci_low) and math.isnan(one.ci_high)
    assert summarize([]).n == 0
    same = summarize([0.5, 0.5, 0.5])
    assert same.std == 0.0 and same.ci_low == same.ci_high == 0.5


def test_constant_gain_with_tiny_noise_is_significant():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.8, size=6)
    better = base + 1.0 + rng.normal(0, 1e-3, size=6)
    t = compare_to_baseline(seeded(better), seeded(base))
    assert t.method == PAIRED and t.n == 6 and t.n_baseline == 6
    assert t.diff == pytest.approx(1.0, abs=2e-3)
    assert t.p_value < 1e-8 and t.significant(0.05)
    assert t.sign_flip_p == pytest.approx(2 / 2**6)  # exact: all six signs agree, two-sided


def test_identical_sets_are_not_significant():
    values = [0.71, 0.74, 0.69, 0.73]
    t = compare_to_baseline(seeded(values), seeded(values))
    assert t.method == PAIRED and t.diff == 0.0
    assert t.p_value == 1.0 and t.sign_flip_p == 1.0 and not t.significant(0.05)


def test_zero_variance_differences_use_the_exact_sign_flip_p_not_zero():
    # the defect: n = 2 constant differences gave t = inf, p = 0, "significant"
    t = compare_to_baseline(seeded([0.9, 0.8]), seeded([0.8, 0.7]))
    assert t.method == PAIRED and t.p_value == pytest.approx(0.5)  # 2 of 2^2 sign patterns
    assert math.isnan(t.statistic) and not t.significant(0.05)
    assert word(t, t.p_value) == "underpowered (n=2)"
    six = compare_to_baseline(seeded([1.0] * 6), seeded([0.5] * 6))
    assert six.p_value == pytest.approx(2 / 64) and six.significant(0.05)
    assert (six.ci_low, six.ci_high) == (0.5, 0.5) == (six.boot_low, six.boot_high)


def test_sign_flip_p_against_every_sign_pattern():
    import itertools

    d = np.array([0.031, -0.012, 0.02, 0.044, 0.007, -0.003, 0.026])
    extreme = sum(
        abs(np.mean(d * np.array(signs))) >= abs(d.mean()) - 1e-15
        for signs in itertools.product((1, -1), repeat=len(d))
    )
    assert sign_flip_p(d) == pytest.approx(extreme / 2 ** len(d))
    assert sign_flip_p(np.zeros(4)) == 1.0


def test_bootstrap_interval_matches_scipy_and_holds_the_mean():
    from scipy import stats

    base = [0.70, 0.72, 0.69, 0.71, 0.73, 0.70]
    arm = [0.72, 0.73, 0.72, 0.71, 0.76, 0.71]
    t = compare_to_baseline(seeded(arm), seeded(base))
    diffs = np.array(arm) - np.array(base)
    ref = stats.bootstrap(
        (diffs,), np.mean, n_resamples=9_999, method="BCa", rng=np.random.default_rng(0)
    ).confidence_interval
    assert (t.boot_low, t.boot_high) == pytest.approx((ref.low, ref.high))
    assert t.boot_low <= t.diff <= t.boot_high
    ref_t = stats.ttest_1samp(diffs, 0.0).confidence_interval(0.95)
    assert (t.ci_low, t.ci_high) == pytest.approx((ref_t.low, ref_t.high))


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 of m = 4: x4, x3, x2, x1 with a running maximum
    assert holm([0.01, 0.04, 0.03, math.nan, 0.005]) == pytest.approx(
        [0.03, 0.06, 0.06, math.nan, 0.02], nan_ok=True
    )
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_holm_keeps_five_null_arms_from_calling_a_winner():
    # 5 null arms against one shared baseline over 6 seeds, 4000 simulated studies: raw p
    # values call at least one arm "significant" far too often, Holm keeps that near alpha.
    from scipy import stats

    rng = np.random.default_rng(1)
    base = rng.normal(0.7, 0.01, size=(4000, 1, 6))
    arms = rng.normal(0.7, 0.01, size=(4000, 5, 6))
    p = stats.ttest_1samp(arms - base, 0.0, axis=2).pvalue
    raw = np.mean((p < 0.05).any(axis=1))
    adjusted = np.mean([min(holm(list(row))) < 0.05 for row in p])
    assert raw > 0.15 and adjusted < 0.065


@pytest.mark.parametrize(
    ("n", "want"), [(1, "underpowered (n=1)"), (5, "underpowered (n=5)"), (6, "helps")]
)
def test_too_few_pairs_are_underpowered_whatever_the_p(n, want):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.8, size=n)
    t = compare_to_baseline(seeded(base + 0.05 + rng.normal(0, 1e-3, n)), seeded(base))
    assert word(t, t.p_value) == want
    if n == 5:
        assert t.p_value < 1e-4  # a tiny t-test p: still not "significant" at this n


def test_words_follow_the_metric_direction():
    base = [0.70, 0.72, 0.69, 0.71, 0.73, 0.70]
    worse = [v - 0.05 for v in base]
    t = compare_to_baseline(seeded(worse), seeded(base))
    assert word(t, t.p_value) == "hurts"
    assert word(t, t.p_value, higher_is_better=False) == "helps"  # e.g. a loss went down
    assert word(t, 0.2) == "no detectable difference"


def test_paired_t_by_hand():
    # differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641, df 2
    t = compare_to_baseline(seeded([2.0, 4.0, 6.0]), seeded([1.0, 2.0, 3.0]))
    assert t.statistic == pytest.approx(2 * math.sqrt(3))
    assert t.p_value == pytest.approx(0.07417990, rel=1e-6)  # 2 * t.sf(3.4641, 2)


def test_pairs_follow_seeds_not_order():
    base = seeded([0.5, 0.6, 0.7], seeds=[0, 1, 2])
    other = seeded([0.8, 0.6, 0.7], seeds=[2, 0, 1])  # +0.1 for every seed
    t = compare_to_baseline(other, base)
    assert t.method == PAIRED and t.diff == pytest.approx(0.1) and t.p_value == 0.25


def test_runs_without_partner_are_left_out_of_the_pairs():
    t = compare_to_baseline(seeded([0.8, 0.9, 0.1], [0, 1, 7]), seeded([0.7, 0.8], [0, 1]))
    assert t.method == PAIRED and t.n == 2 and t.unpaired == ("7",)
    assert "left unpaired (no partner): 7" in t.note


def test_unpaired_falls_back_to_welch():
    # no shared seeds: Welch. means 2 and 5, variances 1 and 1: t = -3 / sqrt(2/3), df 4
    t = compare_to_baseline(seeded([1.0, 2.0, 3.0], [0, 1, 2]), seeded([4.0, 5.0, 6.0], [3, 4, 5]))
    assert t.method == WELCH and t.sign_flip_p is None
    assert t.statistic == pytest.approx(-3 / math.sqrt(2 / 3))
    assert t.p_value == pytest.approx(0.0213116, rel=1e-5)
    assert "fewer than 2 shared seeds" in t.note


@pytest.mark.parametrize(
    ("seeds_a", "seeds_b", "why"),
    [([0, 0, 1], [0, 1, 2], "repeats"), ([None, 1, 2], [0, 1, 2], "unknown")],
)
def test_repeated_or_unknown_seeds_are_unpaired(seeds_a, seeds_b, why):
    t = compare_to_baseline(seeded([0.5, 0.6, 0.7], seeds_a), seeded([0.4, 0.5, 0.6], seeds_b))
    assert t.method == WELCH and why in t.note


def test_one_run_is_not_testable():
    t = compare_to_baseline([(None, 0.9)], seeded([0.7, 0.8]))
    assert t.method is None and math.isnan(t.p_value) and not t.significant()
    assert t.diff == pytest.approx(0.15) and "got 1 vs 2" in t.note
