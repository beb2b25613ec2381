"""The answer of a study: the verdict from its final cells, where users look for it.

How it works::

    v = study_verdict(spec, parent, context, tracking_uri)
    v.markdown                    # the verdict tables: printed, and the parent run's description
    publish(v, parent, context)   # tags augplat.verdict.<arm>, report.md, report.html, curve

The statistics are ``augplat compare``'s, computed from the runs alone (``augplat compare
--study NAME`` gives the same numbers). With several fractions, the data-efficiency curve
plots each arm's mean test metric against the number of real train images, and the
real-image equivalent says how many real images the baseline would need to match each arm:
linear interpolation of the baseline's means in log(images), the first crossing.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augplat.compare.analysis import Analysis, is_fraction


@dataclass
class StudyVerdict:
    """The verdict of a study's final grid."""

    analysis: Analysis
    markdown: str
    equivalents: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def real_image_equivalent(curve: list[tuple[float, float]], value: float) -> tuple[float, str]:
    """Real train images the baseline needs to reach ``value`` (NaN and a phrase if outside).

    Args:
        curve: The baseline's ``(real train images, mean)`` per fraction.
        value: The mean to match.
    """
    points = sorted(curve)
    if not points:
        return math.nan, "no baseline curve"
    if value <= points[0][1]:
        return math.nan, f"≤ {points[0][0]:.0f} (at or below the smallest measured point)"
    for (n0, m0), (n1, m1) in itertools.pairwise(points):
        if m0 < value <= m1:
            t = (value - m0) / (m1 - m0)
            n = math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0)))
            return n, f"{n:.0f}"
    return math.nan, f"> {points[-1][0]:.0f} (beyond the measured curve)"


def _equivalents(a: Analysis) -> list[dict[str, Any]]:
    """Each arm's real-image equivalent at each fraction, on the baseline's curve."""
    regular = [t for t in a.tables if t.view == "regular" and t.baseline and t.n_train]
    curve = [(t.n_train, t.summaries[t.baseline].mean) for t in regular]
    if len(curve) < 2:
        return []  # one data size is no curve to read an equivalent from
    rows = []
    for table in sorted(regular, key=lambda t: t.n_train):
        for arm, s in table.summaries.items():
            if arm == table.baseline:
                continue
            n, text = real_image_equivalent(curve, s.mean)
            rows.append(
                {
                    "arm": arm,
                    "fraction": table.fraction,
                    "real images": table.n_train,
                    "mean": s.mean,
                    "baseline needs": text,
                    "ratio": n / table.n_train if not math.isnan(n) else math.nan,
                }
            )
    return rows


def study_verdict(
    spec, parent_run_id: str, baseline: str, tracking_uri: str | None
) -> StudyVerdict:
    """Collect the study's finished cells and compare every arm with the baseline, per table."""
    from augplat import tracking
    from augplat.compare.analysis import analyse
    from augplat.compare.collect import collect
    from augplat.compare.report import verdict_markdown

    found = collect(
        tracking.connect(tracking_uri),
        study=spec.name,
        study_run=parent_run_id,
        metric=spec.final.metric,
    )
    analysis = analyse(found.records, spec.final.metric, baseline, alpha=spec.final.alpha)
    return StudyVerdict(
        analysis, verdict_markdown(analysis), _equivalents(analysis), list(found.skipped)
    )


def curve_plot(a: Analysis, path: Path) -> Path | None:
    """The data-efficiency curve (None with a single fraction)."""
    from augplat.runtime import plots

    regular = [t for t in a.tables if t.view == "regular" and t.n_train]
    if len(regular) < 2:
        return None
    curves: dict[str, list] = {}
    for table in regular:
        for arm, s in table.summaries.items():
            curves.setdefault(arm, []).append((table.n_train, s.mean, s.ci_low, s.ci_high))
    return plots.data_efficiency_curve(curves, path, a.metric, baseline=a.baseline)


def description(v: StudyVerdict, context: dict[str, Any]) -> str:
    """The parent run's description (``mlflow.note.content``): the answer first."""
    a = v.analysis
    lines = [f"## Verdict: {context['question']}", ""]
    lines += [f"- {line}" for line in a.verdicts]
    lines += ["", v.markdown, "", f"_{context['protocol_line']}_"]
    if is_fraction(a.metric):
        lines.append("")
        lines.append("Means and differences in percentage points of " + a.metric + ".")
    return "\n".join(lines)
