"""`augplat gan register` against a real `mlflow server`, then `--generator models:/NAME@ALIAS`
in place of a run id; bad input is one line and exit 2."""

from __future__ import annotations

import uuid

import pytest

from augplat.generators import train_gan
from tests.conftest import free_port
from tests.generators import prepare_tiny_data, tiny_config


def _one_line_error(proc, fragment: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert fragment in lines[0], lines[0]


def test_register_alias_and_expand_through_the_alias(cli, mlflow_server):
    from mlflow import MlflowClient

    prepare_tiny_data()
    run_id = train_gan(tiny_config("stargan", max_steps=2), tracking_uri=mlflow_server).run_id
    name = f"digits-stargan-{uuid.uuid4().hex[:8]}"
    uri = ["--tracking-uri", mlflow_server]
    proc = cli("gan", "register", run_id, "--name", name, "--alias", "champion", *uri, check=True)
    assert f"registered run {run_id} as {name} version 1" in proc.stdout
    assert f"generator=models:/{name}@champion" in proc.stdout
    client = MlflowClient(mlflow_server)
    version = client.get_model_version_by_alias(name, "champion")
    assert version.version == "1" and version.run_id == run_id
    # The same run again: its version is reused, only the alias is new.
    cli("gan", "register", run_id, "--name", name, "--alias", "staging", *uri, check=True)
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["1"]
    assert client.get_model_version_by_alias(name, "staging").version == "1"

    proc = cli(
        "expand", "--generator", f"models:/{name}@champion", "--data", "digits",
        "--per-class", "2", "--name", "via-alias", *uri, check=True,
    )  # fmt: skip
    assert "dataset=via-alias" in proc.stdout
    # The expansion records the resolved run, not the alias.
    (expand,) = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`augplat.kind` = 'expand' and tags.`augplat.generator` = '{run_id}'",
    )
    assert expand.info.status == "FINISHED"
    proc = cli("gan", "sample", f"models:/{name}/1", "--n", "2", *uri, check=True)
    assert f"samples_{run_id}.png" in proc.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["gan", "register", "no-such-run", "--name", "x"], "no GAN run with id or name"),
        (["gan", "register", "{run}", "--name", "x", "--alias", "v1"], "invalid alias 'v1'"),
        (["gan", "register", "{run}", "--name", "a/b"], "invalid model name 'a/b'"),
        (["gan", "register", "{run}", "--name", "x"], "has no generator model"),
        (["expand", "--generator", "models:/nope@champion", "--data", "digits",
          "--per-class", "2"], "no model models:/nope@champion"),
    ],
)  # fmt: skip
def test_bad_register_input_is_one_line_exit_2(cli, mlflow_server, args, fragment):
    from mlflow import MlflowClient

    prepare_tiny_data()
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("augplat") or client.create_experiment("augplat")
    experiment_id = getattr(experiment, "experiment_id", experiment)
    # A GAN run without a generator model (as if trained before generators were models).
    bare = client.create_run(experiment_id, tags={"augplat.kind": "gan"}).info.run_id
    proc = cli(*[a.replace("{run}", bare) for a in args], "--tracking-uri", mlflow_server)
    _one_line_error(proc, fragment)
    assert not client.search_registered_models("name = 'x'")


def test_register_against_an_unreachable_server_is_one_line_exit_2(cli):
    uri = f"http://127.0.0.1:{free_port()}"
    proc = cli("gan", "register", "0" * 32, "--name", "x", "--tracking-uri", uri)
    _one_line_error(proc, "cannot reach the MLflow tracking server")
