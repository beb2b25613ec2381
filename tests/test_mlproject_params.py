"""MLproject parameters are the job's config fields, with the model's defaults.

Every parameter of every entry point (root MLproject and projects/*/MLproject) must be a field of
the job's config model, or an argument the command takes besides its config (listed here), and a
parameter's default must be the field's default, so a setting keeps one default however it runs.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# entry point → (config model "module:Class" or None, parameters that are no config field)
JOBS = {
    "finetune": ("augplat.classify.config:TrainConfig", {"config"}),
    "gan": ("augplat.generators.config:GanConfig", {"config"}),
    "expand": ("augplat.expand:ExpandConfig", {"config"}),
    "compare": ("augplat.compare.runner:CompareConfig", set()),
    # `augplat data prepare`, `study` and `pipeline` take a source, a study or a pipeline file
    # and command-line arguments; they have no config model of their own.
    "prepare": (None, {"source", "name", "path", "fraction", "size", "seed"}),
    "study": (None, {"study", "trials", "workers", "mode"}),
    "pipeline": (None, {"definition", "env_manager"}),
}
SUBPROJECTS = {"gan": "gan", "expand": "expand", "finetune": "finetune"}  # projects/X: main
# Deliberate differences, with the reason.
DIFFERENT_DEFAULTS = {
    # A standalone expand step writes a dataset with a fixed name the next step can find;
    # the CLI derives it from the source (<data>-expanded). The pipeline always passes it.
    ("expand", "name"),
}


def _entry_points() -> list[tuple[str, str, dict]]:
    """(job, MLproject file, parameters) for every entry point on disk."""
    found = []
    root = yaml.safe_load((ROOT / "MLproject").read_text())
    for name, entry in root["entry_points"].items():
        found.append((name, "MLproject", entry.get("parameters", {})))
    for job, folder in SUBPROJECTS.items():
        path = ROOT / "projects" / folder / "MLproject"
        for entry in yaml.safe_load(path.read_text())["entry_points"].values():
            found.append((job, str(path.relative_to(ROOT)), entry.get("parameters", {})))
    return found


def _model(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _fields(model) -> dict[str, tuple[object, object]]:
    """name → (annotation, default or MISSING) for a pydantic model or a dataclass."""
    if dataclasses.is_dataclass(model):
        return {
            f.name: (f.type, f.default if f.default is not dataclasses.MISSING else ...)
            for f in dataclasses.fields(model)
        }
    return {
        k: (f.annotation, f.default if not f.is_required() else ...)
        for k, f in model.model_fields.items()
    }


def _as_field_value(raw, annotation, default):
    """An MLproject default (a string or float) read as the field's type; "" means unset."""
    from pydantic import TypeAdapter

    if raw == "":
        return None
    if isinstance(annotation, str):  # a dataclass field under `from __future__ import annotations`
        return type(default)(raw) if default not in (None, ...) else raw
    return TypeAdapter(annotation).validate_python(raw)


ENTRY_POINTS = _entry_points()


def test_every_entry_point_has_a_known_job():
    assert {job for job, _, _ in ENTRY_POINTS} == set(JOBS)


def _problems(job: str, params: dict) -> list[str]:
    """Parameters that are no field of the job's model, and defaults that differ from it."""
    model_path, cli_only = JOBS[job]
    fields = _fields(_model(model_path)) if model_path else {}
    known = {*fields, *cli_only}
    problems = [f"{p}: not a field of {model_path}" for p in params if p not in known]
    for name, spec in params.items():
        if name not in fields or "default" not in spec or (job, name) in DIFFERENT_DEFAULTS:
            continue
        annotation, default = fields[name]
        got = _as_field_value(spec["default"], annotation, default)
        if got != default:
            problems.append(f"{name}: default {got!r}, the model's {default!r}")
    return problems


@pytest.mark.parametrize(("job", "file", "params"), ENTRY_POINTS, ids=lambda v: str(v)[:40])
def test_parameters_are_config_fields_with_the_model_defaults(job, file, params):
    assert _problems(job, params) == [], file


def test_a_stray_parameter_or_changed_default_is_caught():
    params = {"lr": {"type": "float", "default": 0.01}, "learning_rate": {"type": "float"}}
    problems = _problems("finetune", params)
    assert len(problems) == 2
    assert problems[0].startswith("learning_rate: not a field")
    assert problems[1] == "lr: default 0.01, the model's 0.001"
