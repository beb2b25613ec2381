"""`augplat study` end to end in real subprocesses: tracking structure, resume, kill, workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.study import check_study_report

TINY_STUDY = """
train:
  {{data: digits, model: simplecnn, epochs: {epochs}, batch_size: 64, eval_batch_size: 512,
   checkpoint_interval: 0}}
space:
  lr: {{type: float, low: 1.0e-3, high: 3.0e-2, log: true}}
  optimizer: {{type: categorical, choices: [adam, sgd]}}
  momentum: {{type: float, low: 0.8, high: 0.95, when: {{optimizer: sgd}}}}
trials: 3
sampler: {{name: random, seed: 0}}
pruner: {{name: median, n_startup_trials: 2, n_warmup_steps: 1}}
final: {{seeds: [0, 1], arms: {{tuned: {{}}}}}}
"""


@pytest.fixture
def tiny_study(cli, tmp_path):
    cli("data", "prepare", "digits", "--size", "16", "--fraction", "0.3", check=True)

    def write(epochs: int = 2) -> Path:
        path = tmp_path / "tiny.yaml"
        path.write_text(TINY_STUDY.format(epochs=epochs))
        return path

    return write


def _client():
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")


def _children(client, parent_id: str):
    exp = client.get_run(parent_id).info.experiment_id
    return client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent_id}'")


def _parent_id(stdout: str) -> str:
    line = [x for x in stdout.splitlines() if x.startswith("parent_run_id=")][-1]
    return line.split("=", 1)[1].strip()


def test_study_tracks_parent_trials_finals_and_report(cli, tiny_study):
    path = tiny_study()
    proc = cli("study", str(path), check=True)
    parent_id = _parent_id(proc.stdout)
    client = _client()
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["augplat.kind"] == "study"

    children = _children(client, parent_id)
    trials = [r for r in children if "augplat.trial" in r.data.tags]
    finals = [r for r in children if r.data.tags.get("augplat.final") == "true"]
    assert sorted(int(r.data.tags["augplat.trial"]) for r in trials) == [0, 1, 2]
    for run in trials:
        state = run.data.tags["augplat.trial_state"]
        assert (state, run.info.status) in {("COMPLETE", "FINISHED"), ("PRUNED", "KILLED")}
        assert "test_top1" not in run.data.metrics  # trials never look at the test split
    assert sorted(r.data.params["seed"] for r in finals) == ["0", "1"]
    for run in finals:
        assert 0 <= run.data.metrics["test_top1"] <= 1

    _, _, names = check_study_report(client, parent, finals, ".")
    assert "param_importances.png" in names

    again = cli("study", str(path))
    assert again.returncode == 2 and "already exists" in again.stderr

    resumed = cli("study", str(path), "--resume", "--trials", "4", check=True)
    assert _parent_id(resumed.stdout) == parent_id
    trials = [r for r in _children(client, parent_id) if "augplat.trial" in r.data.tags]
    assert sorted(int(r.data.tags["augplat.trial"]) for r in trials) == [0, 1, 2, 3]


def test_sigkill_mid_trial_then_resume_loses_and_doubles_nothing(cli, tiny_study, isolated_home):
    import optuna

    path = tiny_study(epochs=4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "augplat", "study", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if list((isolated_home / "runs").glob("*/last.pt")):
            break  # a trial is mid-training: it has checkpointed an epoch
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    resumed = cli("study", str(path), "--resume", check=True)
    assert "left running by a dead process" in resumed.stderr
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(isolated_home / "studies" / "tiny.journal"))
    )
    study = optuna.load_study(study_name="tiny", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states.count("FAIL") == 1 and states.count("RUNNING") == 0
    assert sum(s in ("COMPLETE", "PRUNED") for s in states) == 3
    client = _client()
    failed = next(t for t in study.trials if t.state.name == "FAIL")
    assert client.get_run(failed.user_attrs["mlflow_run_id"]).info.status == "FAILED"
    run_ids = [t.user_attrs["mlflow_run_id"] for t in study.trials]
    assert len(set(run_ids)) == len(run_ids) == len(study.trials)


def test_two_workers_share_one_study(cli, tiny_study, isolated_home):
    import optuna

    path = tiny_study()
    proc = cli("study", str(path), "--workers", "2", "--trials", "6", check=True)
    parent_id = _parent_id(proc.stdout)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(isolated_home / "studies" / "tiny.journal"))
    )
    study = optuna.load_study(study_name="tiny", storage=storage)
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) >= 6
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert {t.user_attrs["pid"] for t in study.trials}.__len__() == 2  # both processes worked
    client = _client()
    trial_runs = [r for r in _children(client, parent_id) if "augplat.trial" in r.data.tags]
    assert sorted(r.info.run_id for r in trial_runs) == sorted(
        t.user_attrs["mlflow_run_id"] for t in study.trials
    )
