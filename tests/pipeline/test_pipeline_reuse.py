"""`augplat pipeline` end to end on toy digits: every step an MLflow Projects run, then reuse.

Three pipeline runs against one SQLite store: the first launches all five steps under an
adopted outer run (as under `mlflow run . -e pipeline`), the second launches nothing, the third
changes a study parameter and reruns study and compare only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TINY = """
description: toy pipeline for the tests
steps:
  prepare:
    params: {source: digits, name: toy-digits, fraction: 0.2, size: 16}
  gan:
    params: {method: cgan, epochs: 1}
    config: {ngf: 8, ndf: 8, z_dim: 16, batch_size: 64, eval: false, preview_images: 4,
             log_every: 2, checkpoint_every: 100}
  expand:
    params: {seed: 0}
    config: {per_class: 3, batch_size: 64}
  study:
    params: {trials: 1}
    config:
      train: {model: simplecnn, epochs: 1, batch_size: 128, eval_batch_size: 512,
              log_model: false, log_checkpoints: false}
      space: {lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}}
      sampler: {name: random, seed: 0}
      pruner: {name: none}
      final: {seeds: [0]}
  compare:
    params: {metric: test_top1}
"""
STEPS = ("prepare", "gan", "expand", "study", "compare")


def _client():
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")


def _step_runs(stdout: str) -> dict[str, str]:
    """``{step: run id, "run": pipeline run id}`` from the summary (the last of each key: the
    steps' own output, which passes through, prints ``run_id=`` lines too)."""
    found = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        name = key.removesuffix("_run_id") if key.endswith("_run_id") else key.removesuffix("_id")
        if sep and name in (*STEPS, "run"):
            found[name] = value.strip()
    return found


def _runs(client, experiment: str, kind: str | None = None):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return [r for r in runs if kind is None or r.data.tags.get("augplat.kind") == kind]


@pytest.mark.slow
def test_pipeline_runs_every_step_then_reuses_and_reruns_only_dependents(cli, tmp_path):
    compare = cli("compare", "--help")
    assert compare.returncode == 0, "`augplat compare` is missing: the pipeline's last step"
    definition = tmp_path / "toy.yaml"
    definition.write_text(TINY)
    client = _client()
    experiment = client.create_experiment("pipeline-toy")
    outer = client.create_run(experiment, run_name="outer").info.run_id

    # 1. Under an outer run (as `mlflow run . -e pipeline`): adopted as the pipeline's run, and
    #    no step may adopt it: each step is a new run whose parent is set explicitly.
    first = cli("pipeline", str(definition), env={"MLFLOW_RUN_ID": outer}, check=True)
    runs = _step_runs(first.stdout)
    assert set(runs) == {*STEPS, "run"} and runs["run"] == outer
    assert "reused" not in first.stdout
    assert len({runs[s] for s in STEPS} | {outer}) == 6
    for step in STEPS:
        run = client.get_run(runs[step])
        assert run.info.status == "FINISHED", step
        assert run.data.tags["mlflow.parentRunId"] == outer, step
        assert run.data.tags["augplat.step"] == step
        assert run.data.tags["mlflow.source.type"] == "PROJECT"
        assert run.data.tags["mlflow.project.entryPoint"] == step
        assert run.data.tags["augplat.code_version"].startswith("tree-")
    pipeline_run = client.get_run(outer)
    assert pipeline_run.data.tags["augplat.kind"] == "pipeline"
    assert pipeline_run.info.status == "FINISHED"
    # outputs were wired from run to run
    prepare, gan, expand = (client.get_run(runs[s]) for s in ("prepare", "gan", "expand"))
    assert prepare.data.tags["augplat.dataset"] == "toy-digits"
    assert gan.data.params["data"] == "toy-digits"
    assert expand.data.params["generator"] == runs["gan"]
    assert json.loads(expand.data.tags["augplat.inputs"]) == {
        "data": runs["prepare"],
        "generator": runs["gan"],
    }
    study = client.get_run(runs["study"])
    assert study.data.tags["augplat.kind"] == "study"
    finals = [r for r in _runs(client, "pipeline-toy") if r.data.tags.get("augplat.final")]
    # default arms: the winner and the winner without augmentation (baseline), one seed each
    assert sorted(r.data.tags["augplat.arm"] for r in finals) == ["none", "tuned"]
    assert {r.data.tags["mlflow.parentRunId"] for r in finals} == {runs["study"]}
    assert all(0 <= r.data.metrics["test_top1"] <= 1 for r in finals)
    assert {r.data.params["data"] for r in finals} == {"toy-digits"}  # the prepared data
    assert "tuned vs none: " in first.stdout and "underpowered (n=1)" in first.stdout
    assert client.get_run(runs["compare"]).data.tags["augplat.kind"] == "compare"

    # 2. Same inputs: every step reused, nothing launched.
    second = cli("pipeline", str(definition), check=True)
    again = _step_runs(second.stdout)
    assert {s: again[s] for s in STEPS} == {s: runs[s] for s in STEPS}
    assert second.stdout.count("reused") == len(STEPS)
    assert len(_runs(client, "pipeline-toy", "gan")) == 1
    assert len(_runs(client, "pipeline-toy", "pipeline")) == 2

    # 3. Two trials instead of one: prepare, gan and expand reused; study and compare rerun.
    third = cli("pipeline", str(definition), "--set", "study.trials=2", check=True)
    rerun = _step_runs(third.stdout)
    for step in ("prepare", "gan", "expand"):
        assert rerun[step] == runs[step], step
    for step in ("study", "compare"):
        assert rerun[step] != runs[step], step
    assert third.stdout.count("reused") == 3
    assert len(_runs(client, "pipeline-toy", "gan")) == 1
    new_study = client.get_run(rerun["study"])
    assert new_study.data.params["trials"] == "2"
    assert new_study.data.tags["augplat.study"] != study.data.tags["augplat.study"]
    assert json.loads(new_study.data.tags["augplat.inputs"]) == {
        step: runs[step] for step in ("prepare", "gan", "expand")
    }
