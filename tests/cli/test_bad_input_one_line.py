"""Bad input through the real CLI: one clear line, exit code 2, nothing left behind."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import free_port


def _one_error_line(proc, *fragments: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["gan", "train", "cgan", "--channels", "2"], "--channels"),
        (["study", "digits", "--trials", "-1"], "--trials"),
        (["study", "digits", "--resume", "--fresh"], "--resume"),
        (["train", "--epochs", "many"], "--epochs"),
    ],
)
def test_usage_errors_are_one_line_naming_the_option(cli, args, option):
    _one_error_line(cli(*args), option)


def _study_file(tmp_path: Path, space: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"train: {{data: digits, model: simplecnn, epochs: 1, batch_size: 64}}\nspace:\n  {space}\n"
    )
    return path


@pytest.mark.parametrize(
    ("space", "key"),
    [
        ("lr: {type: float, low: -0.5, high: -0.1}", "lr"),
        ("batch_size: {type: int, low: 0, high: 64}", "batch_size"),
        ("batch_size: {type: categorical, choices: [32, 0]}", "batch_size"),
    ],
)
def test_a_bad_search_space_fails_before_anything_starts(cli, tmp_path, isolated_home, space, key):
    path = _study_file(tmp_path, space)
    _one_error_line(cli("study", str(path), "--trials", "1"), "bad.yaml", key)
    assert not (isolated_home / "studies").exists()
    assert not Path("mlflow.db").exists()


@pytest.mark.parametrize("uri", ["http://127.0.0.1:notaport", "foo://bar"])
def test_a_malformed_tracking_uri_is_one_line_fast(cli, uri):
    started = time.monotonic()
    _one_error_line(cli("train", "--data", "digits", "--epochs", "1", "--tracking-uri", uri))
    assert time.monotonic() - started < 30  # interpreter and torch start-up included


@pytest.fixture
def digits(cli, tmp_path) -> str:
    """A tiny study file of its own (no generator to train first), digits prepared."""
    cli("data", "prepare", "digits", "--size", "16", "--fraction", "0.2", check=True)
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "train: {data: digits, model: simplecnn, epochs: 1, batch_size: 64}\n"
        "space:\n  lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n"
    )
    return str(path)


def test_a_study_against_an_unreachable_server_leaves_no_journal(cli, isolated_home, digits):
    uri = f"http://127.0.0.1:{free_port()}"
    args = ["study", digits, "--trials", "1", "--tracking-uri", uri]
    _one_error_line(cli(*args), "cannot reach")
    assert not list(isolated_home.glob("studies/*.journal"))
    again = cli(*args)
    assert "already exists" not in again.stderr


def test_postgres_storage_without_its_driver_names_the_extra(cli, tmp_path, digits):
    """And a server that cannot be reached: one line, the password masked."""
    stubs = tmp_path / "no-drivers"
    stubs.mkdir()
    for module in ("psycopg", "psycopg2"):
        (stubs / f"{module}.py").write_text(
            f"raise ModuleNotFoundError('No module named {module}', name={module!r})\n"
        )
    url = "postgresql://augplat:secretpw@127.0.0.1:1/optuna"
    proc = cli("study", digits, "--trials", "1", "--storage", url, env={"PYTHONPATH": str(stubs)})
    line = _one_error_line(proc, "augplat[postgres]")
    assert "secretpw" not in proc.stderr + proc.stdout and "***" in line
    assert "ExperimentalWarning" not in proc.stderr
    down = cli("study", digits, "--trials", "1", "--storage", url)  # driver here, server not
    line = _one_error_line(down, "cannot open the study storage")
    assert "secretpw" not in down.stderr + down.stdout and "***" in line


def test_existing_study_message_hides_the_storage_password(monkeypatch, tmp_path):
    import optuna

    from augplat.errors import ConfigError
    from augplat.study import runner
    from augplat.study.spec import load_study_spec

    spec, _ = load_study_spec(str(_study_file(tmp_path, "lr: {type: float, low: 0.1, high: 1}")))
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name=spec.name)
    monkeypatch.setattr(runner, "open_storage", lambda *args, **kwargs: storage)
    url = "postgresql://augplat:secretpw@db/optuna"
    with pytest.raises(ConfigError) as caught:
        runner._open_study(spec, url, False, False, f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    assert "secretpw" not in str(caught.value) and "already exists" in str(caught.value)


def test_server_auth_without_password_leaves_nothing_behind(cli, isolated_home):
    proc = cli(
        "server", "--auth", "--port", str(free_port()), env={"MLFLOW_AUTH_ADMIN_PASSWORD": ""}
    )
    _one_error_line(proc, "MLFLOW_AUTH_ADMIN_PASSWORD")
    assert not (isolated_home / "server" / "flask_secret_key").exists()


def test_a_one_class_dataset_is_refused_for_training(cli, isolated_home):
    import numpy as np

    from augplat.data import ImageDataset, dataset_dir

    images = np.zeros((30, 1, 8, 8), np.uint8)
    split = np.array([0] * 20 + [1] * 5 + [2] * 5)
    ImageDataset(images, np.zeros(30, np.int64), split, ["cat", "dog"], name="cats").save(
        dataset_dir("cats")
    )
    proc = cli("train", "--data", "cats", "--model", "simplecnn", "--epochs", "1")
    _one_error_line(proc, "cats", "two classes")
    assert not Path("mlflow.db").exists() or "cats" not in Path("mlflow.db").read_bytes().decode(
        "latin-1"
    )


class _Health(http.server.BaseHTTPRequestHandler):
    """A /health endpoint that wants basic auth for user:pw (what MLflow sends)."""

    def do_GET(self):
        ok = self.headers.get("Authorization") == "Basic dXNlcjpwdw=="  # user:pw
        self.send_response(200 if ok else 401)
        self.end_headers()
        self.wfile.write(b"OK")
        type(self).seen.append((self.path, ok))

    def log_message(self, *args):
        pass


def test_a_tracking_uri_with_user_and_password_passes_the_reachability_check(cli):
    _Health.seen = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://user:pw@127.0.0.1:{server.server_port}"
        proc = cli("train", "--data", "nosuch", "--epochs", "1", "--tracking-uri", uri)
    finally:
        server.shutdown()
    _one_error_line(proc, "nosuch")  # past the check, on to the data
    assert _Health.seen == [("/health", True)]


def test_a_100_megapixel_image_is_at_most_one_line(cli, tmp_path):
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / "big" / label).mkdir(parents=True)
        for i in range(6):
            Image.new("L", (12, 12), i * 20).save(tmp_path / "big" / label / f"{i}.png")
    Image.new("L", (10_000, 10_001)).save(tmp_path / "big" / "a" / "huge.png")
    proc = cli("data", "prepare", "folder", str(tmp_path / "big"), "--size", "8")
    bomb = [line for line in proc.stderr.splitlines() if "decompression" in line.lower()]
    assert len(bomb) <= 1 and "warnings.warn" not in proc.stderr, proc.stderr


def test_gan_classifier_without_checkpoint_is_refused_not_unpickled(cli):
    from mlflow import MlflowClient

    from tests.generators import prepare_tiny_data

    prepare_tiny_data()
    client = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    experiment = client.create_experiment("judges")
    run = client.create_run(experiment, tags={"augplat.kind": "train"})
    client.log_param(run.info.run_id, "num_classes", "10")
    client.set_terminated(run.info.run_id)
    proc = cli(
        "gan", "train", "cgan", "--data", "digits", "--epochs", "1", "--classifier",
        run.info.run_id,
    )  # fmt: skip
    _one_error_line(proc, run.info.run_id, "best.pt")


def test_an_existing_study_in_a_database_is_one_line_without_optuna_warnings(cli, digits):
    import optuna

    url = f"sqlite:///{Path.cwd() / 'optuna.db'}"
    optuna.create_study(storage=url, study_name="tiny")
    proc = cli("study", digits, "--trials", "1", "--storage", url)
    _one_error_line(proc, "already exists")
    assert "Warning" not in proc.stderr
