"""The Ray Tune backend: search-space conversion, settling trial states, and a real local cluster.

Skipped as a whole without the ``ray`` extra (``pip install -e '.[ray]'``; CI installs it).
"""

from __future__ import annotations

import csv
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray.tune")

from augplat.study import ray_backend as rb
from augplat.study.spec import StudySpec
from tests.conftest import free_port
from tests.study import check_study_report
from tests.study.test_study_cli import TINY_STUDY, _children, _client, _parent_id

SPACE = {
    "lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True},
    "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
    "momentum": {"type": "float", "low": 0.8, "high": 0.95, "when": {"optimizer": "sgd"}},
    "batch_size": {"type": "int", "low": 16, "high": 64, "step": 16},
}


def _spec(**overrides) -> StudySpec:
    values = {
        "name": "r",
        "train": {"data": "digits", "epochs": 3},
        "space": SPACE,
        "sampler": {"name": "random", "seed": 0},
    }
    values.update(overrides)
    return StudySpec.model_validate(values)


def test_search_space_through_optuna_search_keeps_conditions_and_numbers_trials():
    from ray.tune.search.optuna import OptunaSearch

    from augplat.study.optuna_backend import make_sampler

    spec = _spec()
    searcher = OptunaSearch(
        space=rb.SearchSpace(spec.space, first_trial=5),
        metric=rb.OBJECTIVE_KEY,
        mode="max",
        sampler=make_sampler(spec),
    )
    configs = [searcher.suggest(f"t{i}") for i in range(16)]
    assert [c[rb.TRIAL_KEY] for c in configs] == list(range(5, 21))
    assert {c["optimizer"] for c in configs} == {"adam", "sgd"}
    dists = rb.distributions(spec.space)
    for config in configs:
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        params = {k: v for k, v in config.items() if k != rb.TRIAL_KEY}
        assert set(params) <= set(spec.space)
        for name, value in params.items():  # every value lies in the distribution we rebuild
            assert dists[name]._contains(dists[name].to_internal_repr(value))
        assert config["batch_size"] in (16, 32, 48, 64)
    # the distributions are exactly what ParamSpec.suggest asks Optuna for
    ot_trial = searcher._ot_trials["t0"]
    for name, dist in ot_trial.distributions.items():
        assert dist == dists[name]


def test_the_timeout_stops_new_trials_not_running_ones():
    from ray.tune.search import Searcher

    searcher = rb._searcher(_spec(timeout=60))
    assert searcher.suggest("a")[rb.TRIAL_KEY] == 0
    searcher.deadline = 0.0  # the timeout has passed
    assert searcher.suggest("b") == Searcher.FINISHED
    assert rb._scheduler(_spec(pruner={"name": "none"})) is None
    asha = rb._scheduler(_spec(pruner={"name": "median", "min_resource": 2}))
    assert (asha._max_t, asha._time_attr, asha._metric) == (3, "epoch", "val_acc")


def test_a_resumed_search_continues_numbering_and_knows_earlier_trials():
    spec = _spec()
    rows = [
        {"number": n, "state": st, "value": v, "params": p, "mlflow_run_id": f"run{n}"}
        for n, st, v, p in [
            (0, "COMPLETE", 0.9, {"lr": 0.01, "optimizer": "adam", "batch_size": 32}),
            (1, "FAIL", None, {"lr": 0.02, "optimizer": "adam", "batch_size": 16}),
            (2, "PRUNED", 0.1, {"lr": 0.02, "optimizer": "sgd", "momentum": 0.9, "batch_size": 16}),
        ]
    ]
    earlier = rb.to_optuna_study(spec, rows)
    searcher = rb._searcher(spec, previous=earlier.trials)
    assert [searcher.suggest(f"t{i}")[rb.TRIAL_KEY] for i in range(2)] == [3, 4]
    seen = searcher._ot_study.trials
    assert [t.state.name for t in seen[:3]] == ["COMPLETE", "FAIL", "PRUNED"]
    assert seen[0].params == rows[0]["params"]


