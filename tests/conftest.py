"""Shared fixtures: every test gets its own data home and working directory.

Isolation matters because augplat writes to ``AUGPLAT_HOME`` and MLflow's default store lives in
the working directory; neither may leak between tests or into the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch) -> Path:
    """A fresh ``AUGPLAT_HOME`` and cwd per test; MLflow env vars cleared."""
    home = tmp_path / "augplat-home"
    monkeypatch.setenv("AUGPLAT_HOME", str(home))
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def run_cli(*args: str, check: bool = False, timeout: float = 600, env=None):
    """Run ``python -m augplat ARGS`` in a real subprocess; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "augplat", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"augplat {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def cli():
    """The :func:`run_cli` helper as a fixture."""
    return run_cli
