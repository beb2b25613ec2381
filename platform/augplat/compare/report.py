"""Turn collected runs into a comparison: per-strategy statistics, tests, verdicts and files.

How to use::

    analysis = analyse(found.records, metric="test_top1", baseline="baseline")
    paths = write_report(analysis, Path("comparison"))   # tables (md + csv), plot, verdicts
    print(summary_markdown(analysis)); print("\\n".join(analysis.verdicts))

Files: ``summary.{md,csv}`` (n, mean, std, CI per strategy), ``tests.{md,csv}`` (each strategy
against the baseline), ``per_class.{md,csv}`` (mean per-class test accuracy per strategy and the
change against the baseline, in points), ``runs.csv``, ``verdicts.txt``, ``comparison.png`` and
``report.md`` with all of it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augplat.compare.collect import RunRecord
from augplat.compare.stats import BaselineTest, Summary, compare_to_baseline, summarize
from augplat.errors import UserError

CLASS_PREFIX = "test_acc_"


@dataclass
class Analysis:
    """Everything a comparison reports, computed from the runs alone."""

    metric: str
    baseline: str | None
    groups: dict[str, list[RunRecord]]
    summaries: dict[str, Summary]
    tests: dict[str, BaselineTest]
    verdicts: list[str]
    per_class: list[dict[str, Any]] = field(default_factory=list)
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)


def is_fraction(metric: str) -> bool:
    """Accuracy-like metrics in [0, 1], whose differences read as percentage points."""
    return re.search(r"top\d|acc|f1", metric) is not None


def format_diff(diff: float, metric: str) -> str:
    """``+2.31 points test_top1`` for fractions, ``-0.0123 test_loss`` otherwise."""
    if is_fraction(metric):
        return f"{diff * 100:+.2f} points {metric}"
    return f"{diff:+.4g} {metric}"


def verdict(strategy: str, baseline: str, metric: str, test: BaselineTest, alpha: float) -> str:
    """One line: the change against the baseline, its p value and test, and the conclusion."""
    head = f"{strategy} vs {baseline}: {format_diff(test.diff, metric)}"
    if test.method is None:
        return f"{head}: {test.note}"
    n = f"n={test.n}" if test.method.startswith("paired") else f"n={test.n} vs {test.n_baseline}"
    word = "significant" if test.significant(alpha) else "not significant"
    return f"{head}, p={test.p_value:.3g} ({test.method}, {n}): {word} at {alpha:g}"


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _order(labels, baseline: str | None) -> list[str]:
    rest = sorted((label for label in labels if label != baseline), key=_natural)
    return ([baseline] if baseline in labels else []) + rest


def _per_class(groups: dict[str, list[RunRecord]], baseline: str | None) -> list[dict[str, Any]]:
    """Per class: each strategy's mean test accuracy and its change against the baseline."""
    import statistics

    keys = sorted({k for runs in groups.values() for r in runs for k in r.metrics}, key=_natural)
    rows = []
    for key in (k for k in keys if k.startswith(CLASS_PREFIX)):
        row: dict[str, Any] = {"class": key.removeprefix(CLASS_PREFIX)}
        for label, runs in groups.items():
            values = [r.metrics[key] for r in runs if key in r.metrics]
            row[label] = statistics.fmean(values) if values else math.nan
        if baseline is not None:
            for label in groups:
                if label != baseline:
                    row[f"delta {label} (points)"] = (row[label] - row[baseline]) * 100
        rows.append(row)
    return rows


def _baseline(groups: dict[str, list[RunRecord]], baseline: str, explicit: bool) -> str | None:
    if baseline not in groups:
        if explicit:
            known = ", ".join(groups)
            raise UserError(f"no runs of baseline strategy '{baseline}' (strategies: {known})")
        return None
    if len(groups[baseline]) < 2:
        raise UserError(
            f"baseline '{baseline}' has {len(groups[baseline])} run; a confidence interval and a "
            "test need at least 2 (train it with more seeds, e.g. --seed 1)"
        )
    return baseline


