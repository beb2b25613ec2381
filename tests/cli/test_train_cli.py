"""`augplat train` end to end, in real subprocesses, against a real MLflow server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

# Small enough for CPU seconds, big enough that the model learns something measurable.
TINY = ["--model", "simplecnn", "--batch-size", "32", "--eval-batch-size", "256"]


def _run_id(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("run_id=")]
    assert lines, stdout
    return lines[-1].split("=", 1)[1].strip()


@pytest.fixture
def tiny_digits(cli):
    cli("data", "prepare", "digits", "--size", "16", "--fraction", "0.4", check=True)
    return "digits"


def test_help_lists_every_registered_backbone(cli):
    from augplat.classify.backbones import BACKBONES

    proc = cli("train", "--help", check=True)
    text = " ".join(proc.stdout.split())
    missing = [name for name in BACKBONES.names() if name not in text]
    assert not missing, f"train --help does not mention {missing}"


def test_train_logs_everything_to_a_server(cli, tiny_digits, mlflow_server):
    import mlflow.pytorch
    import numpy as np
    import torch
    from mlflow import MlflowClient

    proc = cli(
        "train",
        "--data",
        tiny_digits,
        *TINY,
        "--epochs",
        "2",
        "--tsne",
        "--tracking-uri",
        mlflow_server,
        "--experiment",
        "e2e",
        check=True,
    )
    run_id = _run_id(proc.stdout)
    client = MlflowClient(mlflow_server)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["model"] == "simplecnn" and params["epochs"] == "2" and params["lr"] == "0.001"
    history = client.get_metric_history(run_id, "val_acc")
    assert [m.step for m in history] == [1, 2]
    metrics = run.data.metrics
    for key in ("test_top1", "test_top2", "test_top5", "test_macro_f1", "test_acc_0", "test_acc_9"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["test_top5"] >= metrics["test_top2"] >= metrics["test_top1"]

    def listing(path=None):
        out = set()
        for item in client.list_artifacts(run_id, path):
            out |= listing(item.path) if item.is_dir else {item.path}
        return out

    files = listing()
    expected = {
        "config.yaml",
        "data/manifest.json",
        "data/distribution.png",
        "evaluation/confusion.png",
        "evaluation/confusion.csv",
        "evaluation/per_class.csv",
        "evaluation/curves.png",
        "evaluation/metrics.json",
        "evaluation/tsne.png",
        "checkpoints/best.pt",
        "checkpoints/last.pt",
    }
    assert expected <= files, expected - files

    manifest_path = client.download_artifacts(run_id, "data/manifest.json", ".")
    manifest = json.loads(Path(manifest_path).read_text())
    inputs = run.inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("digits", manifest["digest"])]

    confusion = Path(client.download_artifacts(run_id, "evaluation/confusion.csv", "."))
    counts = [list(map(int, row.split(",")[1:])) for row in confusion.read_text().splitlines()[1:]]
    assert sum(map(sum, counts)) == sum(manifest["counts"]["test"].values())

    mlflow.set_tracking_uri(mlflow_server)
    model = mlflow.pytorch.load_model(f"runs:/{run_id}/model")
    x = torch.from_numpy(np.random.default_rng(0).random((3, 1, 16, 16), dtype=np.float32))
    assert model(x).shape == (3, 10)


def _killed_midway(cli_args: list[str], home: Path, epochs: int) -> str:
    """Start a training subprocess, SIGKILL it once epoch 1 is checkpointed; return the run id."""
    import torch

    proc = subprocess.Popen(
        [sys.executable, "-m", "augplat", "train", *cli_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            found = list((home / "runs").glob("*/last.pt"))
            if found:
                state = torch.load(found[0], weights_only=True)
                if state["epoch"] >= 1:
                    break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    state = torch.load(found[0], weights_only=True)
    assert 1 <= state["epoch"] < epochs
    return found[0].parent.name


def test_resume_after_sigkill_equals_an_uninterrupted_run(cli, tiny_digits, isolated_home):
    from mlflow import MlflowClient

    epochs = 8
    args = ["--data", tiny_digits, *TINY, "--epochs", str(epochs), "--no-log-model", "--seed", "7"]
    args += ["--checkpoint-interval", "0"]  # every epoch: the kill must find one mid-run
    run_id = _killed_midway(args, isolated_home, epochs)
    client = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    assert client.get_run(run_id).info.status == "RUNNING"

    resumed = cli("train", "--resume", run_id, check=True)
    assert _run_id(resumed.stdout) == run_id
    reference = cli("train", *args, check=True)
    ref_id = _run_id(reference.stdout)

    def summary(rid):
        run = client.get_run(rid)
        hist = [m.value for m in client.get_metric_history(rid, "val_acc")]
        steps = sorted({m.step for m in client.get_metric_history(rid, "val_acc")})
        return (
            run.info.status,
            steps,
            hist[-1],
            run.data.metrics["test_top1"],
            run.data.metrics["test_loss"],
        )

    got, want = summary(run_id), summary(ref_id)
    assert got[0] == "FINISHED" and got[1] == list(range(1, epochs + 1))
    assert got == want


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--data", "nosuch"], "nosuch"),
        (["--model", "resnet9000"], "resnet18"),
        (["--lr", "-1"], "--lr"),
        (["--aug-policy", "wild"], "wild"),
        (["--device", "cuda"], "cuda"),
        (["--weights", "imagenet"], "--weights none"),
        (["--weights", "missing.pt"], "missing.pt"),
        (["--resume", "0123456789abcdef"], "0123456789abcdef"),
        (["--config", "absent.yaml"], "absent.yaml"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_run(cli, tiny_digits, tmp_path, args, fragment):
    if "cuda" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present")
    env = {"TORCH_HOME": str(tmp_path / "empty-torch-home")}
    proc = cli("train", "--data", tiny_digits, *TINY, "--epochs", "1", *args, env=env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert fragment in lines[0]
    assert not list((tmp_path / "augplat-home").glob("runs/*")), "a run directory was left behind"
    if Path("mlflow.db").exists():
        from mlflow import MlflowClient

        runs = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}").search_runs(
            [
                e.experiment_id
                for e in MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}").search_experiments()
            ]
        )
        assert runs == [], "a run was created for bad input"


def test_unreachable_server_fails_within_seconds(cli, tiny_digits):
    started = time.monotonic()
    uri = f"http://127.0.0.1:{free_port()}"
    proc = cli("train", "--data", tiny_digits, "--epochs", "1", "--tracking-uri", uri)
    assert proc.returncode == 2
    assert "cannot reach the MLflow tracking server" in proc.stderr
    assert time.monotonic() - started < 30  # includes interpreter + torch start-up
