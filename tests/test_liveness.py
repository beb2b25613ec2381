"""Runs left RUNNING by a dead process are recognised (host + pid tags) and ended FAILED."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient


@pytest.fixture
def store() -> str:
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def _run_left_running_by_a_process_that_exits(store: str) -> str:
    code = (
        "from augplat import tracking; "
        f"print(tracking.start_run('dead', tracking_uri={store!r}).run_id)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.strip().splitlines()[-1]


def test_end_dead_runs_fails_only_runs_whose_process_is_gone(store):
    from augplat import tracking

    dead_id = _run_left_running_by_a_process_that_exits(store)
    mine = tracking.start_run("dead", tracking_uri=store)  # this process: alive
    elsewhere = tracking.start_run("dead", tracking_uri=store, tags={"augplat.host": "far-away"})
    client = MlflowClient(store)
    runs = [client.get_run(r) for r in (dead_id, mine.run_id, elsewhere.run_id)]

    ended = tracking.end_dead_runs(client, runs)

    assert [r.info.status for r in ended] == ["FAILED", "RUNNING", "RUNNING"]
    assert client.get_run(dead_id).data.tags["augplat.ended_by"] == "dead-process"
    assert tracking.run_owner_alive(client.get_run(elsewhere.run_id)) is None


def test_a_reused_pid_is_not_mistaken_for_the_owner(store):
    from augplat import tracking
    from augplat.runtime.liveness import PID_START_TAG, PID_TAG

    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        try:
            # A live pid whose start time does not match the run's: the owner is gone.
            tags = {PID_TAG: str(other.pid), PID_START_TAG: "1"}
            run = tracking.start_run("dead", tracking_uri=store, tags=tags)
            client = MlflowClient(store)
            assert tracking.fail_if_dead(client, client.get_run(run.run_id)).info.status == "FAILED"
        finally:
            other.kill()


def test_resume_refuses_a_run_that_is_still_running(store):
    from augplat import tracking
    from augplat.errors import ConfigError

    run = tracking.start_run("dead", tracking_uri=store)  # owned by this live process
    with pytest.raises(ConfigError, match="still running"):
        tracking.reopen_run(run.run_id, store)