def analyse(
    records: Sequence[RunRecord],
    metric: str,
    baseline: str = "baseline",
    explicit_baseline: bool = False,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> Analysis:
    """Group runs by strategy, summarise each, and test each against the baseline.

    Args:
        records: The runs (from :func:`augplat.compare.collect.collect`).
        metric: The metric their ``value`` holds.
        baseline: The strategy the others are tested against.
        explicit_baseline: The user named ``baseline``: its absence is an error (otherwise the
            comparison just has no tests).
        alpha: Significance level of the verdicts.
        confidence: Level of the confidence intervals.

    Raises:
        UserError: The baseline has fewer than 2 runs, or a named baseline has none.
    """
    if not records:
        raise UserError("no runs to compare")
    by_label: dict[str, list[RunRecord]] = {}
    for record in records:
        by_label.setdefault(record.strategy, []).append(record)
    base = _baseline(by_label, baseline, explicit_baseline)
    groups = {label: by_label[label] for label in _order(by_label, base)}
    summaries = {
        label: summarize([r.value for r in runs], confidence) for label, runs in groups.items()
    }
    tests, verdicts, notes = {}, [], []
    if base is None:
        notes.append(f"no '{baseline}' runs (aug none on the original data): no tests")
    else:
        reference = [(r.seed, r.value) for r in groups[base]]
        for label, runs in groups.items():
            if label != base:
                tests[label] = compare_to_baseline([(r.seed, r.value) for r in runs], reference)
                verdicts.append(verdict(label, base, metric, tests[label], alpha))
    return Analysis(
        metric, base, groups, summaries, tests, verdicts, _per_class(groups, base), alpha, notes
    )


def _cell(value: Any, spec: str = ".4f") -> str:
    """Markdown cell: floats in ``spec`` format, NaN as a dash."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "—" if math.isnan(value) else format(value, spec)
    return str(value).replace("|", "\\|")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return "" if value is None else value


def _spec(column: str) -> str:
    """Number format of a column: p values to 3 significant digits, points to 2 decimals."""
    if column == "p" or column.endswith("_p"):
        return ".3g"
    return ".2f" if column.endswith("(points)") else ".4f"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    specs = [_spec(column) for column in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(v, f) for v, f in zip(row, specs, strict=True)) + " |")
    return "\n".join(lines) + "\n"


def csv_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV text; NaN and None become empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_csv_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def summary_table(a: Analysis) -> tuple[list[str], list[list[Any]]]:
    """Per strategy: n, mean, std and the CI bounds of the metric."""
    level = round(next(iter(a.summaries.values())).confidence * 100)
    header = ["strategy", "n", "mean", "std", f"ci{level}_low", f"ci{level}_high"]
    rows = [[k, s.n, s.mean, s.std, s.ci_low, s.ci_high] for k, s in a.summaries.items()]
    return header, rows


def tests_table(a: Analysis) -> tuple[list[str], list[list[Any]]]:
    """Per strategy against the baseline: test, sizes, difference, t, p values, conclusion."""
    header = ["strategy", "test", "n", "n_baseline", "diff", "t", "p", "wilcoxon_p"]
    header += [f"significant_{a.alpha:g}", "note"]
    rows = [
        [
            label,
            t.method or "none",
            t.n,
            t.n_baseline,
            t.diff,
            t.statistic,
            t.p_value,
            math.nan if t.wilcoxon_p is None else t.wilcoxon_p,
            "yes" if t.significant(a.alpha) else "no",
            t.note,
        ]
        for label, t in a.tests.items()
    ]
    return header, rows


def per_class_table(a: Analysis) -> tuple[list[str], list[list[Any]]]:
    """Per class: mean test accuracy per strategy, then deltas (points) against the baseline."""
    if not a.per_class:
        return ["class"], []
    header = list(a.per_class[0])
    return header, [[row[k] for k in header] for row in a.per_class]


def runs_table(a: Analysis) -> tuple[list[str], list[list[Any]]]:
    """Every compared run: id, name, strategy, seed and metric value."""
    header = ["run_id", "run_name", "strategy", "seed", a.metric]
    rows = [
        [r.run_id, r.run_name, label, "" if r.seed is None else r.seed, r.value]
        for label, runs in a.groups.items()
        for r in runs
    ]
    return header, rows


def summary_markdown(a: Analysis) -> str:
    """The summary table as markdown (what the CLI prints)."""
    header, rows = summary_table(a)
    return markdown_table(header, rows)


def write_report(a: Analysis, out: Path) -> list[Path]:
    """Write every table (markdown + CSV), the verdicts, the plot and ``report.md`` into ``out``."""
    from augplat import plots

    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "summary": summary_table(a),
        "tests": tests_table(a),
        "per_class": per_class_table(a),
    }
    written = []
    sections = [f"# Comparison of {a.metric}\n"]
    for name, (header, rows) in tables.items():
        (out / f"{name}.csv").write_text(csv_table(header, rows), encoding="utf-8")
        (out / f"{name}.md").write_text(markdown_table(header, rows), encoding="utf-8")
        written += [out / f"{name}.csv", out / f"{name}.md"]
        sections.append(f"## {name.replace('_', ' ')}\n\n{markdown_table(header, rows)}")
    header, rows = runs_table(a)
    (out / "runs.csv").write_text(csv_table(header, rows), encoding="utf-8")
    lines = a.verdicts + a.notes
    (out / "verdicts.txt").write_text("".join(f"{v}\n" for v in lines), encoding="utf-8")
    sections.insert(1, "".join(f"- {v}\n" for v in lines))
    (out / "report.md").write_text("\n".join(sections), encoding="utf-8")
    plots.strategy_comparison(
        list(a.groups),
        [[r.value for r in runs] for runs in a.groups.values()],
        [(s.mean, s.ci_low, s.ci_high) for s in a.summaries.values()],
        out / "comparison.png",
        a.metric,
        baseline=a.baseline,
    )
    return [
        *written,
        out / "runs.csv",
        out / "verdicts.txt",
        out / "report.md",
        out / "comparison.png",
    ]
