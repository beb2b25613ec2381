"""``augplat launch``: run one step as an MLflow Projects run, locally or on Kubernetes.

How to run::

    augplat launch prepare -P source=digits -P name=digits-small -P fraction=0.2
    augplat launch gan -P method=cgan -P data=digits-small -P epochs=5 --env-manager uv
    augplat launch finetune -P model=simplecnn -P epochs=1 --parent <pipeline-run-id>
    augplat launch finetune --project https://github.com/me/augplat.git --version <commit>
    augplat launch finetune --backend kubernetes \\
        --backend-config docker/kubernetes/backend-config.json

STEP is an entry point of the root MLproject (prepare, gan, expand, finetune, study, compare,
pipeline). Prints ``run_id=<id>``; exits 1 when the step fails, 2 on bad input.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from augplat.cli.common import TRACKING_URI, setup_logging


class EnvManager(str, Enum):
    """How MLflow makes the step's Python environment."""

    local = "local"
    uv = "uv"
    virtualenv = "virtualenv"
    conda = "conda"


class Backend(str, Enum):
    """Where the step runs."""

    local = "local"
    kubernetes = "kubernetes"


PROJECT_HELP = (
    "Project: a checkout directory or git URL, optionally #subdir "
    "(default: $AUGPLAT_PROJECT, else this repository)."
)


def launch(
    step: str = typer.Argument(
        ..., help="Entry point: prepare, gan, expand, finetune, study, compare, pipeline."
    ),
    param: list[str] = typer.Option(
        None, "--param", "-P", help="Entry point parameter KEY=VALUE (repeatable)."
    ),
    project: str = typer.Option(None, "--project", help=PROJECT_HELP, show_default=False),
    version: str = typer.Option(
        None, "--version", help="Git commit or branch of the project.", show_default=False
    ),
    env_manager: EnvManager = typer.Option(
        EnvManager.local, "--env-manager", help="How MLflow makes the step's environment."
    ),
    backend: Backend = typer.Option(Backend.local, "--backend", help="Where the step runs."),
    backend_config: Path = typer.Option(
        None,
        "--backend-config",
        help="JSON for --backend kubernetes (kube-context, repository-uri, "
        "kube-job-template-path, image).",
        show_default=False,
    ),
    experiment: str = typer.Option("augplat", "--experiment", help="MLflow experiment."),
    run_name: str = typer.Option(None, "--run-name", help="MLflow run name.", show_default=False),
    parent: str = typer.Option(
        None, "--parent", help="Run id recorded as the step's parent run.", show_default=False
    ),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Run one augplat step through mlflow.projects.run and wait for it."""
    setup_logging()
    from augplat.projects.launch import StepFailed, find_project, launch_step, parse_assignments

    params = parse_assignments(param)
    try:
        result = launch_step(
            step,
            params,
            project=find_project(project, version),
            env_manager=env_manager.value,
            backend=backend.value,
            backend_config=backend_config,
            experiment=experiment,
            run_name=run_name,
            parent_run_id=parent,
            tracking_uri=tracking_uri,
        )
    except StepFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo(f"run_id={exc.run_id}")
        raise typer.Exit(1) from None
    typer.echo(f"{result.step} {result.status.lower()}")
    typer.echo(f"run_id={result.run_id}")
