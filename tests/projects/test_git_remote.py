"""`mlflow run <git-url>#projects/finetune --version <commit>` against a real git server.

The test snapshots the working tree as it is on disk (tracked and untracked, not ignored files:
what `git ls-files -co --exclude-standard` lists) into a throwaway repository, commits it, serves
it with `git daemon` on a free loopback port, and runs the finetune project from that URL with
`--env-manager local` on tiny data. So it tests the files on disk, committed or not.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
GIT_DAEMON = Path("/usr/lib/git-core/git-daemon")


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def snapshot_repository(dst: Path) -> str:
    """Commit the working tree's files into a new repository at ``dst``; return the commit."""
    listed = _git("ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT)
    dst.mkdir(parents=True)
    for rel in filter(None, listed.split("\0")):
        source = ROOT / rel
        if source.is_file():  # tracked files deleted on disk are left out, as on disk
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dst / rel, follow_symlinks=False)
    _git("init", "-q", "-b", "main", cwd=dst)
    _git("add", "-A", cwd=dst)
    _git("commit", "-q", "-m", "snapshot of the working tree", cwd=dst)
    _git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=dst)  # fetch by commit
    return _git("rev-parse", "HEAD", cwd=dst)


def _wait_for_port(port: int, proc, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "git daemon exited early"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"git daemon did not listen on {port}")


@pytest.fixture
def git_remote(tmp_path):
    """``(url, commit)`` of a snapshot of this working tree served by git daemon."""
    if not GIT_DAEMON.is_file():
        pytest.skip(f"{GIT_DAEMON} not found (Debian package git)")
    base = tmp_path / "served"
    commit = snapshot_repository(base / "augplat")
    port = free_port()
    proc = subprocess.Popen(
        [
            str(GIT_DAEMON),
            "--reuseaddr",
            "--export-all",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        yield f"git://127.0.0.1:{port}/augplat", commit
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_mlflow_run_finetune_from_a_git_remote(git_remote, tmp_path):
    from mlflow import MlflowClient

    url, commit = git_remote
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = tmp_path / "finetune.yaml"
    config.write_text("log_model: false\nlog_checkpoints: false\neval_batch_size: 512\n")
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": store,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    command = [
        sys.executable, "-m", "mlflow", "run", f"{url}#projects/finetune",
        "--version", commit, "--env-manager", "local", "--experiment-name", "remote",
        "-P", "data=digits", "-P", "model=simplecnn", "-P", "epochs=1",
        "-P", "batch_size=128", "-P", f"config={config}",
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("remote").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.source.git.commit"] == commit
    assert run.data.tags["mlflow.source.name"] == f"{url}#projects/finetune"
    assert run.data.tags["mlflow.project.entryPoint"] == "main"
    assert run.data.params["model"] == "simplecnn" and run.data.params["epochs"] == "1"
    for key in ("test_top1", "test_macro_f1", "val_acc"):
        assert 0.0 <= run.data.metrics[key] <= 1.0, key
