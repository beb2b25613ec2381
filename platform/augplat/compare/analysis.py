"""Collected runs → verdicts: tables per dataset and test view, statistics, Holm, plain words.

How to use::

    a = analyse(found.records, metric="test_top1", baseline="classic")
    for table in a.tables:             # one per dataset (a study fraction) and test view
        table.words["gan"], table.verdicts

Rules (see :mod:`augplat.compare.stats` for the statistics themselves):

- Runs of different datasets (digest after lineage) or test views are never pooled or paired:
  each (dataset, view) is a table with its own baseline tests.
- Within a table, every arm is tested against the baseline, paired by key (seed, or seed and
  fold). The verdict p values of a table's arms are Holm-adjusted together; the word of each
  arm comes from its adjusted p, and is ``underpowered`` when the exact test could not reach
  ``alpha`` at its n whatever the data.
- A missing baseline in a table is not an error (the table just has no tests) unless the user
  named the baseline and no table has it.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from augplat.compare.collect import RunRecord
from augplat.compare.stats import (
    PAIRED,
    BaselineTest,
    Summary,
    compare_to_baseline,
    holm,
    summarize,
    word,
)
from augplat.errors import UserError

CLASS_PREFIX = "test_acc_"


def is_fraction(metric: str) -> bool:
    """Accuracy-like metrics in [0, 1], whose differences read as percentage points."""
    return re.search(r"top\d|acc|f1", metric) is not None


def higher_is_better(metric: str) -> bool:
    """Losses go down; everything else we compare goes up."""
    return "loss" not in metric


def format_diff(diff: float, metric: str) -> str:
    """``+2.31 points test_top1`` for fractions, ``-0.0123 test_loss`` otherwise."""
    if is_fraction(metric):
        return f"{diff * 100:+.2f} points {metric}"
    return f"{diff:+.4g} {metric}"


def _format_value(value: float, metric: str) -> str:
    return f"{value * 100:+.2f}" if is_fraction(metric) else f"{value:+.4g}"


@dataclass
class Table:
    """One dataset and test view: its arms, their statistics and verdicts.

    Attributes:
        dataset: Digest of the data measured on (the source of an expanded dataset).
        view: Test view (``regular``, ``gan``, ``both``).
        fraction: Share of the train split (study cells), when known.
        n_train: Real train images of the baseline (or first) arm, when known.
        groups: Runs per arm, baseline first.
        summaries: n, mean and t interval per arm.
        tests: Each non-baseline arm against the baseline.
        adjusted: Holm-adjusted verdict p per tested arm.
        words: The plain word per tested arm.
        verdicts: One line per tested arm.
        per_class: Per class mean test accuracy per arm and deltas against the baseline.
        notes: Why a table has no tests, what was left unpaired.
    """

    dataset: str
    view: str
    fraction: float | None
    n_train: int | None
    baseline: str | None
    groups: dict[str, list[RunRecord]]
    summaries: dict[str, Summary]
    tests: dict[str, BaselineTest] = field(default_factory=dict)
    adjusted: dict[str, float] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)
    verdicts: list[str] = field(default_factory=list)
    per_class: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data_name: str = ""

    @property
    def title(self) -> str:
        """``digits.f0.25 (fraction 0.25, 314 train images), test view regular``."""
        parts = [self.data_name or self.dataset]
        detail = []
        if self.fraction is not None:
            detail.append(f"fraction {self.fraction:g}")
        if self.n_train is not None:
            detail.append(f"{self.n_train} real train images")
        if detail:
            parts.append(f"({', '.join(detail)})")
        parts.append(f"test view {self.view}")
        return " ".join(parts)


@dataclass
class Analysis:
    """Everything a comparison reports, computed from the runs alone."""

    metric: str
    baseline: str | None
    tables: list[Table]
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)

    @property
    def verdicts(self) -> list[str]:
        """Every table's verdict lines (prefixed by the table when there are several)."""
        if len(self.tables) == 1:
            return list(self.tables[0].verdicts)
        return [f"[{t.title}] {v}" for t in self.tables for v in t.verdicts]

    @property
    def main(self) -> Table:
        """The table of the largest fraction (the full data) in the regular view."""
        regular = [t for t in self.tables if t.view == "regular"] or self.tables
        return max(regular, key=lambda t: (t.fraction or 1.0, t.n_train or 0))


def verdict_line(label: str, table: Table, metric: str, alpha: float) -> str:
    """One line: difference, its intervals, p raw and adjusted, the test, and the word."""
    test = table.tests[label]
    head = f"{label} vs {table.baseline}: {format_diff(test.diff, metric)}"
    if test.method is None:
        return f"{head}: {table.words[label]}; {test.note}" + _foreign(table, label)
    if not math.isnan(test.ci_low):
        unit = " points" if is_fraction(metric) else ""
        head += (
            f" (95% CI {_format_value(test.ci_low, metric)} to "
            f"{_format_value(test.ci_high, metric)}{unit})"
        )
    n = f"n={test.n}" if test.method == PAIRED else f"n={test.n} vs {test.n_baseline}"
    p = f"p={test.p_value:.3g}"
    if test.method == PAIRED and math.isnan(test.p_t):
        p += " (exact sign-flip: no variance in the differences)"
    adjusted = table.adjusted.get(label, math.nan)
    family = sum(not math.isnan(v) for v in table.adjusted.values())
    if not math.isnan(adjusted) and family > 1:
        p += f", Holm p={adjusted:.3g}"
    line = f"{head}, {p} ({test.method}, {n}): {table.words[label]}"
    if test.unpaired:
        line += f"; left unpaired: {', '.join(test.unpaired)}"
    elif test.note and test.method != PAIRED:
        line += f"; {test.note}"
    return line + _foreign(table, label)


