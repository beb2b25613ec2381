"""Options generated from config models: a new field gets a flag and ``--set`` by itself."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
import typer
from pydantic import Field
from typer.testing import CliRunner

from augplat.cli.options import config_command, lazy_group, parse_sets
from augplat.errors import ConfigError
from augplat.runtime.settings import JobConfig, build_config


class Toy(JobConfig):
    """A small job config standing in for TrainConfig (no torch import)."""

    lr: float = Field(1e-3, gt=0, description="learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="weight decay")
    amp: bool = Field(True, description="mixed precision")
    device: Literal["auto", "cpu"] = Field("auto", description="device")
    classes: list[str] | None = Field(None, description="classes to keep")


class ToyPlusKnob(Toy):
    """Toy with one field added, and nothing else changed."""

    knob: int = Field(7, ge=0, description="a brand-new setting")


def _app(model) -> tuple[typer.Typer, list[dict]]:
    """A Typer app whose only command records the overrides and the built config."""
    seen: list[dict] = []

    @config_command(model, flags={"weight_decay": ("--weight-decay", "--wd")})
    def run(overrides: dict, config: Path = typer.Option(None, "--config")) -> None:
        """Run the toy job."""
        cfg = build_config(model, config, overrides)
        seen.append({"overrides": dict(overrides), "config": cfg})

    group = lazy_group()
    group.add("run", run)
    app = typer.Typer(cls=group, add_completion=False, rich_markup_mode=None)

    @app.callback()
    def toy() -> None:
        """Toy commands (a callback makes the app a group)."""

    return app, seen


def _invoke(model, *args: str):
    app, seen = _app(model)
    result = CliRunner().invoke(app, ["run", *args], terminal_width=200)
    return result, seen


def test_a_new_field_gets_a_flag_and_set_without_cli_code():
    help_text = _invoke(ToyPlusKnob, "--help")[0].output
    assert "--knob" in help_text and "A brand-new setting." in help_text
    assert "[default: 7]" in help_text  # the default comes from the model
    assert "--knob" not in _invoke(Toy, "--help")[0].output

    result, seen = _invoke(ToyPlusKnob, "--knob", "3")
    assert result.exit_code == 0, result.output
    assert seen[-1]["config"].knob == 3
    result, seen = _invoke(ToyPlusKnob, "--set", "knob=5", "--set", "lr=2e-4")
    assert result.exit_code == 0, result.output
    assert (seen[-1]["config"].knob, seen[-1]["config"].lr) == (5, 2e-4)


def test_flags_follow_the_field_types():
    help_text = " ".join(_invoke(Toy, "--help")[0].output.split())
    assert "--weight-decay, --wd" in help_text  # a declared alias
    assert "--amp / --no-amp" in help_text  # a bool is an on/off pair
    assert "<auto|cpu>" in help_text  # a Literal is a choice
    assert "[default: 0.001]" in help_text and "Learning rate." in help_text
    result, seen = _invoke(Toy, "--no-amp", "--wd", "0", "--classes", "a, b", "--device", "cpu")
    assert result.exit_code == 0, result.output
    cfg = seen[-1]["config"]
    assert (cfg.amp, cfg.weight_decay, cfg.classes, cfg.device) == (False, 0.0, ["a", "b"], "cpu")
    result, _ = _invoke(Toy, "--device", "tpu")
    assert result.exit_code != 0 and "--device" in result.output


def test_untyped_flags_never_override_the_config_file(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text("lr: 0.01\namp: false\n")
    result, seen = _invoke(Toy, "--config", str(path), "--wd", "0.5")
    assert result.exit_code == 0, result.output
    assert seen[-1]["overrides"] == {"weight_decay": 0.5}  # defaults shown in help are not given
    cfg = seen[-1]["config"]
    assert (cfg.lr, cfg.amp, cfg.weight_decay) == (0.01, False, 0.5)


def test_a_mistyped_lazy_command_gets_a_suggestion():
    app, _ = _app(Toy)
    result = CliRunner().invoke(app, ["rnu"])
    assert result.exit_code == 2 and "Did you mean 'run'?" in result.output


def test_a_typed_flag_wins_over_set():
    result, seen = _invoke(Toy, "--set", "lr=0.5", "--lr", "0.25")
    assert result.exit_code == 0, result.output
    assert seen[-1]["config"].lr == 0.25


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["lr=2e-4"], {"lr": "2e-4"}),  # YAML 1.1 reads it as a string; the model converts it
        (["lr=0.5", "amp=false"], {"lr": 0.5, "amp": False}),
        (["classes=[a, b]"], {"classes": ["a", "b"]}),
        (["device="], {"device": ""}),
    ],
)
def test_set_values_are_yaml(items, expected):
    assert parse_sets(items, Toy) == expected


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        (["lrr=0.1"], "unknown key 'lrr' (did you mean 'lr'?)"),
        (["lr"], "expected KEY=VALUE"),
        (["classes=[a"], "invalid YAML"),
    ],
)
def test_bad_set_is_a_config_error_naming_the_key(items, fragment):
    with pytest.raises(ConfigError) as info:
        parse_sets(items, Toy)
    assert fragment in str(info.value)


def test_every_train_config_field_is_an_option(cli):
    from augplat.classify.config import TrainConfig

    proc = cli("train", "--help", check=True)
    missing = [k for k in TrainConfig.model_fields if f"--{k.replace('_', '-')}" not in proc.stdout]
    assert not missing
    assert "[default: 0.001]" in proc.stdout and "--set" in proc.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "--set", "lrr=0.1"], "unknown key 'lrr'"),
        (["train", "--set", "epochs=0"], "--epochs"),
        (["gan", "train", "cgan", "--set", "ngf=zero"], "--ngf"),
        (["expand", "--classic", "--balance", "--set", "colour=red"], "unknown key 'colour'"),
    ],
)
def test_bad_set_exits_2_with_one_line(cli, args, fragment):
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert fragment in lines[0]
