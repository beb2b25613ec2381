"""Shared checks for the study tests (both backends must leave the same report behind)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

REPORT_FILES = {
    "trials.csv",
    "best_params.json",
    "final.csv",
    "optimization_history.png",
    "parallel_coordinate.png",
    "slice.png",
}


def check_study_report(client, parent, finals, dest: str | Path) -> tuple[list[dict], dict, set]:
    """Download the parent's ``study/`` artifacts and check them against each other.

    The report files are all there; ``best_params.json`` is the best COMPLETE row of
    ``trials.csv`` and the parent's ``best_value``; every final run used the best lr.
    Returns the trials rows, the best-params record and the file names, for further checks.
    """
    out = Path(client.download_artifacts(parent.info.run_id, "study", str(dest)))
    names = {p.name for p in out.iterdir()}
    assert names >= REPORT_FILES
    rows = list(csv.DictReader((out / "trials.csv").open()))
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    best_row = max(complete, key=lambda r: float(r["value"]))
    best = json.loads((out / "best_params.json").read_text())
    assert best["trial"] == int(best_row["number"])
    assert best["value"] == pytest.approx(float(best_row["value"]))
    assert best["params"]["lr"] == pytest.approx(float(best_row["params_lr"]))
    assert parent.data.metrics["best_value"] == pytest.approx(best["value"])
    for run in finals:
        assert float(run.data.params["lr"]) == pytest.approx(best["params"]["lr"])
    return rows, best, names
