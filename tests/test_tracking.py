"""augplat.tracking against a real MLflow server process, and its failure modes."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from augplat import tracking
from augplat.errors import TrackingError
from tests.conftest import free_port


def test_uri_precedence(monkeypatch, tmp_path):
    assert tracking.resolve_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    assert tracking.resolve_tracking_uri() == "http://127.0.0.1:1"
    assert tracking.resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_redact_uri_hides_password():
    uri = "postgresql://alice:s3cret@db:5432/mlflow"
    assert "s3cret" not in tracking.redact_uri(uri)
    assert tracking.redact_uri("http://host:5000") == "http://host:5000"


def test_unreachable_server_fails_fast_with_one_line():
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingError) as info:
        tracking.start_run("x", tracking_uri=uri)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "cannot reach the MLflow tracking server" in message and uri in message
    assert "\n" not in message


def test_flatten_nested_params():
    flat = tracking.flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})
    assert flat == {"a.b": "1", "a.c": "[1, 2]", "d": "None"}


def test_run_logger_round_trip_on_server(mlflow_server, tmp_path):
    from mlflow import MlflowClient

    logger = tracking.start_run("tracking-test", "rt", tags={"k": "v"}, tracking_uri=mlflow_server)
    logger.log_params({"opt": {"lr": 0.1}, "model": "resnet18"})
    logger.log_params({"model": "resnet18", "extra": 1})  # existing params are skipped, not errors
    logger.log_metrics({"val_acc": 0.5}, step=1)
    logger.log_metrics({"val_acc": 0.75}, step=2)
    (tmp_path / "note.txt").write_text("hello")
    logger.log_artifact(tmp_path / "note.txt", "notes")
    logger.log_text("a: 1\n", "config.yaml")
    logger.log_dataset("digits", "0123abcd", str(tmp_path), context="training")
    logger.end()

    client = MlflowClient(mlflow_server)
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"opt.lr": "0.1", "model": "resnet18", "extra": "1"}
    assert run.data.tags["k"] == "v"
    history = client.get_metric_history(logger.run_id, "val_acc")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.75)]
    names = {a.path for a in client.list_artifacts(logger.run_id)}
    assert {"notes", "config.yaml"} <= names
    inputs = run.inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("digits", "0123abcd")]


def test_child_run_links_to_parent(mlflow_server):
    parent = tracking.start_run("tracking-test", "parent", tracking_uri=mlflow_server)
    child = tracking.start_run(
        "tracking-test", "child", parent_run_id=parent.run_id, tracking_uri=mlflow_server
    )
    tags = child.client.get_run(child.run_id).data.tags
    assert tags["mlflow.parentRunId"] == parent.run_id


def test_logged_pytorch_model_reloads_with_same_outputs(mlflow_server):
    import mlflow.pytorch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    example = np.random.default_rng(0).random((2, 1, 4, 4), dtype=np.float32)
    logger = tracking.start_run("tracking-test", "model", tracking_uri=mlflow_server)
    logger.log_pytorch_model(model, example)
    logger.end()
    loaded = mlflow.pytorch.load_model(f"runs:/{logger.run_id}/model")
    x = torch.from_numpy(example)
    assert torch.equal(loaded(x), model(x))


def test_reopen_unknown_run_is_a_user_error(mlflow_server):
    with pytest.raises(TrackingError, match="no MLflow run with id 'deadbeef'"):
        tracking.reopen_run("deadbeef", mlflow_server)


def test_closing_ends_the_run_with_the_blocks_outcome(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    class Pruned(Exception):
        run_status = "KILLED"

    def status_after(error: BaseException | None) -> str:
        logger = tracking.start_run("closing", tracking_uri=uri)
        try:
            with logger.closing():
                if error is not None:
                    raise error
        except BaseException as exc:
            assert exc is error  # re-raised unchanged
        return logger.client.get_run(logger.run_id).info.status

    assert status_after(None) == "FINISHED"
    assert status_after(KeyboardInterrupt()) == "KILLED"
    assert status_after(Pruned()) == "KILLED"
    assert status_after(ValueError("boom")) == "FAILED"


def test_fetch_run_checks_id_kind_and_status(tmp_path):
    from augplat.errors import ConfigError

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = tracking.start_run("fetch", tags={"augplat.kind": "gan"}, tracking_uri=uri)
    c = logger.client
    assert tracking.fetch_run(c, logger.run_id).info.run_id == logger.run_id
    with pytest.raises(TrackingError, match="no MLflow run with id 'feed'"):
        tracking.fetch_run(c, "feed")
    with pytest.raises(ConfigError, match="is a gan run, not a train run"):
        tracking.fetch_run(c, logger.run_id, kinds=("train",), expected="a train run")
    with pytest.raises(ConfigError, match="is RUNNING: only finished runs can be compared"):
        tracking.fetch_run(c, logger.run_id, kinds=("gan",), finished_to="be compared")
