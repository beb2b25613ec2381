"""`augplat launch` and `augplat pipeline` without running a step: parameters, projects, code
versions, the kubernetes project copy, and the one-line errors of bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from augplat.errors import ConfigError
from augplat.projects.launch import (
    absolute_store_uri,
    check_params,
    code_version,
    find_project,
    parse_assignments,
    step_environment,
)

ROOT = Path(__file__).resolve().parents[2]


def test_parse_assignments():
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    for bad in (["novalue"], ["=1"]):
        with pytest.raises(ConfigError, match="expected KEY=VALUE"):
            parse_assignments(bad)


def test_check_params_against_the_mlproject(tmp_path, monkeypatch):
    project = find_project(str(ROOT))
    assert check_params(project, "gan", {"epochs": 3}) == {"epochs": "3"}
    with pytest.raises(ConfigError, match=r"unknown step 'nope'.*prepare, gan"):
        check_params(project, "nope", {})
    with pytest.raises(ConfigError, match="step 'gan' has no parameter 'lr'"):
        check_params(project, "gan", {"lr": "1"})
    with pytest.raises(ConfigError, match="'lr' must be a number"):
        check_params(project, "finetune", {"lr": "fast"})
    with pytest.raises(ConfigError, match="needs -P generator=VALUE"):
        check_params(project, "expand", {})
    (tmp_path / "my.yaml").write_text("ngf: 8\n")
    monkeypatch.chdir(tmp_path)  # a relative file parameter that exists here becomes absolute
    assert check_params(project, "gan", {"config": "my.yaml"})["config"] == str(
        tmp_path / "my.yaml"
    )
    assert check_params(project, "gan", {"data": "my.yaml"})["data"] == "my.yaml"


def test_find_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_project().local_dir == ROOT  # the checkout this package runs from
    sub = find_project(f"{ROOT}#projects/finetune", "abc")
    assert sub.local_dir == ROOT / "projects" / "finetune"
    assert sub.subdirectory == "projects/finetune" and sub.version == "abc"
    remote = find_project("https://example.com/augplat.git#projects/gan")
    assert remote.local_dir is None and remote.subdirectory == "projects/gan"
    for bad, message in [
        (str(tmp_path), "no MLproject"),
        (str(tmp_path / "missing"), "no such directory"),
        (f"{ROOT}#projects/.x", "no '.'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            find_project(bad)


def _git(*args, cwd):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_code_version_follows_the_sources(tmp_path):
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "platform" / "augplat", copy / "platform" / "augplat",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(ROOT / "MLproject", copy / "MLproject")
    project = find_project(str(copy))
    before = code_version(project)
    assert before.startswith("tree-") and before == code_version(project)
    (copy / "platform" / "augplat" / "projects" / "launch.py").write_text(
        "# edited\n", encoding="utf-8"
    )
    assert code_version(project) != before  # uncommitted edits count
    _git("init", "-q", cwd=copy)
    _git("add", "-A", cwd=copy)
    _git("commit", "-qm", "x", cwd=copy)
    sha = _git("rev-parse", "HEAD", cwd=copy).stdout.decode().strip()
    assert code_version(find_project(str(copy), "HEAD")) == f"git-{sha}"
    assert code_version(find_project("git://example.invalid/x", "a" * 40)) == "git-" + "a" * 40


def test_absolute_store_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_store_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert absolute_store_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert absolute_store_uri("http://h:5000") == "http://h:5000"


def test_step_environment_drops_the_callers_run(monkeypatch):
    monkeypatch.setenv("MLFLOW_RUN_ID", "outer")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "7")
    with step_environment():
        assert "MLFLOW_RUN_ID" not in os.environ and "MLFLOW_EXPERIMENT_ID" not in os.environ
        assert shutil.which("python").startswith(str(Path(sys.executable).parent))
    assert os.environ["MLFLOW_RUN_ID"] == "outer"


def test_entry_script_passes_parameters_without_a_shell(tmp_path):
    from augplat.projects.kube import entry_script

    script = tmp_path / "s.sh"
    script.write_text(entry_script("printf '<%s>' {a} {b} {c}", ["a", "b", "c"]))
    # as MLflow's kubernetes backend passes them: shell-quoted words, no shell to unquote them
    proc = subprocess.run(["bash", str(script), "x y", "''", "z"], capture_output=True, text=True)
    assert proc.stdout == "<x y><><z>"


def test_docker_project_for_the_kubernetes_backend(tmp_path):
    from mlflow.projects._project_spec import load_project

    from augplat.projects.kube import docker_project

    config = tmp_path / "gan.yaml"
    config.write_text("ngf: 8\n")
    copy, values = docker_project(find_project(str(ROOT)), {"config": str(config)}, "img:1")
    try:
        project = load_project(copy.uri)
        assert project.env_type == "docker_env" and project.docker_env == {"image": "img:1"}
        assert values == {"config": "inputs/config-gan.yaml"}
        assert (copy.local_dir / values["config"]).read_text() == "ngf: 8\n"
        command = project.get_entry_point("gan").compute_command(values, None)
        assert command.startswith("bash .augplat/gan.sh cgan digits 10 0 inputs/config-gan.yaml")
        assert (copy.local_dir / "platform" / "augplat" / "projects" / "launch.py").is_file()
        assert not (copy.local_dir / ".venv").exists()
    finally:
        shutil.rmtree(copy.local_dir)
    with pytest.raises(ConfigError, match="local checkout"):
        docker_project(find_project("git://example.invalid/x"), {}, "img:1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["launch", "nope"], "unknown step 'nope'"),
        (["launch", "gan", "-P", "epochs"], "expected KEY=VALUE"),
        (["launch", "gan", "-P", "lr=1"], "has no parameter 'lr'"),
        (["launch", "finetune", "--backend", "kubernetes"], "needs --backend-config"),
        (["launch", "gan", "--backend-config", "x.json"], "is for --backend kubernetes"),
        (["launch", "gan", "--env-manager", "pip"], "Invalid value"),
        (["pipeline", "nope"], "no pipeline named 'nope'"),
        (["pipeline", "digits", "--set", "gan"], "expected KEY=VALUE"),
        (["pipeline", "digits", "--set", "train.lr=1"], "expected STEP.PARAM=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, message):
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    if args[1] != "--env-manager" and "--env-manager" not in args:
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["steps"]["gan"].update(colour="red"), "unknown key 'steps.gan.colour'"),
        (lambda d: d["steps"].pop("gan"), "missing key 'steps.gan'"),
        (lambda d: d["steps"]["gan"]["params"].update(data="x"), "set by the pipeline"),
        (lambda d: d["steps"]["gan"]["config"].update(epochs=3), "both a parameter and a config"),
        (lambda d: d["steps"]["gan"]["config"].update(nfg=3), "gan.config: unknown key 'nfg'"),
        (lambda d: d["steps"]["gan"]["params"].update(lr=3), "unknown parameter 'lr'"),
        (lambda d: d.update(env_manager="pip"), "env_manager"),
    ],
)
def test_bad_pipeline_file_is_one_line_and_exit_2(cli, tmp_path, edit, message):
    definition = yaml.safe_load((ROOT / "pipelines" / "digits.yaml").read_text())
    edit(definition)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(definition))
    proc = cli("pipeline", str(path))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and str(path) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_backend_config_is_checked(tmp_path, cli):
    config = tmp_path / "backend.json"
    config.write_text(json.dumps({"repository-uri": "r"}))
    proc = cli("launch", "gan", "--backend", "kubernetes", "--backend-config", str(config))
    assert proc.returncode == 2 and "missing key 'kube-job-template-path'" in proc.stderr


@pytest.mark.slow
def test_launch_sets_the_parent_explicitly_and_reports_a_failed_step(cli):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    experiment = client.create_experiment("launch")
    outer, parent = (client.create_run(experiment).info.run_id for _ in range(2))
    proc = cli(
        "launch", "prepare", "-P", "source=mnist", "--experiment", "launch", "--parent", parent,
        env={"MLFLOW_RUN_ID": outer},  # the caller's own run must not reach the step
    )  # fmt: skip
    assert proc.returncode == 1
    assert "unknown source mnist" in proc.stderr and "step 'prepare' ended FAILED" in proc.stderr
    run_id = [x for x in proc.stdout.splitlines() if x.startswith("run_id=")][-1][7:]
    run = client.get_run(run_id)
    assert run_id not in (outer, parent) and run.info.status == "FAILED"
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.tags["augplat.step"] == "prepare"
    assert run.data.tags["augplat.env_manager"] == "local"
    assert run.data.params["source"] == "mnist"
    untouched = client.get_run(outer)
    assert untouched.info.status == "RUNNING" and not untouched.data.params
