"""Statistics for comparing arms: intervals, paired tests, Holm, and the words of a verdict.

How to use::

    s = summarize([0.91, 0.93, 0.92])              # n, mean, std (n-1), 95% CI from Student's t
    t = compare_to_baseline([(0, 0.93), (1, 0.95)], [(0, 0.91), (1, 0.92)])   # (pair key, value)
    t.method, t.diff, t.p_value, t.sign_flip_p, t.boot_low, t.boot_high
    adjusted = holm([t1.p_value, t2.p_value])      # several arms against one baseline
    word(t, adjusted_p, alpha=0.05)                # helps / hurts / no detectable difference / ...

Choices made explicit (a reviewer should not have to read the code to know them):

- The CI of a mean is ``mean ± t(0.975, n-1) · s / √n`` with the sample standard deviation; it
  needs n ≥ 2 (NaN bounds otherwise).
- Runs pair by key (seed, or seed and fold): with unique keys on both sides and at least two
  shared keys, the test is a paired t-test on the shared keys; runs without a partner are left
  out and named. Beside it: the exact sign-flip (permutation) test of the mean difference
  (all ``2^n`` sign patterns, scipy's ``permutation_test``), and a bootstrap interval of the
  mean difference (scipy's ``bootstrap``, BCa, seeded).
- Zero variance never becomes p = 0: when every paired difference is the same, the t statistic
  is undefined and the verdict's p is the exact sign-flip p, whose smallest value is ``2 / 2^n``.
- Unpaired data fall back to Welch's t-test (two runs needed on each side).
- Several arms against one baseline: Holm's step-down adjustment of the verdict p values.
- The word is ``underpowered (n=…)`` whenever the exact test could not reach ``alpha`` at this
  n whatever the data (paired: ``2 / 2^n > alpha``, so n ≤ 5 at 0.05), never "significant".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BaselineTest",
    "Summary",
    "compare_to_baseline",
    "holm",
    "min_exact_p",
    "summarize",
    "word",
]

PAIRED, WELCH = "paired t", "Welch t"
HELPS, HURTS, NO_DIFFERENCE, UNDERPOWERED = (
    "helps",
    "hurts",
    "no detectable difference",
    "underpowered",
)
_EXACT_UP_TO = 16  # all 2^n sign patterns up to here; a seeded Monte Carlo sample beyond
_BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Summary:
    """n, mean, sample std and the confidence interval of one arm's metric values."""

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
    """An arm against the baseline.

    Attributes:
        method: ``"paired t"``, ``"Welch t"``, or ``None`` when there is too little data.
        n: Pairs (paired) or runs of the arm (Welch or none).
        n_baseline: Baseline runs used (= ``n`` when paired).
        diff: Arm mean minus baseline mean (mean of differences when paired).
        statistic: The t statistic (NaN when untested or when the differences are constant).
        p_value: Two-sided p the verdict uses: the t-test's, or the exact sign-flip test's
            when the paired differences have no variance (NaN when untested).
        sign_flip_p: Two-sided p of the exact sign-flip test (paired only, else None).
        note: Why the test is unpaired or missing, or which runs were left unpaired.
        ci_low, ci_high: Student-t interval of the (paired) difference.
        boot_low, boot_high: Bootstrap interval of the mean paired difference.
        unpaired: Keys (seeds) of runs left out because they have no partner.
        p_t: The t-test's own p (NaN when the differences are constant).
    """

    method: str | None
    n: int
    n_baseline: int
    diff: float
    statistic: float
    p_value: float
    sign_flip_p: float | None = None
    note: str = ""
    ci_low: float = math.nan
    ci_high: float = math.nan
    boot_low: float = math.nan
    boot_high: float = math.nan
    unpaired: tuple[str, ...] = field(default_factory=tuple)
    p_t: float = math.nan

    def significant(self, alpha: float = 0.05, p: float | None = None) -> bool:
        """True when the test could reach ``alpha`` at this n and its p (or ``p``) is below."""
        if self.method is None or min_exact_p(self) > alpha:
            return False
        value = self.p_value if p is None else p
        return not math.isnan(value) and value < alpha


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """n, mean, sample std (ddof 1) and the Student-t confidence interval of ``values``."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, confidence)
    mean = float(x.mean())
    if n < 2:
        return Summary(1, mean, float("nan"), float("nan"), float("nan"), confidence)
    std = float(x.std(ddof=1))
    low, high = _t_interval(mean, std, n, confidence)
    return Summary(n, mean, std, low, high, confidence)


def _t_interval(mean: float, std: float, n: int, confidence: float) -> tuple[float, float]:
    from scipy import stats

    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return mean - half, mean + half


def _constant(x: np.ndarray) -> bool:
    return float(np.ptp(x)) <= 1e-12 * max(1.0, float(np.abs(x).max()))


def sign_flip_p(diffs: np.ndarray) -> float:
    """Two-sided p of the sign-flip test of mean(diffs) = 0: exact up to 16 pairs."""
    from scipy import stats

    if not np.any(diffs != 0):
        return 1.0
    exact = len(diffs) <= _EXACT_UP_TO
    result = stats.permutation_test(
        (diffs,),
        np.mean,
        permutation_type="samples",  # one sample: every pattern of signs
        n_resamples=np.inf if exact else 99_999,
        alternative="two-sided",
        rng=np.random.default_rng(_BOOTSTRAP_SEED),
    )
    return float(min(1.0, result.pvalue))


def _bootstrap(diffs: np.ndarray, confidence: float) -> tuple[float, float]:
    """BCa bootstrap interval of the mean difference (a point when there is no spread)."""
    from scipy import stats

    if len(diffs) < 2:
        return math.nan, math.nan
    if _constant(diffs):
        return float(diffs[0]), float(diffs[0])
    for method in ("BCa", "percentile"):  # BCa is undefined for some tiny samples
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's notes on tiny or degenerate resamples
            interval = stats.bootstrap(
                (diffs,),
                np.mean,
                confidence_level=confidence,
                n_resamples=9_999,
                method=method,
                rng=np.random.default_rng(_BOOTSTRAP_SEED),
            ).confidence_interval
        low, high = float(interval.low), float(interval.high)
        if not (math.isnan(low) or math.isnan(high)):
            break
    return low, high


def _paired_test(diffs: np.ndarray, confidence: float) -> dict:
    from scipy import stats

    mean, n = float(diffs.mean()), len(diffs)
    flip = sign_flip_p(diffs)
    if _constant(diffs):
        # t is undefined (0/0 or x/0): the verdict uses the exact sign-flip p instead
        t, p_t, p, low, high = math.nan, math.nan, flip, mean, mean
    else:
        result = stats.ttest_1samp(diffs, 0.0)
        t, p_t = float(result.statistic), float(result.pvalue)
        p = p_t
        low, high = _t_interval(mean, float(diffs.std(ddof=1)), n, confidence)
    boot_low, boot_high = _bootstrap(diffs, confidence)
    return {
        "diff": mean,
        "statistic": t,
        "p_value": p,
        "p_t": p_t,
        "sign_flip_p": flip,
        "ci_low": low,
        "ci_high": high,
        "boot_low": boot_low,
        "boot_high": boot_high,
    }


def _welch(a: np.ndarray, b: np.ndarray, confidence: float) -> dict:
    from scipy import stats

    diff = float(a.mean() - b.mean())
    if _constant(a) and _constant(b):
        # no spread at all: nothing to test against; an exact permutation p stands in
        p = 1.0 if abs(diff) <= 1e-12 else 2 / math.comb(len(a) + len(b), len(a))
        return {"diff": diff, "statistic": math.nan, "p_value": p, "p_t": math.nan}
    result = stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(confidence)
    return {
        "diff": diff,
        "statistic": float(result.statistic),
        "p_value": float(result.pvalue),
        "p_t": float(result.pvalue),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
    }


def compare_to_baseline(
    values: Sequence[tuple[Hashable, float]],
    baseline: Sequence[tuple[Hashable, float]],
    confidence: float = 0.95,
) -> BaselineTest:
    """Compare one arm's runs with the baseline's: paired by key when possible, else Welch.

    Args:
        values: ``(key, metric)`` per run of the arm; key (seed, or seed and fold) ``None``
            when unknown.
        baseline: ``(key, metric)`` per baseline run.
        confidence: Level of the intervals.
    """
    a = np.array([v for _, v in values], dtype=np.float64)
    b = np.array([v for _, v in baseline], dtype=np.float64)
    keys_a, keys_b = [k for k, _ in values], [k for k, _ in baseline]
    unique = len(set(keys_a)) == len(keys_a) and len(set(keys_b)) == len(keys_b)
    known = None not in keys_a and None not in keys_b
    if unique and known:
        mine, theirs = dict(values), dict(baseline)
        shared = sorted((k for k in mine if k in theirs), key=str)
        if len(shared) >= 2:
            diffs = np.array([mine[k] - theirs[k] for k in shared])
            left = sorted({str(k) for k in [*mine, *theirs] if k not in shared})
            note = f"left unpaired (no partner): {', '.join(left)}" if left else ""
            return BaselineTest(
                PAIRED,
                len(shared),
                len(shared),
                note=note,
                unpaired=tuple(left),
                **_paired_test(diffs, confidence),
            )
    if not known:
        why = "seed unknown for some runs"
    elif not unique:
        why = "a seed repeats within an arm"
    else:
        why = "fewer than 2 shared seeds"
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else float("nan")
    if len(a) < 2 or len(b) < 2:
        note = f"not testable: needs 2 runs on each side, got {len(a)} vs {len(b)}"
        return BaselineTest(None, len(a), len(b), diff, math.nan, math.nan, note=note)
    return BaselineTest(WELCH, len(a), len(b), note=f"unpaired: {why}", **_welch(a, b, confidence))


def min_exact_p(test: BaselineTest) -> float:
    """The smallest two-sided p an exact permutation test could give at this test's sizes."""
    if test.method == PAIRED:
        return 2.0 / 2**test.n
    if test.method == WELCH:
        return min(1.0, 2.0 / math.comb(test.n + test.n_baseline, test.n))
    return 1.0


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (family-wise error); NaN entries are not in the family.

    The k-th smallest of m p values becomes ``max over j ≤ k of (m - j + 1) · p_(j)``,
    capped at 1.
    """
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running, m = 0.0, len(order)
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def word(
    test: BaselineTest, adjusted_p: float, alpha: float = 0.05, higher_is_better: bool = True
) -> str:
    """The plain word of a verdict: helps, hurts, no detectable difference or underpowered."""
    if test.method is None or min_exact_p(test) > alpha:
        paired = test.method == PAIRED or test.n == test.n_baseline
        n = test.n if paired else f"{test.n} vs {test.n_baseline}"
        return f"{UNDERPOWERED} (n={n})"
    if math.isnan(adjusted_p) or adjusted_p >= alpha:
        return NO_DIFFERENCE
    better = test.diff > 0 if higher_is_better else test.diff < 0
    return HELPS if better else HURTS
