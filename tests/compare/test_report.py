"""Analysis and report files from constructed runs: grouping, deltas, verdicts, errors."""

from __future__ import annotations

import csv
import statistics

import pytest

from augplat.compare.collect import RunRecord
from augplat.compare.report import analyse, verdict, write_report
from augplat.compare.stats import BaselineTest
from augplat.errors import UserError


def record(strategy, seed, value, **per_class):
    metrics = {"test_top1": value, **{f"test_acc_{k}": v for k, v in per_class.items()}}
    return RunRecord(f"{strategy}-{seed}", "", "0", strategy, seed, value, metrics, "d")


RUNS = [
    record("classic", 0, 0.82, cat=0.9, dog=0.7),
    record("classic", 1, 0.84, cat=0.9, dog=0.8),
    record("classic", 2, 0.86, cat=1.0, dog=0.7),
    record("baseline", 0, 0.80, cat=0.8, dog=0.7),
    record("baseline", 1, 0.81, cat=0.8, dog=0.8),
    record("baseline", 2, 0.82, cat=0.9, dog=0.6),
    record("ensemble", None, 0.90, cat=1.0, dog=0.8),
]


def test_verdict_lines():
    paired = BaselineTest("paired t", 5, 5, 0.0231, 3.9, 0.012, 0.0625)
    assert verdict("classic", "baseline", "test_top1", paired, 0.05) == (
        "classic vs baseline: +2.31 points test_top1, p=0.012 (paired t, n=5): significant at 0.05"
    )
    welch = BaselineTest("Welch t", 3, 4, -0.0123, -1.2, 0.31)
    assert verdict("gan p=0.5", "baseline", "test_loss", welch, 0.05) == (
        "gan p=0.5 vs baseline: -0.0123 test_loss, p=0.31 (Welch t, n=3 vs 4): "
        "not significant at 0.05"
    )
    none = BaselineTest(None, 1, 3, 0.05, float("nan"), float("nan"), note="not testable: x")
    assert verdict("ensemble", "baseline", "test_top1", none, 0.05) == (
        "ensemble vs baseline: +5.00 points test_top1: not testable: x"
    )


def test_analysis_groups_summarises_and_tests():
    a = analyse(RUNS, "test_top1")
    assert list(a.groups) == ["baseline", "classic", "ensemble"]
    assert a.summaries["classic"].mean == pytest.approx(0.84)
    assert a.summaries["baseline"].std == pytest.approx(0.01)
    # classic - baseline per seed: 0.02, 0.03, 0.04 → mean 0.03, sd 0.01, t = 3 √3
    classic = a.tests["classic"]
    assert classic.method == "paired t" and classic.diff == pytest.approx(0.03)
    assert classic.statistic == pytest.approx(3 * 3**0.5)
    assert a.tests["ensemble"].method is None
    assert a.verdicts[0].startswith("classic vs baseline: +3.00 points test_top1, p=0.0")
    cat = next(row for row in a.per_class if row["class"] == "cat")
    assert cat["baseline"] == pytest.approx(2.5 / 3)
    assert cat["delta classic (points)"] == pytest.approx((2.8 - 2.5) / 3 * 100)
    assert cat["delta ensemble (points)"] == pytest.approx((1.0 - 2.5 / 3) * 100)


def test_without_baseline_runs_there_are_no_tests():
    a = analyse([r for r in RUNS if r.strategy != "baseline"], "test_top1")
    assert a.baseline is None and a.tests == {} and a.verdicts == []
    assert "no 'baseline' runs" in a.notes[0]
    assert not any(k.startswith("delta") for k in a.per_class[0])


def test_baseline_errors():
    with pytest.raises(UserError, match="baseline 'baseline' has 1 run"):
        analyse([r for r in RUNS if r.run_id != "baseline-0" and r.run_id != "baseline-1"], "x")
    with pytest.raises(UserError, match=r"no runs of baseline strategy 'gan'.*classic"):
        analyse(RUNS, "test_top1", baseline="gan", explicit_baseline=True)
    a = analyse(RUNS, "test_top1", baseline="classic", explicit_baseline=True)
    assert next(iter(a.groups)) == "classic" and "baseline" in a.tests


def test_report_files(tmp_path):
    a = analyse(RUNS, "test_top1")
    written = write_report(a, tmp_path)
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    names = {p.name for p in written}
    for name in ("summary", "tests", "per_class"):
        assert {f"{name}.csv", f"{name}.md"} <= names
    assert {"runs.csv", "verdicts.txt", "report.md", "comparison.png"} <= names
    rows = {
        r["strategy"]: r
        for r in csv.DictReader((tmp_path / "summary.csv").read_text().splitlines())
    }
    want = statistics.fmean(r.value for r in RUNS if r.strategy == "classic")
    assert float(rows["classic"]["mean"]) == pytest.approx(want)
    assert rows["ensemble"]["ci95_low"] == ""  # n = 1: no interval
    assert (tmp_path / "verdicts.txt").read_text().splitlines() == a.verdicts
    assert "| baseline | 3 | 0.8100 | 0.0100 |" in (tmp_path / "summary.md").read_text()
