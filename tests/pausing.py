"""Kill an ``augplat`` subprocess at a named pause point (:mod:`augplat.runtime.pausepoint`).

No sleeps that race: the process itself says (a marker file) that it reached the point and
waits there; only then is it killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def kill_at(point: str, *args: str, marker: Path, timeout: float = 300) -> str:
    """Run ``augplat ARGS`` until it pauses at ``point``, SIGKILL it; returns its stderr.

    Raises:
        AssertionError: The process ended (or timed out) before reaching the point.
    """
    env = {
        **os.environ,
        "AUGPLAT_TEST_PAUSE_AT": point,
        "AUGPLAT_TEST_PAUSE_FILE": str(marker),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "augplat", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
    assert marker.exists(), f"never paused at {point} (exit {proc.returncode}):\n{stderr}"
    assert proc.returncode == -signal.SIGKILL
    marker.unlink()
    return stderr


def only_run(tracking_uri: str):
    """The single run in the store (its id is what a killed process leaves behind)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments)
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def steps_of(client, run_id: str, key: str) -> list[int]:
    """Every step at which metric ``key`` was logged, duplicates included."""
    return sorted(m.step for m in client.get_metric_history(run_id, key))
