"""Analysis and report files from constructed runs: grouping, deltas, verdicts, errors."""

from __future__ import annotations

import csv
import dataclasses
import statistics

import numpy as np
import pytest

from augplat.compare.collect import RunRecord
from augplat.compare.report import analyse, write_report
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
    a = analyse(RUNS, "test_top1")
    table = a.tables[0]
    # classic - baseline per seed: 0.02, 0.03, 0.04; t interval 0.03 ± t(0.975, 2)·0.01/√3
    half = 4.302652729911275 * 0.01 / 3**0.5
    assert table.verdicts[0] == (
        f"classic vs baseline: +3.00 points test_top1 (95% CI {3 - half * 100:+.2f} to "
        f"{3 + half * 100:+.2f} points), p={table.tests['classic'].p_value:.3g} (paired t, n=3): "
        "underpowered (n=3)"
    )
    assert table.verdicts[1] == (
        "ensemble vs baseline: +9.00 points test_top1: underpowered (n=1 vs 3); "
        "not testable: needs 2 runs on each side, got 1 vs 3"
    )


def test_analysis_groups_summarises_and_tests():
    table = analyse(RUNS, "test_top1").tables[0]
    assert list(table.groups) == ["baseline", "classic", "ensemble"]
    assert table.summaries["classic"].mean == pytest.approx(0.84)
    assert table.summaries["baseline"].std == pytest.approx(0.01)
    # classic - baseline per seed: 0.02, 0.03, 0.04 → mean 0.03, sd 0.01, t = 3 √3
    classic = table.tests["classic"]
    assert classic.method == "paired t" and classic.diff == pytest.approx(0.03)
    assert classic.statistic == pytest.approx(3 * 3**0.5)
    assert table.tests["ensemble"].method is None
    cat = next(row for row in table.per_class if row["class"] == "cat")
    assert cat["baseline"] == pytest.approx(2.5 / 3)
    assert cat["delta classic (points)"] == pytest.approx((2.8 - 2.5) / 3 * 100)
    assert cat["delta ensemble (points)"] == pytest.approx((1.0 - 2.5 / 3) * 100)


def test_without_baseline_runs_there_are_no_tests():
    a = analyse([r for r in RUNS if r.strategy != "baseline"], "test_top1")
    table = a.tables[0]
    assert a.baseline is None and table.tests == {} and a.verdicts == []
    assert "no 'baseline' runs" in table.notes[0]
    assert not any(k.startswith("delta") for k in table.per_class[0])


def test_a_class_absent_from_some_test_sets_is_averaged_over_the_runs_that_have_it():
    runs = [record("baseline", s, 0.8, cat=0.5, dog=float("nan")) for s in (0, 1)]
    runs.append(record("baseline", 2, 0.8, cat=0.8, dog=0.6))
    row = {r["class"]: r for r in analyse(runs, "test_top1").tables[0].per_class}
    assert row["dog"]["baseline"] == pytest.approx(0.6) and row["cat"]["baseline"] == 0.6


def test_baseline_errors():
    one = [r for r in RUNS if r.run_id not in ("baseline-0", "baseline-1")]
    assert analyse(one, "x").tables[0].words["classic"] == "underpowered (n=3 vs 1)"
    with pytest.raises(UserError, match=r"no runs of baseline arm 'gan'.*classic"):
        analyse(RUNS, "test_top1", baseline="gan", explicit_baseline=True)
    table = analyse(RUNS, "test_top1", baseline="classic", explicit_baseline=True).tables[0]
    assert next(iter(table.groups)) == "classic" and "baseline" in table.tests


def _arm(strategy, values, **fields):
    return [
        dataclasses.replace(record(strategy, seed, value), **fields)
        for seed, value in enumerate(values)
    ]


def test_test_views_and_datasets_are_never_pooled_or_paired():
    base = [0.70, 0.72, 0.69, 0.71, 0.73, 0.70]
    gan_view = _arm("gan", [v + 0.1 for v in base], view="gan")
    other_data = _arm("classic", [v + 0.1 for v in base], dataset="other")
    a = analyse(_arm("baseline", base) + gan_view + other_data, "test_top1")
    assert len(a.tables) == 3
    assert all(len(t.groups) == 1 for t in a.tables)  # nothing paired across tables
    assert all(not t.tests for t in a.tables)
    assert {(t.dataset, t.view) for t in a.tables} == {
        ("d", "regular"),
        ("d", "gan"),
        ("other", "regular"),
    }


def test_holm_across_five_arms_decides_the_words():
    rng = np.random.default_rng(3)
    base = rng.uniform(0.6, 0.7, size=8)
    runs = _arm("baseline", base)
    gains = [0.0, 0.0, 0.0, 0.0, 0.004]
    for i, gain in enumerate(gains):
        runs += _arm(f"arm{i}", base + gain + rng.normal(0, 0.004, size=8))
    table = analyse(runs, "test_top1").tables[0]
    raw = [table.tests[f"arm{i}"].p_value for i in range(5)]
    order = np.argsort(raw)
    want = np.maximum.accumulate([min(1.0, (5 - k) * raw[i]) for k, i in enumerate(order)])
    for k, i in enumerate(order):
        assert table.adjusted[f"arm{i}"] == pytest.approx(want[k])
    for i in range(5):
        p = table.adjusted[f"arm{i}"]
        assert (table.words[f"arm{i}"] == "no detectable difference") == (p >= 0.05)
        assert f"Holm p={p:.3g}" in table.verdicts[i]
    assert table.words["arm4"] == "helps"  # the one real gain survives the adjustment


def test_unpaired_runs_are_named_in_the_verdict_line():
    base = [0.70, 0.72, 0.69, 0.71, 0.73, 0.70]
    arm = [*_arm("classic", [v + 0.01 for v in base]), record("classic", 9, 0.9)]
    line = analyse(_arm("baseline", base) + arm, "test_top1").verdicts[0]
    assert line.endswith("; left unpaired: 9")


def test_report_files(tmp_path):
    a = analyse(RUNS, "test_top1")
    written = write_report(a, tmp_path)
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    names = {p.name for p in written}
    for name in ("summary", "tests", "per_class"):
        assert {f"{name}.csv", f"{name}.md"} <= names
    assert {"runs.csv", "verdicts.txt", "report.md", "comparison.png"} <= names
    rows = {
        r["arm"]: r for r in csv.DictReader((tmp_path / "summary.csv").read_text().splitlines())
    }
    want = statistics.fmean(r.value for r in RUNS if r.strategy == "classic")
    assert float(rows["classic"]["mean (points)"]) == pytest.approx(want * 100)
    assert rows["ensemble"]["ci95 (points)"] == "—"  # n = 1: no interval
    assert rows["classic"]["verdict"] == "underpowered (n=3)"
    assert (tmp_path / "verdicts.txt").read_text().splitlines() == a.verdicts
    assert (
        "| baseline | 3 | 81.00 | [78.52, 83.48] | baseline |"
        in (tmp_path / "summary.md").read_text()
    )


def test_a_foreign_generator_is_stated_in_the_verdict():
    base = [0.70, 0.72, 0.69, 0.71, 0.73, 0.70]
    why = "trained on images outside the train split of digits-20"
    gan = _arm("gan", [v + 0.01 for v in base], foreign=why)
    a = analyse(_arm("baseline", base) + gan, "test_top1")
    assert a.verdicts[0].endswith(f"; foreign generator in 6 run(s): {why}")
