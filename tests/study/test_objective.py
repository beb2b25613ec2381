"""The objective metric is what a study optimises: checkpoint, pruning, value and final choice."""

from __future__ import annotations

import os

import pytest
from mlflow import MlflowClient

from augplat.errors import ConfigError
from augplat.study.spec import StudySpec, load_study_spec

STUDY = """
name: loss-study
train: {data: digits, model: simplecnn, epochs: 3, batch_size: 64, checkpoint_interval: 0}
space:
  lr: {type: categorical, choices: [0.00002, 0.003, 0.9]}
objective: {metric: val_loss}
trials: 3
sampler: {name: grid, seed: 0}
pruner: {name: none}
final: {seeds: [0], arms: {tuned: {}}}
"""


def _history(client, run_id: str, key: str) -> dict[int, float]:
    return {int(m.step): float(m.value) for m in client.get_metric_history(run_id, key)}


def test_val_loss_study_picks_the_trial_with_the_lowest_val_loss(tmp_path):
    from augplat import tracking
    from augplat.data import prepare_digits
    from augplat.study.runner import run_study

    prepare_digits(size=16, fraction=0.3)
    path = tmp_path / "loss-study.yaml"
    path.write_text(STUDY)
    spec, _ = load_study_spec(str(path))
    result = run_study(spec, path)
    client = MlflowClient(tracking.resolve_tracking_uri())

    import optuna

    from augplat.study.storage import open_storage

    study = optuna.load_study(study_name=spec.name, storage=open_storage(None, spec.name))
    best_loss = {}
    for trial in study.trials:
        assert trial.state.name == "COMPLETE"
        run_id = trial.user_attrs["mlflow_run_id"]
        losses = _history(client, run_id, "val_loss")
        best_loss[trial.number] = min(losses.values())
        # the trial's value is its best val_loss, and its checkpoint is that epoch's
        assert trial.value == pytest.approx(best_loss[trial.number], rel=1e-9)
        assert trial.user_attrs["best_epoch"] == min(losses, key=lambda e: (losses[e], e))
        run = client.get_run(run_id)
        assert run.data.params["monitor"] == "val_loss"
        assert run.data.metrics["best_val_loss"] == pytest.approx(best_loss[trial.number])
    winner = min(best_loss, key=best_loss.get)
    assert result.best_trial == winner
    assert result.best_value == pytest.approx(best_loss[winner])
    assert len(set(best_loss.values())) == 3  # the three trials really differ
    for row in result.final:  # the final runs select their checkpoint on the objective too
        assert client.get_run(row["run_id"]).data.params["monitor"] == "val_loss"


def test_trial_configs_monitor_the_objective_metric():
    base = {"name": "s", "space": {"lr": {"type": "float", "low": 0.001, "high": 0.1}}}
    for metric in ("val_acc", "val_loss", "val_macro_f1"):
        spec = StudySpec.model_validate({**base, "objective": {"metric": metric}})
        assert spec.trial_config({"lr": 0.01}).monitor == metric
        assert spec.trial_config({}, seed=3).monitor == metric  # final runs too


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"train": {"monitor": "val_acc"}}, "train.monitor is val_acc but objective.metric"),
        ({"space": {"monitor": {"type": "categorical", "choices": ["val_acc"]}}}, "space.monitor"),
    ],
)
def test_a_monitor_other_than_the_objective_is_refused(tmp_path, changes, fragment):
    import yaml

    values = {
        "train": {"data": "digits"},
        "space": {"lr": {"type": "float", "low": 0.001, "high": 0.1}},
        "objective": {"metric": "val_loss"},
    }
    for key, value in changes.items():
        values[key] = {**values[key], **value}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(values))
    with pytest.raises(ConfigError, match=fragment):
        load_study_spec(str(path))


def test_ray_trials_monitor_the_objective_metric(monkeypatch):
    """The Ray backend's trials select their checkpoint on the objective, as Optuna's do."""
    pytest.importorskip("ray.tune")
    from augplat.classify import finetune
    from augplat.study import ray_trial

    seen = []
    monkeypatch.setattr(finetune, "train_classifier", lambda cfg, **kw: seen.append(cfg))
    monkeypatch.setattr(ray_trial, "_tag_trial", lambda *a: None)
    spec = StudySpec.model_validate(
        {
            "name": "r",
            "train": {"data": "digits"},
            "space": {"lr": {"type": "float", "low": 0.001, "high": 0.1}},
            "objective": {"metric": "val_macro_f1"},
        }
    )
    home = os.environ["AUGPLAT_HOME"]  # the test's own (train_trial sets it again)
    ctx = {"spec": spec.model_dump(mode="json"), "parent_run_id": "p", "tracking_uri": "x",
           "home": home}  # fmt: skip
    ray_trial.train_trial({"lr": 0.01, ray_trial.TRIAL_KEY: 0}, ctx)
    assert seen[0].monitor == "val_macro_f1" and seen[0].lr == 0.01
