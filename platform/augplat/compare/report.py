"""Comparison files and text: the verdict table per dataset, tests, per-class deltas, plots.

How to use::

    analysis = analyse(found.records, metric="test_top1", baseline="classic")
    paths = write_report(analysis, Path("comparison"))   # tables (md + csv), plot, verdicts
    print(verdict_markdown(analysis))                    # what the CLI and the study print

Files: ``summary.{md,csv}`` (per table and arm: n, mean, 95% CI, difference vs baseline with
its t and bootstrap intervals, raw and Holm-adjusted p, the word), ``tests.{md,csv}`` (every
test statistic), ``per_class.{md,csv}``, ``runs.csv``, ``verdicts.txt``, ``comparison.png`` and
``report.md`` with all of it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from augplat.compare.analysis import (  # re-exported: the report's vocabulary
    Analysis,
    Table,
    analyse,
    format_diff,
    is_fraction,
)

__all__ = ["Analysis", "analyse", "format_diff", "verdict_markdown", "write_report"]


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
    return ".2f" if "(points)" in column else ".4f"


def formatted_rows(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    """Cells as text, each column in its format (p values 3 significant digits, points .2f)."""
    specs = [_spec(column) for column in header]
    return [[_cell(v, f) for v, f in zip(row, specs, strict=True)] for row in rows]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in formatted_rows(header, rows)]
    return "\n".join(lines) + "\n"


def csv_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV text; NaN and None become empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_csv_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def _pct(value: float, metric: str) -> float:
    return value * 100 if is_fraction(metric) and not math.isnan(value) else value


def verdict_rows(a: Analysis, table: Table) -> tuple[list[str], list[list[Any]]]:
    """Per arm of one table: n, mean, CI, difference vs baseline with CIs, p, Holm p, word."""
    unit = " (points)" if is_fraction(a.metric) else ""
    header = [
        "arm",
        "n",
        f"mean{unit}",
        f"ci95{unit}",
        f"diff vs {table.baseline or '—'}{unit}",
        f"diff ci95{unit}",
        f"bootstrap ci95{unit}",
        "p",
        "holm_p",
        "verdict",
    ]
    rows = []
    for label, s in table.summaries.items():
        test = table.tests.get(label)
        row = [label, s.n, _pct(s.mean, a.metric), _interval(s.ci_low, s.ci_high, a.metric)]
        if test is None:
            row += ["baseline" if label == table.baseline else "", "", "", math.nan, math.nan]
            row.append("baseline" if label == table.baseline else "")
        else:
            row += [
                _pct(test.diff, a.metric),
                _interval(test.ci_low, test.ci_high, a.metric),
                _interval(test.boot_low, test.boot_high, a.metric),
                test.p_value,
                table.adjusted.get(label, math.nan),
                table.words.get(label, ""),
            ]
        rows.append(row)
    return header, rows


def _interval(low: float, high: float, metric: str) -> str:
    if math.isnan(low) or math.isnan(high):
        return "—"
    return f"[{_pct(low, metric):.2f}, {_pct(high, metric):.2f}]"


def tests_rows(a: Analysis) -> tuple[list[str], list[list[Any]]]:
    """Every test of every table: method, sizes, difference, t, p values, the word, notes."""
    header = ["table", "arm", "test", "n", "n_baseline", "diff", "t", "p", "p_t"]
    header += ["sign_flip_p", "holm_p", "verdict", "note"]
    rows = [
        [
            table.title,
            label,
            t.method or "none",
            t.n,
            t.n_baseline,
            t.diff,
            t.statistic,
            t.p_value,
            t.p_t,
            math.nan if t.sign_flip_p is None else t.sign_flip_p,
            table.adjusted.get(label, math.nan),
            table.words.get(label, ""),
            t.note,
        ]
        for table in a.tables
        for label, t in table.tests.items()
    ]
    return header, rows


def per_class_rows(table: Table) -> tuple[list[str], list[list[Any]]]:
    """Per class: mean test accuracy per arm, then deltas (points) against the baseline."""
    if not table.per_class:
        return ["class"], []
    header = list(table.per_class[0])
    return header, [[row[k] for k in header] for row in table.per_class]


def runs_rows(a: Analysis) -> tuple[list[str], list[list[Any]]]:
    """Every compared run: table, id, name, arm, pair key and metric value."""
    header = ["table", "run_id", "run_name", "arm", "seed", a.metric]
    rows = [
        [t.title, r.run_id, r.run_name, label, r.pair_key or "", r.value]
        for t in a.tables
        for label, runs in t.groups.items()
        for r in runs
    ]
    return header, rows


def verdict_markdown(a: Analysis) -> str:
    """One markdown verdict table per dataset and view, with its title and verdict lines."""
    parts = []
    for table in a.tables:
        header, rows = verdict_rows(a, table)
        parts.append(f"**{table.title}** — {a.metric}\n\n{markdown_table(header, rows)}")
        parts += [f"- {line}" for line in table.notes]
    return "\n".join(parts)


def summary_markdown(a: Analysis) -> str:
    """The verdict tables (kept under this name for the CLI)."""
    return verdict_markdown(a)


def _write(out: Path, name: str, header, rows, written: list[Path]) -> str:
    (out / f"{name}.csv").write_text(csv_table(header, rows), encoding="utf-8")
    text = markdown_table(header, rows)
    (out / f"{name}.md").write_text(text, encoding="utf-8")
    written += [out / f"{name}.csv", out / f"{name}.md"]
    return text


def write_report(a: Analysis, out: Path) -> list[Path]:
    """Write the tables (markdown + CSV), the verdicts, the plot and ``report.md`` into ``out``."""
    from augplat.runtime import plots

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    sections = [f"# Comparison of {a.metric}\n", "".join(f"- {v}\n" for v in a.verdicts + a.notes)]
    all_rows: list[list[Any]] = []
    for table in a.tables:
        header, rows = verdict_rows(a, table)
        all_rows += [[table.title, *row] for row in rows]
        sections.append(f"## {table.title}\n\n{markdown_table(header, rows)}")
        pc_header, pc_rows = per_class_rows(table)
        if pc_rows:
            sections.append(f"### per class\n\n{markdown_table(pc_header, pc_rows)}")
    if a.tables:
        header, _ = verdict_rows(a, a.tables[0])
        _write(out, "summary", ["table", *header], all_rows, written)
    sections.append("## tests\n\n" + _write(out, "tests", *tests_rows(a), written))
    pc_header, pc_rows = per_class_rows(a.main)
    _write(out, "per_class", pc_header, pc_rows, written)
    header, rows = runs_rows(a)
    (out / "runs.csv").write_text(csv_table(header, rows), encoding="utf-8")
    (out / "verdicts.txt").write_text("".join(f"{v}\n" for v in a.verdicts + a.notes), "utf-8")
    (out / "report.md").write_text("\n".join(sections), encoding="utf-8")
    main = a.main
    plots.strategy_comparison(
        list(main.groups),
        [[r.value for r in runs] for runs in main.groups.values()],
        [(s.mean, s.ci_low, s.ci_high) for s in main.summaries.values()],
        out / "comparison.png",
        a.metric,
        baseline=main.baseline,
    )
    return [
        *written,
        out / "runs.csv",
        out / "verdicts.txt",
        out / "report.md",
        out / "comparison.png",
    ]
