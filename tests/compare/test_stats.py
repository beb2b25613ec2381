"""Statistics on constructed metric sets whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from augplat.compare.stats import PAIRED, WELCH, compare_to_baseline, summarize

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
    assert t.wilcoxon_p == pytest.approx(2 / 2**6)  # exact: all six signs agree, two-sided


def test_identical_sets_are_not_significant():
    values = [0.71, 0.74, 0.69, 0.73]
    t = compare_to_baseline(seeded(values), seeded(values))
    assert t.method == PAIRED and t.diff == 0.0
    assert t.p_value == 1.0 and t.wilcoxon_p == 1.0 and not t.significant(0.05)


def test_exactly_constant_differences_give_p_zero():
    t = compare_to_baseline(seeded([2.0, 3.0, 4.0]), seeded([1.0, 2.0, 3.0]))
    assert t.method == PAIRED and t.p_value == 0.0 and math.isinf(t.statistic)


def test_paired_t_by_hand():
    # differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641, df 2
    t = compare_to_baseline(seeded([2.0, 4.0, 6.0]), seeded([1.0, 2.0, 3.0]))
    assert t.statistic == pytest.approx(2 * math.sqrt(3))
    assert t.p_value == pytest.approx(0.07417990, rel=1e-6)  # 2 * t.sf(3.4641, 2)


def test_pairs_follow_seeds_not_order():
    base = seeded([0.5, 0.6, 0.7], seeds=[0, 1, 2])
    other = seeded([0.8, 0.6, 0.7], seeds=[2, 0, 1])  # +0.1 for every seed
    t = compare_to_baseline(other, base)
    assert t.method == PAIRED and t.diff == pytest.approx(0.1) and t.p_value == 0.0


def test_runs_without_partner_are_left_out_of_the_pairs():
    t = compare_to_baseline(seeded([0.8, 0.9, 0.1], [0, 1, 7]), seeded([0.7, 0.8], [0, 1]))
    assert t.method == PAIRED and t.n == 2 and "1 run(s) without" in t.note


def test_unpaired_falls_back_to_welch():
    # no shared seeds: Welch. means 2 and 5, variances 1 and 1: t = -3 / sqrt(2/3), df 4
    t = compare_to_baseline(seeded([1.0, 2.0, 3.0], [0, 1, 2]), seeded([4.0, 5.0, 6.0], [3, 4, 5]))
    assert t.method == WELCH and t.wilcoxon_p is None
    assert t.statistic == pytest.approx(-3 / math.sqrt(2 / 3))
    assert t.p_value == pytest.approx(0.0213116, rel=1e-5)
    assert "0 shared seed(s)" in t.note


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
