"""Settings: defaults < YAML < overrides, one strict base, errors that name the key and the file."""

from __future__ import annotations

import pytest
import yaml
from pydantic import Field, ValidationError

from augplat.classify.config import TrainConfig, build_config, to_yaml
from augplat.errors import ConfigError
from augplat.expand import ExpandConfig
from augplat.generators.config import GanConfig
from augplat.runtime.settings import JobConfig, StrictModel, validation_error_line


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


class _Needs(JobConfig):
    runs: tuple[str, ...]
    lr: float = Field(1e-3, gt=0)


def test_a_required_key_may_come_from_the_overrides_only(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("lr: 0.01\n")
    assert build_config(_Needs, path, {"runs": ("a", "b")}).runs == ("a", "b")
    with pytest.raises(ConfigError, match=f"{path}: missing key 'runs'"):
        build_config(_Needs, path)
    with pytest.raises(ConfigError, match="config: missing key 'runs'"):
        build_config(_Needs, None, {"lr": 0.5})


@pytest.mark.parametrize(
    ("values", "kwargs", "line"),
    [
        ({"runs": [], "colour": 1}, {"source": "f.yaml"}, "f.yaml: unknown key 'colour'"),
        ({}, {"source": "f.yaml"}, "f.yaml: missing key 'runs'"),
        ({"runs": [], "lr": 0}, {"source": "f.yaml", "prefix": "gan."}, "f.yaml: gan.lr: "),
        ({"runs": [], "lr": 0}, {"option": True}, "--lr: Input should be greater than 0"),
    ],
)
def test_one_formatter_names_source_and_key(values, kwargs, line):
    with pytest.raises(ValidationError) as info:
        _Needs.model_validate(values)
    assert validation_error_line(info.value, **kwargs).startswith(line)


def test_every_settings_model_is_strict():
    from augplat.classify.ensemble_run import EnsembleConfig
    from augplat.compare import CompareConfig
    from augplat.pipeline.definition import PipelineSpec
    from augplat.study.spec import StudySpec

    jobs = (TrainConfig, GanConfig, ExpandConfig, EnsembleConfig, CompareConfig)
    for model in (*jobs, StudySpec, PipelineSpec):
        assert issubclass(model, StrictModel), model
        assert model.model_config.get("extra") == "forbid", model