def test_relative_tracking_paths_become_absolute(tmp_path):
    assert rb.absolute_tracking_uri("sqlite:///x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    assert rb.absolute_tracking_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert rb.absolute_tracking_uri(None) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert rb.absolute_tracking_uri("mlruns") == str(tmp_path / "mlruns")
    assert rb.absolute_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def _fake_trial_run(tracking, parent, number: int, accs: list[float], status: str | None):
    logger = tracking.start_run(
        "study-r",
        f"r-trial-{number}",
        tags={"augplat.trial": str(number), "augplat.backend": "ray"},
        parent_run_id=parent.run_id,
    )
    for epoch, acc in enumerate(accs, start=1):
        logger.log_metrics({"val_acc": acc}, step=epoch)
    if status == "FINISHED":
        logger.set_tags({"augplat.trial_state": "COMPLETE"})
    if status:
        logger.end(status)
    return logger.run_id


def test_settling_states_fixes_runs_and_feeds_the_report(tmp_path):
    from augplat import tracking
    from augplat.study import report

    spec = _spec()
    parent = tracking.start_run("study-r", "study-r")
    complete = _fake_trial_run(tracking, parent, 0, [0.5, 0.8, 0.7], "FINISHED")
    torn_down = _fake_trial_run(tracking, parent, 1, [0.2], None)  # killed mid-epoch by Tune
    failed = _fake_trial_run(tracking, parent, 2, [0.3], "FAILED")
    adam = {"lr": 0.01, "optimizer": "adam", "batch_size": 32}
    sgd = {"lr": 0.02, "optimizer": "sgd", "momentum": 0.9, "batch_size": 16}
    trials = {0: (adam, False), 1: (sgd, False), 2: (adam, True), 3: (adam, True)}
    uri = rb.absolute_tracking_uri(None)
    rows = rb.collect_rows(spec, trials, parent.run_id, uri)

    by_number = {r["number"]: r for r in rows}
    assert [by_number[n]["state"] for n in range(4)] == ["COMPLETE", "PRUNED", "FAIL", "FAIL"]
    assert by_number[0]["value"] == 0.8 and by_number[0]["best_epoch"] == 2
    assert by_number[1]["value"] == 0.2  # a pruned trial keeps its last reported value
    assert by_number[3]["mlflow_run_id"] is None  # failed before its run existed
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    pruned_run = client.get_run(torn_down)
    assert pruned_run.info.status == "KILLED"
    assert pruned_run.data.tags["augplat.trial_state"] == "PRUNED"
    assert client.get_run(failed).data.tags["augplat.trial_state"] == "FAIL"
    assert client.get_run(complete).info.status == "FINISHED"

    study = rb.to_optuna_study(spec, rows)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED", "FAIL", "FAIL"]
    assert study.best_trial.number == 0 and study.best_value == 0.8
    assert study.trials[1].intermediate_values == {1: 0.2}
    assert "momentum" in study.trials[1].params and "momentum" not in study.trials[0].params
    report.trials_table(study, tmp_path / "trials.csv")
    table = list(csv.DictReader((tmp_path / "trials.csv").open()))
    assert [r["mlflow_run_id"] for r in table[:3]] == [complete, torn_down, failed]
    assert report.best_params(study, tmp_path / "best.json")["mlflow_run_id"] == complete


@pytest.fixture
def ray_cluster(tmp_path_factory):
    """A real single-node Ray cluster on 127.0.0.1 with its own auth token; always stopped."""
    root = tmp_path_factory.mktemp("ray-cluster")
    token = root / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {
        **os.environ,
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keep "127.0.0.1" loopback, not the host IP
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
    }
    ray_exe = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    try:
        subprocess.run(
            [
                ray_exe,
                "start",
                "--head",
                "--node-ip-address",
                "127.0.0.1",
                "--port",
                str(port),
                "--num-cpus",
                "2",
                "--include-dashboard",
                "false",
                "--disable-usage-stats",
            ],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield {"address": f"127.0.0.1:{port}", "env": env}
    finally:
        subprocess.run(
            [ray_exe, "stop", "--force"], cwd=root, env=env, capture_output=True, timeout=120
        )


@pytest.mark.slow
def test_ray_backend_on_a_local_cluster(cli, tmp_path, ray_cluster):
    cli("data", "prepare", "digits", "--size", "16", "--fraction", "0.3", check=True)
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_STUDY.format(epochs=3))  # pruner → ASHA: grace 1 epoch, factor 3
    env = {k: ray_cluster["env"][k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")}
    proc = cli(
        "study",
        str(path),
        "--backend",
        "ray",
        "--address",
        ray_cluster["address"],
        check=True,
        env=env,
        timeout=300,
    )
    parent_id = _parent_id(proc.stdout)
    client = _client()
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["augplat.kind"] == "study"
    assert parent.data.tags["augplat.backend"] == "ray"

    children = _children(client, parent_id)
    trials = [r for r in children if "augplat.trial" in r.data.tags]
    finals = [r for r in children if r.data.tags.get("augplat.final") == "true"]
    assert sorted(int(r.data.tags["augplat.trial"]) for r in trials) == [0, 1, 2]
    states = {}
    for run in trials:
        assert run.data.tags["mlflow.parentRunId"] == parent_id
        assert run.data.tags["augplat.backend"] == "ray"
        assert run.data.tags["augplat.study"] == "tiny"
        state = run.data.tags["augplat.trial_state"]
        assert (state, run.info.status) in {("COMPLETE", "FINISHED"), ("PRUNED", "KILLED")}
        assert "test_top1" not in run.data.metrics  # trials never look at the test split
        states[run.info.run_id] = state
    assert "COMPLETE" in states.values()
    assert sorted(r.data.params["seed"] for r in finals) == ["0", "1"]
    for run in finals:
        assert 0 <= run.data.metrics["test_top1"] <= 1

    rows, best, _ = check_study_report(client, parent, finals, tmp_path / "download")
    assert sorted(int(r["number"]) for r in rows) == [0, 1, 2]
    assert {r["mlflow_run_id"]: r["state"] for r in rows} == states
    for row in rows:  # the conditional parameter exists only where its condition holds
        has_momentum = row.get("params_momentum", "") not in ("", "nan")
        assert has_momentum == (row["params_optimizer"] == "sgd")
    best_row = next(r for r in rows if int(r["number"]) == best["trial"])
    assert best["mlflow_run_id"] == best_row["mlflow_run_id"]

    # Ray moved the trials into their own directories: nothing scattered in the user's cwd
    expected = {"mlflow.db", "mlruns", "mlartifacts", "tiny.yaml", "augplat-home", "download"}
    assert set(os.listdir(tmp_path)) <= expected
    assert (tmp_path / "augplat-home" / "ray_results").is_dir()
