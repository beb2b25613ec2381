"""Statistics for comparing strategies: mean and t confidence interval, tests against a baseline.

How to use::

    s = summarize([0.91, 0.93, 0.92])              # n, mean, std (n-1), 95% CI from Student's t
    t = compare_to_baseline([(0, 0.93), (1, 0.95)], [(0, 0.91), (1, 0.92)])   # (seed, value)
    t.method, t.diff, t.p_value, t.wilcoxon_p

Choices made explicit:

- The CI is ``mean ± t(0.975, n-1) · s / √n`` with the sample standard deviation ``s``; it needs
  n ≥ 2 (NaN bounds otherwise).
- Runs pair by seed: when both sides have unique seeds and share at least two, the test is a
  paired t-test on the shared seeds (runs without a partner are left out) plus a Wilcoxon
  signed-rank test on the same differences. Otherwise Welch's t-test on all runs (unequal
  variances), which needs two runs on each side; Wilcoxon does not apply then.
- Degenerate data get their limit instead of NaN: all differences equal → p = 1 when they are
  zero and p = 0 otherwise (the t statistic is infinite); the same for Welch with two constant
  groups.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BaselineTest", "Summary", "compare_to_baseline", "summarize"]

PAIRED, WELCH = "paired t", "Welch t"


@dataclass(frozen=True)
class Summary:
    """n, mean, sample std and the confidence interval of one strategy's metric values."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    confidence: float = 0.95

    @property
    def half_width(self) -> float:
        """Half the CI's width (NaN when n < 2)."""
        return (self.ci_high - self.ci_low) / 2


@dataclass(frozen=True)
class BaselineTest:
    """A strategy against the baseline.

    Attributes:
        method: ``"paired t"``, ``"Welch t"``, or ``None`` when there is too little data.
        n: Pairs (paired) or runs of the strategy (Welch or none).
        n_baseline: Baseline runs used (= ``n`` when paired).
        diff: Strategy mean minus baseline mean (mean of differences when paired).
        statistic: The t statistic (NaN when untested).
        p_value: Two-sided p of the t-test (NaN when untested).
        wilcoxon_p: Two-sided p of the Wilcoxon signed-rank test (paired only, else None).
        note: Why the test is unpaired or missing, empty otherwise.
    """

    method: str | None
    n: int
    n_baseline: int
    diff: float
    statistic: float
    p_value: float
    wilcoxon_p: float | None = None
    note: str = ""

    def significant(self, alpha: float = 0.05) -> bool:
        """True when the t-test's p is below ``alpha``."""
        return self.method is not None and self.p_value < alpha


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """n, mean, sample std (ddof 1) and the Student-t confidence interval of ``values``."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, confidence)
    mean = float(x.mean())
    if n < 2:
        return Summary(1, mean, float("nan"), float("nan"), float("nan"), confidence)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half, confidence)


def _constant(x: np.ndarray) -> bool:
    return float(np.ptp(x)) <= 1e-12 * max(1.0, float(np.abs(x).max()))


def _paired(diffs: np.ndarray) -> tuple[float, float, float]:
    """t statistic, t-test p and Wilcoxon p of paired differences."""
    from scipy import stats

    mean = float(diffs.mean())
    if _constant(diffs):
        if abs(mean) <= 1e-12:
            return 0.0, 1.0, 1.0
        # every difference identical and non-zero: t is infinite, p is 0; Wilcoxon's exact
        # p is the smallest its n allows (all signs agree)
        t, p = math.copysign(math.inf, mean), 0.0
    else:
        result = stats.ttest_1samp(diffs, 0.0)
        t, p = float(result.statistic), float(result.pvalue)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-n normal approximation notes
        w = float(stats.wilcoxon(diffs).pvalue) if np.any(diffs != 0) else 1.0
    return t, p, w


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    if _constant(a) and _constant(b):
        diff = float(a.mean() - b.mean())
        return (0.0, 1.0) if abs(diff) <= 1e-12 else (math.copysign(math.inf, diff), 0.0)
    result = stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def _pairs(
    values: Mapping[Hashable, float], baseline: Mapping[Hashable, float]
) -> list[tuple[float, float]]:
    shared = [k for k in values if k is not None and k in baseline]
    return [(values[k], baseline[k]) for k in sorted(shared, key=str)]


def compare_to_baseline(
    values: Sequence[tuple[Hashable, float]], baseline: Sequence[tuple[Hashable, float]]
) -> BaselineTest:
    """Compare one strategy's runs with the baseline's: paired by seed when possible, else Welch.

    Args:
        values: ``(seed, metric)`` per run of the strategy; seed ``None`` when unknown.
        baseline: ``(seed, metric)`` per baseline run.
    """
    a = np.array([v for _, v in values], dtype=np.float64)
    b = np.array([v for _, v in baseline], dtype=np.float64)
    seeds_a, seeds_b = [s for s, _ in values], [s for s, _ in baseline]
    unique = len(set(seeds_a)) == len(seeds_a) and len(set(seeds_b)) == len(seeds_b)
    known = None not in seeds_a and None not in seeds_b
    pairs = _pairs(dict(values), dict(baseline)) if unique and known else []
    if len(pairs) >= 2:
        diffs = np.array([x - y for x, y in pairs])
        t, p, w = _paired(diffs)
        dropped = len(a) + len(b) - 2 * len(pairs)
        note = f"{dropped} run(s) without a same-seed partner left out" if dropped else ""
        return BaselineTest(PAIRED, len(pairs), len(pairs), float(diffs.mean()), t, p, w, note)
    if not known:
        why = "seed unknown for some runs"
    elif not unique:
        why = "a seed repeats within a strategy"
    else:
        why = f"{len(pairs)} shared seed(s)"
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else float("nan")
    if len(a) < 2 or len(b) < 2:
        note = f"not testable: needs 2 runs on each side, got {len(a)} vs {len(b)}"
        return BaselineTest(None, len(a), len(b), diff, float("nan"), float("nan"), None, note)
    t, p = _welch(a, b)
    return BaselineTest(WELCH, len(a), len(b), diff, t, p, None, f"unpaired: {why}")
