"""Pruners really prune: a constructed objective, and the training hook stopping a real run."""

from __future__ import annotations

import optuna
import pytest

from augplat.runtime.progress import Reporter
from augplat.study import optuna_backend as ob
from augplat.study.spec import StudySpec


def _spec(**overrides) -> StudySpec:
    values = {
        "name": "p",
        "train": {"data": "digits", "epochs": 6},
        "space": {"lr": {"type": "float", "low": 0.001, "high": 0.1, "log": True}},
        "pruner": {"name": "median", "n_startup_trials": 2, "n_warmup_steps": 1},
        "sampler": {"name": "random", "seed": 0},
    }
    values.update(overrides)
    return StudySpec.model_validate(values)


def test_median_pruner_stops_clearly_worse_trials():
    spec = _spec()
    study = optuna.create_study(
        direction="maximize", sampler=ob.make_sampler(spec), pruner=ob.make_pruner(spec)
    )
    steps_run = {}

    def objective(trial):
        quality = 1.0 if trial.number < 2 else 0.1  # first two are good, the rest are bad
        for epoch in range(1, 7):
            steps_run[trial.number] = epoch
            trial.report(quality * epoch, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return quality * 6

    ob.optimize(study, objective, n_trials=5, timeout=None, reporter=Reporter())
    states = [t.state.name for t in study.trials]
    assert states[:2] == ["COMPLETE", "COMPLETE"]
    assert states[2:] == ["PRUNED"] * 3
    # Optuna's median pruner may prune from the warm-up step on: bad trials stop at epoch 1 of 6
    assert [steps_run[n] for n in (2, 3, 4)] == [1, 1, 1]
    assert ob.finished(study) == 5


@pytest.mark.parametrize("name", ["median", "hyperband", "successive_halving", "none"])
def test_every_pruner_builds(name):
    pruner = ob.make_pruner(_spec(pruner={"name": name}))
    assert isinstance(pruner, optuna.pruners.BasePruner)


@pytest.mark.parametrize("name", ["tpe", "random", "cmaes", "grid"])
def test_every_sampler_builds(name):
    space = {"lr": {"type": "float", "low": 0.001, "high": 0.003, "step": 0.001}}
    sampler = ob.make_sampler(_spec(sampler={"name": name}, space=space))
    assert isinstance(sampler, optuna.samplers.BaseSampler)


def test_training_hook_prunes_a_real_run(isolated_home):
    """The objective's epoch hook stops training: the run ends KILLED after one epoch."""
    from mlflow import MlflowClient

    from augplat import tracking
    from augplat.data import prepare_digits

    prepare_digits(size=16, fraction=0.2)
    spec = _spec(
        train={"data": "digits", "epochs": 5, "batch_size": 64, "model": "simplecnn"},
        pruner={"name": "median", "n_startup_trials": 0, "n_warmup_steps": 0},
    )
    parent = tracking.start_run(spec.experiment_name, "parent")

    class AlwaysPrune(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    study = optuna.create_study(direction="maximize", pruner=AlwaysPrune())
    study.optimize(ob.Objective(spec, parent.run_id, None), n_trials=1)
    trial = study.trials[0]
    assert trial.state.name == "PRUNED"
    client = MlflowClient(tracking.resolve_tracking_uri())
    run = client.get_run(trial.user_attrs["mlflow_run_id"])
    assert run.info.status == "KILLED"
    assert run.data.tags["augplat.trial_state"] == "PRUNED"
    assert run.data.tags["mlflow.parentRunId"] == parent.run_id
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_acc")] == [1]
