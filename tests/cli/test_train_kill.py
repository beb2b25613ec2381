"""`augplat train` killed (SIGKILL) at named points, then `--resume`: nothing lost, nothing
counted twice, nothing left RUNNING."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pausing import kill_at, only_run, steps_of

pytestmark = pytest.mark.kill

TINY = ["--model", "simplecnn", "--batch-size", "64", "--eval-batch-size", "256", "--seed", "1"]


@pytest.fixture
def store(cli) -> str:
    cli("data", "prepare", "digits", "--size", "16", "--fraction", "0.3", check=True)
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def _client(store: str):
    from mlflow import MlflowClient

    return MlflowClient(store)


def test_killed_before_the_first_checkpoint_starts_over_in_the_same_run(
    cli, store, tmp_path, isolated_home
):
    args = ["train", "--data", "digits", *TINY, "--epochs", "2", "--no-log-model"]
    kill_at("train.fit", *args, marker=tmp_path / "paused")
    run = only_run(store)
    assert run.info.status == "RUNNING"
    assert not (isolated_home / "runs" / run.info.run_id / "last.pt").exists()

    resumed = cli("train", "--resume", run.info.run_id, check=True)
    assert f"run_id={run.info.run_id}" in resumed.stdout
    client = _client(store)
    done = client.get_run(run.info.run_id)
    assert done.info.status == "FINISHED"
    assert steps_of(client, run.info.run_id, "val_acc") == [1, 2]
    assert steps_of(client, run.info.run_id, "test_top1") == [2]
    assert only_run(store).info.run_id == run.info.run_id  # no second run


def test_first_epoch_is_checkpointed_and_unsaved_epochs_are_not_logged_twice(
    cli, store, tmp_path, isolated_home
):
    args = ["train", "--data", "digits", *TINY, "--epochs", "3", "--no-log-model"]
    # A 1-hour interval: only the first epoch is written, epoch 2 is logged but not saved.
    args += ["--checkpoint-interval", "3600"]
    kill_at("train.epoch_logged:2", *args, marker=tmp_path / "paused")
    run_id = only_run(store).info.run_id
    assert (isolated_home / "runs" / run_id / "last.pt").is_file()

    cli("train", "--resume", run_id, check=True)
    client = _client(store)
    assert client.get_run(run_id).info.status == "FINISHED"
    for key in ("val_acc", "train_loss", "lr"):
        assert steps_of(client, run_id, key) == [1, 2, 3], key


@pytest.mark.parametrize("point", ["train.test_logged", "train.model_logged"])
def test_killed_while_finishing_logs_each_test_metric_and_the_model_once(
    cli, store, tmp_path, point
):
    args = ["train", "--data", "digits", *TINY, "--epochs", "1", "--log-model"]
    kill_at(point, *args, marker=tmp_path / "paused")
    run_id = only_run(store).info.run_id

    cli("train", "--resume", run_id, check=True)
    again = cli("train", "--resume", run_id, check=True)
    assert "already finished" in again.stderr + again.stdout
    client = _client(store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    for key in ("test_top1", "test_loss", "best_epoch"):
        assert steps_of(client, run_id, key) == [1], key
    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    assert [m.status for m in models] == ["READY"]


def test_a_dead_run_that_cannot_resume_ends_failed_not_running(cli, store, tmp_path):
    from urllib.parse import urlsplit

    args = ["train", "--data", "digits", *TINY, "--epochs", "1", "--no-log-model"]
    kill_at("train.fit", *args, marker=tmp_path / "paused")
    run = only_run(store)
    assert run.data.tags["augplat.pid"].isdigit() and run.info.status == "RUNNING"
    # As if killed while starting: neither a checkpoint nor the logged config to start over.
    (Path(urlsplit(run.info.artifact_uri).path) / "config.yaml").unlink()

    failed = cli("train", "--resume", run.info.run_id)
    assert failed.returncode == 2, failed.stderr
    assert failed.stderr.strip().splitlines() == [failed.stderr.strip()], failed.stderr
    assert "config.yaml" in failed.stderr and "Downloading" not in failed.stderr
    assert _client(store).get_run(run.info.run_id).info.status == "FAILED"
    assert not list(Path(tmp_path / "augplat-home" / "runs").glob("*/download"))
