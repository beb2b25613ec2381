"""`augplat ensemble` and `augplat compare` end to end on tiny real training runs.

Four one-epoch simplecnn runs on a small digits set (aug none and classic, seeds 0 and 1) are
trained once for the module through the real CLI entry point, in one subprocess so the
interpreter and torch start once; ensemble and compare then run as `python -m augplat`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

TINY = ["--model", "simplecnn", "--batch-size", "32", "--eval-batch-size", "256", "--epochs", "1"]
EXPERIMENT = "cmp"

TRAIN_SCRIPT = """
import json, sys
from augplat.cli import main

def run(*args):
    try:
        main(list(args))
    except SystemExit as exc:
        if exc.code:
            raise

args = json.loads(sys.argv[1])
run("data", "prepare", "digits", "--size", "16", "--fraction", "0.4")
for aug in ("none", "classic"):
    for seed in ("0", "1"):
        run("train", "--data", "digits", *args, "--aug", aug, "--seed", seed)
"""


class Store:
    """The module's data home and MLflow store, and runs made in it."""

    def __init__(self, root: Path):
        self.root = root
        self.uri = f"sqlite:///{root / 'mlflow.db'}"
        self.env = {"AUGPLAT_HOME": str(root / "home")}
        self.runs: dict[tuple[str, int], str] = {}
        self.ensemble = ""

    def cli(self, *args: str, check: bool = False):
        return run_cli(*args, "--tracking-uri", self.uri, check=check, env=self.env)

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(self.uri)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def _run_ids(stdout: str) -> list[str]:
    return [line.split("=", 1)[1] for line in stdout.splitlines() if line.startswith("run_id=")]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    s = Store(tmp_path_factory.mktemp("compare-e2e"))
    args = [*TINY, "--no-log-model", "--experiment", EXPERIMENT, "--tracking-uri", s.uri]
    proc = subprocess.run(
        [sys.executable, "-c", TRAIN_SCRIPT, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=s.root,
        env={**os.environ, **s.env},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    ids = _run_ids(proc.stdout)
    assert len(ids) == 4, proc.stdout
    s.runs = dict(zip([("none", 0), ("none", 1), ("classic", 0), ("classic", 1)], ids, strict=True))
    members = [s.runs["none", 0], s.runs["none", 1], s.runs["classic", 0]]
    s.ensemble = _run_ids(s.cli("ensemble", *members, "--rule", "vote", check=True).stdout)[0]
    return s


def _artifacts(client, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_ensemble_run_links_members_and_scores_like_them(store):
    client = store.client()
    run = client.get_run(store.ensemble)
    members = [store.runs["none", 0], store.runs["none", 1], store.runs["classic", 0]]
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert run.info.status == "FINISHED"
    assert tags["augplat.kind"] == "ensemble" and tags["augplat.strategy"] == "ensemble"
    assert [tags[f"augplat.member.{i}"] for i in range(3)] == members
    assert tags["augplat.members"] == ",".join(members)
    assert json.loads(params["members"]) == members and params["rule"] == "vote"
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    for split in ("val", "test"):
        for key in ("top1", "top2", "top5", "macro_f1", "acc_0", "acc_9"):
            assert 0.0 <= metrics[f"{split}_{key}"] <= 1.0
    # each member's reloaded best checkpoint reproduces the test score its own run logged
    for i, member in enumerate(members):
        logged = client.get_run(member).data.metrics["test_top1"]
        assert metrics[f"member{i}_test_top1"] == pytest.approx(logged, abs=1e-9)
    files = _artifacts(client, store.ensemble)
    for split in ("val", "test"):
        assert {f"evaluation/{split}/{f}" for f in ("confusion.png", "confusion.csv")} <= files
    assert {"evaluation/members.csv", "config.yaml"} <= files
    local = Path(client.download_artifacts(store.ensemble, "evaluation/test/confusion.csv", "."))
    counts = [list(map(int, r.split(",")[1:])) for r in local.read_text().splitlines()[1:]]
    total = sum(map(sum, counts))
    assert sum(counts[i][i] for i in range(len(counts))) / total == pytest.approx(
        metrics["test_top1"]
    )


def test_compare_experiment_end_to_end(store, tmp_path):
    out = tmp_path / "report"
    proc = store.cli("compare", "--experiment", EXPERIMENT, "--out", str(out), check=True)
    assert "| arm | n | mean (points) | ci95 (points) |" in proc.stdout
    assert "classic vs baseline: " in proc.stdout and "(paired t, n=2)" in proc.stdout
    assert "ensemble vs baseline: " in proc.stdout and "not testable" in proc.stdout
    assert "underpowered (n=2)" in proc.stdout  # two seeds can never make a verdict
    client = store.client()
    value = {k: client.get_run(r).data.metrics["test_top1"] for k, r in store.runs.items()}
    summary = {row["arm"]: row for row in read_csv(out / "summary.csv")}
    assert list(summary) == ["baseline", "classic", "ensemble"]
    for aug, label in (("none", "baseline"), ("classic", "classic")):
        pair = [value[aug, 0], value[aug, 1]]
        assert int(summary[label]["n"]) == 2
        assert float(summary[label]["mean (points)"]) == pytest.approx(statistics.fmean(pair) * 100)
        half = 12.706204736174698 * statistics.stdev(pair) / math.sqrt(2)  # t(0.975, 1)
        high = float(summary[label]["ci95 (points)"].strip("[]").split(",")[1])
        assert high == pytest.approx((statistics.fmean(pair) + half) * 100, abs=0.006)
    ensemble_top1 = client.get_run(store.ensemble).data.metrics["test_top1"]
    assert float(summary["ensemble"]["mean (points)"]) == pytest.approx(ensemble_top1 * 100)
    tests = {row["arm"]: row for row in read_csv(out / "tests.csv")}
    diff = statistics.fmean([value["classic", s] - value["none", s] for s in (0, 1)])
    assert tests["classic"]["test"] == "paired t"
    assert float(tests["classic"]["diff"]) == pytest.approx(diff)
    per_class = read_csv(out / "per_class.csv")
    assert [row["class"] for row in per_class] == [str(k) for k in range(10)]

    compare_id = _run_ids(proc.stdout)[0]
    run = client.get_run(compare_id)
    assert run.data.tags["augplat.kind"] == "compare" and run.info.status == "FINISHED"
    assert run.data.metrics["classic.mean"] * 100 == pytest.approx(
        float(summary["classic"]["mean (points)"])
    )
    assert run.data.tags["augplat.verdict.classic"] == "underpowered (n=2)"
    assert set(json.loads(run.data.params["runs"])) == {*store.runs.values(), store.ensemble}
    files = _artifacts(client, compare_id)
    expected = {"summary.csv", "summary.md", "tests.csv", "per_class.md", "comparison.png"}
    assert {f"comparison/{name}" for name in expected} <= files


def test_user_errors_are_one_line_and_log_nothing(store):
    client = store.client()

    def compare_runs():
        exp = client.get_experiment_by_name(EXPERIMENT).experiment_id
        return client.search_runs([exp], "tags.`augplat.kind` = 'compare'")

    before = len(compare_runs())
    lonely = [store.runs["none", 0], store.runs["classic", 0], store.runs["classic", 1]]
    cases = [
        (("compare", *lonely, "--baseline", "gan"), "no runs of baseline arm 'gan'"),
        (("ensemble", store.runs["none", 0], "0123456789abcdef"), "0123456789abcdef"),
    ]
    for args, fragment in cases:
        proc = store.cli(*args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, proc.stderr
        assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert len(compare_runs()) == before


def test_members_on_different_data_are_refused_before_any_run(store):
    from augplat.classify.ensemble_run import EnsembleConfig, run_ensemble
    from augplat.errors import ConfigError

    client = store.client()
    exp = client.get_experiment_by_name(EXPERIMENT).experiment_id
    other = client.create_run(
        exp, tags={"augplat.kind": "train", "augplat.dataset_digest": "0000000000000000"}
    ).info.run_id
    client.set_terminated(other)
    n_runs = len(client.search_runs([exp]))
    cfg = EnsembleConfig(runs=(store.runs["none", 0], other))
    with pytest.raises(ConfigError, match="share one dataset"):
        run_ensemble(cfg, tracking_uri=store.uri)
    assert len(client.search_runs([exp])) == n_runs
    client.delete_run(other)


def test_checkpoint_falls_back_to_the_local_run_directory(store, monkeypatch):
    from augplat import tracking
    from augplat.classify.ensemble_run import _best_state

    monkeypatch.setenv("AUGPLAT_HOME", store.env["AUGPLAT_HOME"])
    tracked = tracking.Store(store.client())

    def no_artifact(*args, **kwargs):
        raise OSError("artifact store unavailable")

    monkeypatch.setattr(tracked.client, "download_artifacts", no_artifact)
    state = _best_state(tracked, store.runs["classic", 1])
    assert state["config"]["aug"] == "classic" and state["config"]["seed"] == 1
