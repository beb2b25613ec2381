"""Shared tracking for many workers: a study whose two workers share a real PostgreSQL server.

A throwaway PostgreSQL cluster (initdb + pg_ctl, on a free loopback port, in a temporary
directory) holds both the Optuna storage and the MLflow metadata, behind `augplat server` with
basic authentication and artifact proxying. `.ci/run` installs the server binaries; the test
skips only when none are found.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import _wait_healthy, free_port

DB_PASSWORD = "pg-Secret-4711"
ADMIN_PASSWORD = "Mlflow-Admin-0815"
TINY_STUDY = """
train: {model: simplecnn, epochs: 2, batch_size: 128, eval_batch_size: 512, log_model: false,
        log_checkpoints: false}
space:
  lr: {type: float, low: 1.0e-3, high: 3.0e-2, log: true}
trials: 4
sampler: {name: random, seed: 0}
pruner: {name: none}
final: {seeds: [0], arms: {tuned: {}}}
"""


def postgres_bin() -> Path | None:
    """Directory of the PostgreSQL server binaries (PATH, else Debian's newest version)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: p.split("/")[4])
    return Path(found[-1]).parent if found else None


def _as_owner(user: str | None) -> list[str]:
    # initdb refuses to run as root: root runs the cluster as another user
    return ["runuser", "-u", user, "--"] if user else []


class Cluster:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self, bindir: Path):
        self.bindir, self.port = bindir, free_port()
        self.root = Path(tempfile.mkdtemp(prefix="augplat-pg-"))
        self.user = None
        if os.geteuid() == 0:
            names = {p.pw_name for p in pwd.getpwall()}
            self.user = "postgres" if "postgres" in names else "nobody"
            shutil.chown(self.root, self.user)
        (self.root / "pw").write_text(DB_PASSWORD)
        if self.user:
            shutil.chown(self.root / "pw", self.user)

    def _run(self, *args: str) -> None:
        cmd = [*_as_owner(self.user), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{' '.join(args)}: {proc.stdout}{proc.stderr}"

    def start(self) -> None:
        data = self.root / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "augplat", "-E", "UTF8",
                  f"--pwfile={self.root / 'pw'}", "--auth-host=scram-sha-256",
                  "--auth-local=reject")  # fmt: skip
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-o", options,
                  "-l", str(self.root / "server.log"), "-w", "start")  # fmt: skip

    def url(self, database: str) -> str:
        return f"postgresql://augplat:{DB_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            cmd = [*_as_owner(self.user), str(self.bindir / "pg_ctl"), "-D", str(data)]
            subprocess.run([*cmd, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def postgres():
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl); .ci/run installs them")
    cluster = Cluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def auth_server(postgres, tmp_path):
    """`augplat server` on PostgreSQL with basic auth; yields (url, log path)."""
    postgres.create_database("mlflow")
    port, log_path = free_port(), tmp_path / "server.log"
    env = {**os.environ, "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD}
    command = [
        sys.executable, "-m", "augplat", "server", "--port", str(port), "--auth",
        "--artifacts-destination", str(tmp_path / "artifacts"),
    ]  # fmt: skip
    env["MLFLOW_BACKEND_STORE_URI"] = postgres.url("mlflow")  # secrets stay off command lines
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, timeout=120)
        yield url, log_path, proc.pid
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGKILL)  # a throwaway server: no graceful shutdown needed
        proc.wait()


def _status(url: str, auth: tuple[str, str] | None = None) -> int:
    import base64

    request = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search?max_results=1")
    if auth:
        token = base64.b64encode(":".join(auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_two_workers_share_postgres_for_optuna_and_mlflow(cli, auth_server, postgres, tmp_path):
    import optuna

    url, server_log, server_pid = auth_server
    assert _status(url) == 401  # basic authentication is on
    assert _status(url, ("admin", ADMIN_PASSWORD)) == 200
    postgres.create_database("optuna")
    from augplat.data import prepare_digits

    prepare_digits(size=16, fraction=0.3)
    spec = tmp_path / "pgstudy.yaml"
    spec.write_text(TINY_STUDY)
    env = {
        "AUGPLAT_STUDY_STORAGE": postgres.url("optuna"),  # the password stays off argv
        "MLFLOW_TRACKING_USERNAME": "admin",
        "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD,
    }
    proc = cli("study", str(spec), "--workers", "2", "--tracking-uri", url, env=env, check=True)
    parent_id = proc.stdout.split("parent_run_id=")[-1].split()[0]

    study = optuna.load_study(study_name="pgstudy", storage=postgres.url("optuna"))
    trials = study.trials
    assert sum(t.state.name == "COMPLETE" for t in trials) >= 4
    assert len({t.number for t in trials}) == len(trials)
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # both workers took trials
    run_ids = [t.user_attrs["mlflow_run_id"] for t in trials]
    assert len(set(run_ids)) == len(run_ids)

    os.environ.update(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD)
    try:
        from mlflow import MlflowClient

        client = MlflowClient(url)
        parent = client.get_run(parent_id)
        children = client.search_runs(
            [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'"
        )
        trial_runs = [r for r in children if "augplat.trial" in r.data.tags]
        # every trial is in MLflow exactly once, and nothing else is
        assert sorted(r.info.run_id for r in trial_runs) == sorted(run_ids)
        assert sorted(int(r.data.tags["augplat.trial"]) for r in trial_runs) == sorted(
            t.number for t in trials
        )
        assert parent.info.status == "FINISHED"
        # artifacts went through the server's proxy into its destination
        assert client.list_artifacts(parent_id, "study")
        logged = [parent, *children]
    finally:
        for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(var, None)

    # the database password is never printed, logged as a parameter or put on a command line
    outputs = [server_log.read_text(), proc.stdout, proc.stderr]
    outputs.append(Path(f"/proc/{server_pid}/cmdline").read_bytes().decode(errors="replace"))
    outputs += [str(r.data.params) + str(r.data.tags) for r in logged]
    assert not [text for text in outputs if DB_PASSWORD in text]
    assert "augplat:***@" in server_log.read_text()
    assert (tmp_path / "artifacts").is_dir()
