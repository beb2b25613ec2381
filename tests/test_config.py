"""TrainConfig: defaults < YAML < overrides, and errors that name the key and the file."""

from __future__ import annotations

import pytest
import yaml

from augplat.classify.config import TrainConfig, build_config, to_yaml
from augplat.errors import ConfigError


def test_layering_defaults_file_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("lr: 0.01\nepochs: 3\noptimizer: sgd\n")
    cfg = build_config(TrainConfig, path, {"epochs": 7, "lr": None})
    assert cfg.lr == 0.01  # from the file; None override means "not given"
    assert cfg.epochs == 7  # override wins
    assert cfg.optimizer == "sgd"
    assert cfg.batch_size == TrainConfig().batch_size  # default


def test_resolved_config_round_trips_through_yaml():
    cfg = build_config(TrainConfig, None, {"model": "vgg16", "lr": 3e-4})
    again = TrainConfig.model_validate(yaml.safe_load(to_yaml(cfg)))
    assert again == cfg


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("lr: 0.1\nlearning_rate: 0.1\n", "unknown key 'learning_rate'"),
        ("epochs: many\n", "epochs"),
        ("optimizer: rmsprop\n", "optimizer"),
        ("- a\n- b\n", "expected a mapping"),
        ("lr: [unclosed\n", "invalid YAML"),
        ("optimizer: adam\nnesterov: true\n", "nesterov only applies"),
    ],
)
def test_bad_file_names_file_and_key(tmp_path, content, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        build_config(TrainConfig, path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_bad_override_names_the_flag():
    with pytest.raises(ConfigError, match="--batch-size"):
        build_config(TrainConfig, None, {"batch_size": 0})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        build_config(TrainConfig, tmp_path / "nope.yaml")
