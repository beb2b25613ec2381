"""Study files: shipped ones validate; bad ones fail with one line naming file and key."""

from __future__ import annotations

import pytest

from augplat.errors import ConfigError
from augplat.study.space import ParamSpec, suggest_params
from augplat.study.spec import load_study_spec

GOOD = """
train: {data: digits, epochs: 2}
space:
  optimizer: {type: categorical, choices: [adam, sgd]}
  momentum: {type: float, low: 0.8, high: 0.99, when: {optimizer: sgd}}
"""


@pytest.mark.parametrize("name", ["digits", "fer", "folder-example"])
def test_shipped_studies_validate(name):
    spec, path = load_study_spec(name)
    assert spec.name == name and path.name == f"{name}.yaml"
    assert spec.space and spec.trial_config({}).epochs >= 1


def test_name_defaults_to_file_stem_and_experiment(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    spec, _ = load_study_spec(str(path))
    assert spec.name == "mine" and spec.experiment_name == "study-mine"
    assert spec.objective.direction == "maximize"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (GOOD + "trails: 5\n", "unknown key 'trails'"),
        ("train: {data: digits}\nspace: {}\n", "search space is empty"),
        (GOOD + "trials: many\n", "trials"),
        (GOOD + "sampler: {name: bayes}\n", "sampler.name"),
        (GOOD + "pruner: {name: asha}\n", "pruner.name"),
        ("space:\n  lr: {type: float, low: 1, high: 0}\n", "'low' must not exceed 'high'"),
        ("space:\n  learning_rate: {type: float, low: 0.1, high: 1}\n", "learning_rate"),
        ("space:\n  lr: {type: float, low: 0, high: 1, log: true}\n", "log scale"),
        ("space:\n  optimizer: {type: categorical}\n", "choices"),
        ("train: {lr: -1}\nspace:\n  epochs: {type: int, low: 1, high: 2}\n", "lr"),
        (
            "space:\n  momentum: {type: float, low: 0.1, high: 0.9, when: {optimizer: sgd}}\n",
            "not an earlier parameter",
        ),
        (GOOD + "sampler: {name: grid}\n", "step"),
        (GOOD + "objective: {metric: val_loss, direction: maximize}\n", "minimized"),
    ],
)
def test_bad_study_files(tmp_path, content, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_study_spec(str(path))
    message = str(info.value)
    assert str(path) in message and fragment in message and "\n" not in message


def test_unknown_study_name_lists_known_ones():
    with pytest.raises(ConfigError, match=r"no study named 'nope'.*digits"):
        load_study_spec("nope")


def test_conditional_parameters_follow_earlier_choices():
    import optuna

    space = {
        "optimizer": ParamSpec(type="categorical", choices=["adam", "sgd"]),
        "momentum": ParamSpec(type="float", low=0.8, high=0.9, when={"optimizer": "sgd"}),
        "epochs": ParamSpec(type="int", low=2, high=6, step=2),
        "lr": ParamSpec(type="float", low=1e-4, high=1e-1, log=True),
    }
    sgd = suggest_params(
        optuna.trial.FixedTrial({"optimizer": "sgd", "momentum": 0.85, "epochs": 4, "lr": 0.01}),
        space,
    )
    assert sgd == {"optimizer": "sgd", "momentum": 0.85, "epochs": 4, "lr": 0.01}
    adam = suggest_params(
        optuna.trial.FixedTrial({"optimizer": "adam", "epochs": 2, "lr": 1e-3}), space
    )
    assert "momentum" not in adam
    assert ParamSpec(type="int", low=2, high=6, step=2).grid_values() == [2, 4, 6]


def test_study_sets_override_nested_keys_of_the_file(tmp_path):
    from augplat.study.spec import load_study_spec

    path = tmp_path / "s.yaml"
    path.write_text(
        "trials: 3\ntrain: {data: digits, epochs: 1}\nfinal: {seeds: 2}\n"
        "space: {lr: {type: float, low: 0.001, high: 0.1, log: true}}\n"
    )
    spec, _ = load_study_spec(str(path), ["trials=5", "final.seeds=4", "train.lr=0.01"])
    assert (spec.trials, spec.final.seed_list) == (5, [0, 1, 2, 3])
    assert spec.train["lr"] == 0.01 and spec.train["epochs"] == 1  # siblings are kept
    unchanged, _ = load_study_spec(str(path))
    assert (unchanged.trials, unchanged.final.seed_list) == (3, [0, 1])


def test_set_dotted_reads_yaml_values_and_refuses_non_mappings():
    from augplat.errors import ConfigError
    from augplat.runtime.settings import set_dotted

    values = {"final": {"seeds": 2}, "trials": 3}
    assert set_dotted(values, "final.fractions=[0.5, 1]") == "final.fractions"
    assert set_dotted(values, "train.aug=") == "train.aug"
    assert values == {
        "final": {"seeds": 2, "fractions": [0.5, 1]},
        "trials": 3,
        "train": {"aug": ""},
    }
    with pytest.raises(ConfigError, match="'trials' is not a mapping"):
        set_dotted(values, "trials.x=1")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        set_dotted(values, "final..seeds=1")
