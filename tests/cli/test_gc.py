"""Local run state: trial checkpoints go when the trial ends; `augplat gc` reclaims the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pausing import kill_at

TINY = ["--model", "simplecnn", "--batch-size", "64", "--epochs", "1", "--no-log-model"]


@pytest.fixture
def digits(cli) -> str:
    cli("data", "prepare", "digits", "--size", "16", "--fraction", "0.2", check=True)
    return "digits"


@pytest.mark.parametrize("keep", [False, True])
def test_a_trial_s_checkpoints_are_removed_when_it_ends_unless_kept(digits, keep):
    from augplat.classify.config import TrainConfig
    from augplat.classify.finetune import train_classifier
    from augplat.runtime import checkpoints as checkpoint

    cfg = TrainConfig(data=digits, model="simplecnn", epochs=1, batch_size=64, log_model=False)
    cfg = cfg.model_copy(update={"log_checkpoints": False, "test_eval": False})
    result = train_classifier(cfg, keep_checkpoints=keep)
    assert (checkpoint.run_dir(result.run_id) / checkpoint.BEST).is_file() == keep


@pytest.mark.kill
def test_gc_removes_only_what_no_run_needs_and_ends_dead_runs(cli, digits, tmp_path, isolated_home):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    finished = cli("train", "--data", digits, *TINY, check=True)
    done_id = finished.stdout.split("run_id=")[1].split()[0]
    kill_at("train.epoch_logged:1", "train", "--data", digits, *TINY, marker=tmp_path / "p")
    runs = isolated_home / "runs"
    dead_id = next(p.name for p in runs.iterdir() if p.name != done_id)
    assert client.get_run(dead_id).info.status == "RUNNING"
    (runs / "0123456789abcdef0123456789abcdef").mkdir()  # a run of some other store

    dry = cli("gc", "--dry-run", check=True)
    assert f"would remove {runs / done_id} (finished, checkpoints uploaded" in dry.stdout
    assert dead_id not in dry.stdout and "kept 1 directories" in dry.stdout
    assert (runs / done_id).is_dir()
    dead = client.get_run(dead_id)
    assert dead.info.status == "FAILED" and dead.data.tags["augplat.ended_by"] == "dead-process"

    cli("gc", check=True)
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        [dead_id, "0123456789abcdef0123456789abcdef"]
    )  # the dead run stays resumable
    resumed = cli("train", "--resume", dead_id, check=True)
    assert f"run_id={dead_id}" in resumed.stdout
