"""The MLflow Projects on disk: root MLproject, projects/*, python_env files, pipelines.

Static checks (MLflow's own loader, placeholders, typed parameters, config defaults, the
dependency lists) plus the shell lines themselves, run by bash against a fake `python` that
prints the command it was given.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = [ROOT, *(ROOT / "projects" / s for s in ("gan", "expand", "finetune"))]
ROOT_STEPS = {"prepare", "gan", "expand", "finetune", "study", "compare", "pipeline"}
MLFLOW_TYPES = {"string", "float", "path", "uri"}


def _load(directory: Path):
    from mlflow.projects._project_spec import load_project

    return load_project(str(directory))


def _spec(directory: Path) -> dict:
    return yaml.safe_load((directory / "MLproject").read_text())


def test_every_project_loads_with_a_python_env():
    for directory in PROJECTS:
        project = _load(directory)
        assert project.env_type == "python_env", directory
        assert Path(project.env_config_path).is_file()
    assert set(_spec(ROOT)["entry_points"]) == ROOT_STEPS
    for step in ("gan", "expand", "finetune"):
        assert set(_spec(ROOT / "projects" / step)["entry_points"]) == {"main"}


@pytest.mark.parametrize("directory", PROJECTS, ids=lambda d: d.name or "root")
def test_parameters_are_typed_used_and_never_secrets(directory):
    for name, entry in _spec(directory)["entry_points"].items():
        params = entry.get("parameters", {})
        placeholders = set(re.findall(r"\{(\w+)\}", entry["command"]))
        assert placeholders == set(params), f"{name}: {placeholders ^ set(params)}"
        for key, value in params.items():
            assert isinstance(value, dict) and value["type"] in MLFLOW_TYPES, (name, key)
            assert not re.search(r"pass|secret|token|storage|uri", key), (name, key)
        assert "python -m augplat " in entry["command"], name
        assert 'export PYTHONPATH="$PWD/' in entry["command"], name


def test_step_projects_match_the_root_entry_points():
    root = _spec(ROOT)["entry_points"]
    for step in ("gan", "expand", "finetune"):
        own = _spec(ROOT / "projects" / step)["entry_points"]["main"]
        assert own["parameters"].keys() == root[step]["parameters"].keys(), step
        for key, value in own["parameters"].items():
            expected = dict(root[step]["parameters"][key])
            if key == "config":
                expected["default"] = "defaults.yaml"
            assert value == expected, (step, key)
        same = own["command"].replace("$PWD/../../platform", "$PWD/platform")
        assert same == root[step]["command"], step


def test_config_defaults_exist_and_name_real_config_keys():
    from augplat.classify.config import TrainConfig
    from augplat.expand import ExpandConfig
    from augplat.generators.config import GanConfig

    models = {"gan": GanConfig, "expand": ExpandConfig, "finetune": TrainConfig}
    root = _spec(ROOT)["entry_points"]
    for step, model in models.items():
        default = root[step]["parameters"]["config"]["default"]
        values = yaml.safe_load((ROOT / default).read_text())
        assert isinstance(values, dict)
        assert set(values) <= set(model.model_fields) - set(root[step]["parameters"]), step
        assert (ROOT / "projects" / step / "defaults.yaml").read_text() == (
            ROOT / default
        ).read_text()


def _requirement_names(lines: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ]", line, maxsplit=1)[0].lower() for line in lines}


def test_python_envs_install_augplat_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["postgres"]
    texts = {(d / "python_env.yaml").read_text() for d in PROJECTS}
    assert len(texts) == 1, "the four python_env.yaml files differ"
    env = yaml.safe_load(texts.pop())
    assert sorted(env["dependencies"]) == sorted(wanted)
    assert "augplat" not in _requirement_names(env["dependencies"])  # it runs from the checkout


@pytest.fixture
def fake_python(tmp_path):
    """A `python` that prints PYTHONPATH and its arguments instead of running anything."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "python"
    script.write_text('#!/bin/sh\necho "PYTHONPATH=$PYTHONPATH"\necho "ARGS $*"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _run_entry(fake_python, directory: Path, entry: str, params: dict[str, str]):
    command = _load(directory).get_entry_point(entry).compute_command(params, None)
    env = {**os.environ, "PATH": f"{fake_python}:{os.environ['PATH']}", "PYTHONPATH": ""}
    return subprocess.run(
        ["bash", "-c", command], cwd=directory, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"source": "digits", "name": "d", "fraction": "0.2"}, "data prepare digits --name d"),
        ({"source": "fer", "path": "/x/fer 2013.csv"}, "data prepare fer --csv /x/fer 2013.csv"),
        ({"source": "folder", "path": "/pets", "size": "64"}, "data prepare folder /pets"),
    ],
)
def test_prepare_dispatches_on_the_source(fake_python, params, expected):
    proc = _run_entry(fake_python, ROOT, "prepare", params)
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout
    assert f"PYTHONPATH={ROOT}/platform:" in proc.stdout


def test_prepare_rejects_an_unknown_source(fake_python):
    proc = _run_entry(fake_python, ROOT, "prepare", {"source": "mnist"})
    assert proc.returncode == 2 and "unknown source mnist" in proc.stderr


@pytest.mark.parametrize(("mode", "flag"), [("new", ""), ("resume", " --resume"), ("fresh", "")])
def test_study_mode_becomes_a_flag(fake_python, mode, flag):
    proc = _run_entry(fake_python, ROOT, "study", {"study": "digits", "mode": mode})
    args = proc.stdout.split("ARGS ", 1)[1].strip()
    expected = "-m augplat study digits --trials 0 --workers 1" + (flag or "")
    assert args == expected + (" --fresh" if mode == "fresh" else "")


def test_compare_writes_outside_the_checkout(fake_python):
    proc = _run_entry(fake_python, ROOT, "compare", {"study": "s"})
    out = proc.stdout.split("--out ", 1)[1].strip()
    assert proc.returncode == 0 and not out.startswith(str(ROOT)) and not Path(out).exists()


def test_step_project_runs_augplat_from_its_checkout(fake_python):
    proc = _run_entry(fake_python, ROOT / "projects" / "gan", "main", {})
    assert f"PYTHONPATH={ROOT}/projects/gan/../../platform:" in proc.stdout
    assert "ARGS -m augplat gan train cgan --data digits --epochs 10 --seed 0 " in proc.stdout


def test_shipped_pipelines_are_valid(tmp_path):
    from augplat.pipeline import load_pipeline_spec
    from augplat.pipeline.runner import check_definition
    from augplat.projects.launch import entry_points, find_project

    points = entry_points(find_project(str(ROOT)))
    csv = tmp_path / "fer2013.csv"  # the real one is the user's download
    csv.write_text("emotion,pixels,Usage\n")
    for path in sorted((ROOT / "pipelines").glob("*.yaml")):
        spec, _ = load_pipeline_spec(str(path))
        if spec.steps.prepare.params.get("path"):
            spec, _ = load_pipeline_spec(str(path), {"prepare.path": str(csv)})
        check_definition(spec, path, points)
        assert spec.steps.compare is not None, path