def _foreign(table: Table, label: str) -> str:
    """``; foreign generator in 3 run(s): <reason>`` when the arm used one (stated, not hidden)."""
    runs = [r for r in table.groups.get(label, []) if r.foreign]
    return f"; foreign generator in {len(runs)} run(s): {runs[0].foreign}" if runs else ""


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _order(labels, baseline: str | None) -> list[str]:
    rest = sorted((label for label in labels if label != baseline), key=_natural)
    return ([baseline] if baseline in labels else []) + rest


def _per_class(groups: dict[str, list[RunRecord]], baseline: str | None) -> list[dict[str, Any]]:
    """Per class: each arm's mean test accuracy and its change against the baseline."""
    keys = sorted({k for runs in groups.values() for r in runs for k in r.metrics}, key=_natural)
    rows = []
    for key in (k for k in keys if k.startswith(CLASS_PREFIX)):
        row: dict[str, Any] = {"class": key.removeprefix(CLASS_PREFIX)}
        for label, runs in groups.items():
            values = [r.metrics[key] for r in runs if key in r.metrics]
            values = [v for v in values if not math.isnan(v)]  # a class absent from a test set
            row[label] = statistics.fmean(values) if values else math.nan
        if baseline is not None:
            for label in groups:
                if label != baseline:
                    row[f"delta {label} (points)"] = (row[label] - row[baseline]) * 100
        rows.append(row)
    return rows


def _table(
    records: list[RunRecord], metric: str, baseline: str, alpha: float, confidence: float
) -> Table:
    by_label: dict[str, list[RunRecord]] = {}
    for record in records:
        by_label.setdefault(record.strategy, []).append(record)
    base = baseline if baseline in by_label else None
    groups = {label: by_label[label] for label in _order(by_label, base)}
    first = groups[base][0] if base else records[0]
    table = Table(
        dataset=first.dataset,
        view=first.view,
        fraction=first.fraction,
        n_train=first.n_train,
        baseline=base,
        groups=groups,
        summaries={k: summarize([r.value for r in v], confidence) for k, v in groups.items()},
        per_class=_per_class(groups, base),
        data_name=first.data_name,
    )
    for label in groups:
        foreign = _foreign(table, label)
        if foreign and (base is None or label == base):
            table.notes.append(f"{label}{foreign}")
    if base is None:
        table.notes.append(f"no '{baseline}' runs in this table: no tests")
        return table
    reference = [(r.pair_key, r.value) for r in groups[base]]
    for label, runs in groups.items():
        if label != base:
            values = [(r.pair_key, r.value) for r in runs]
            table.tests[label] = compare_to_baseline(values, reference, confidence)
    labels = list(table.tests)
    adjusted = holm([table.tests[k].p_value for k in labels])
    better = higher_is_better(metric)
    table.adjusted = dict(zip(labels, adjusted, strict=True))
    for label in labels:
        table.words[label] = word(table.tests[label], table.adjusted[label], alpha, better)
        table.verdicts.append(verdict_line(label, table, metric, alpha))
    return table


def analyse(
    records: Sequence[RunRecord],
    metric: str,
    baseline: str = "baseline",
    explicit_baseline: bool = False,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> Analysis:
    """Split runs into tables (dataset × test view), summarise each arm, test it, say a word.

    Args:
        records: The runs (from :func:`augplat.compare.collect.collect`).
        metric: The metric their ``value`` holds.
        baseline: The arm the others are tested against.
        explicit_baseline: The user named ``baseline``: no table having it is an error
            (otherwise those tables just have no tests).
        alpha: Family-wise significance level of a table's verdicts (Holm).
        confidence: Level of the intervals.

    Raises:
        UserError: No runs, or a named baseline that no run has.
    """
    if not records:
        raise UserError("no runs to compare")
    keyed: dict[tuple[str, str], list[RunRecord]] = {}
    for record in records:
        keyed.setdefault((record.dataset, record.view), []).append(record)
    tables = [_table(rs, metric, baseline, alpha, confidence) for rs in keyed.values()]
    tables.sort(key=lambda t: (t.view != "regular", t.fraction or 1.0, t.n_train or 0, t.dataset))
    if explicit_baseline and all(t.baseline is None for t in tables):
        known = ", ".join(sorted({r.strategy for r in records}))
        raise UserError(f"no runs of baseline arm '{baseline}' (arms: {known})")
    notes = []
    if len(tables) > 1:
        notes.append(
            f"{len(tables)} tables: runs of different datasets or test views are never pooled "
            "or paired"
        )
    base = baseline if any(t.baseline for t in tables) else None
    return Analysis(metric, base, tables, alpha, notes)
