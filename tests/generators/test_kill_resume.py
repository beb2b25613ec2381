"""`augplat gan train` killed (SIGKILL) at named points, then `--resume`: every run resumes,
no metric step is logged twice, a finished run is left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.generators import prepare_tiny_data
from tests.generators.test_cli import TINY_FLAGS
from tests.pausing import kill_at, only_run, steps_of

pytestmark = pytest.mark.kill

FLAGS = ["gan", "train", "cgan", *TINY_FLAGS, "--no-eval", "--seed", "2"]


def _client():
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")


def _assert_each_step_once(client, run_id: str) -> None:
    for key in ("loss_d", "loss_g", "wall_time_s"):
        steps = steps_of(client, run_id, key)
        assert steps and len(steps) == len(set(steps)), (key, steps)


def test_killed_before_the_first_checkpoint_starts_over_in_the_same_run(
    cli, tmp_path, isolated_home
):
    prepare_tiny_data()
    kill_at("gan.fit", *FLAGS, marker=tmp_path / "paused")
    run = only_run(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    assert not (isolated_home / "runs" / run.info.run_id / "last.pt").exists()

    resumed = cli("gan", "train", "--resume", run.info.run_id, check=True)
    assert "finished" in resumed.stdout
    client = _client()
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
    _assert_each_step_once(client, run.info.run_id)


def test_steps_logged_after_the_last_checkpoint_are_not_logged_twice(cli, tmp_path):
    prepare_tiny_data()
    # --checkpoint-every 3, --log-every 2: step 4 is logged, the checkpoint holds step 3.
    kill_at("gan.step_logged:4", *FLAGS, marker=tmp_path / "paused")
    run_id = only_run(f"sqlite:///{Path.cwd() / 'mlflow.db'}").info.run_id

    cli("gan", "train", "--resume", run_id, check=True)
    client = _client()
    assert client.get_run(run_id).info.status == "FINISHED"
    _assert_each_step_once(client, run_id)

    again = cli("gan", "train", "--resume", run_id, check=True)
    assert "already finished" in again.stderr + again.stdout
    _assert_each_step_once(client, run_id)
