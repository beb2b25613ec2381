"""``augplat pipeline``: prepare → gan → expand → study → compare, reusing finished steps.

How to run::

    augplat pipeline digits                                   # pipelines/digits.yaml, CPU minutes
    augplat pipeline fer --set prepare.path=~/data/fer2013.csv
    augplat pipeline fer --set gan.epochs=100                 # reruns gan and what follows only
    augplat pipeline my-pipeline.yaml --env-manager uv --rerun

Each step is an MLflow Projects run of the root MLproject, a child of the pipeline's run. A step
whose parameters, code version and input runs match a finished run is reused, not rerun.
Prints a table of the steps and ``run_id=<pipeline run>``; exits 1 when a step fails.
"""

from __future__ import annotations

import typer

from augplat.cli.common import TRACKING_URI, setup_logging
from augplat.cli.launch import PROJECT_HELP, EnvManager


def pipeline(
    definition: str = typer.Argument(
        ..., help="Pipeline name (pipelines/NAME.yaml) or a YAML path."
    ),
    set_: list[str] = typer.Option(
        None, "--set", help="Override a step parameter: STEP.PARAM=VALUE (repeatable)."
    ),
    project: str = typer.Option(None, "--project", help=PROJECT_HELP, show_default=False),
    version: str = typer.Option(
        None, "--version", help="Git commit or branch of the project.", show_default=False
    ),
    env_manager: EnvManager = typer.Option(
        None, "--env-manager", help="Steps' environments (default: the file's env_manager)."
    ),
    rerun: bool = typer.Option(
        False, "--rerun", help="Launch every step, even when a finished run matches."
    ),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Run a pipeline of MLflow Projects steps; finished identical steps are reused."""
    setup_logging()
    from augplat.pipeline import load_pipeline_spec, run_pipeline
    from augplat.projects.launch import StepFailed, find_project, parse_assignments

    overrides = parse_assignments(set_, flag="--set")
    spec, path = load_pipeline_spec(definition, overrides)
    try:
        result = run_pipeline(
            spec,
            path,
            project=find_project(project, version),
            env_manager=env_manager.value if env_manager else None,
            tracking_uri=tracking_uri,
            rerun=rerun,
        )
    except StepFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print(result)


def _print(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"pipeline {result.name} (experiment {result.experiment})")
    for column in ("step", "run", "", "output"):
        table.add_column(column)
    for step in result.steps:
        shown = ", ".join(f"{k}={v}" for k, v in step.outputs.items() if k != "generator")
        table.add_row(step.step, step.run_id, "reused" if step.reused else "ran", shown)
    Console(highlight=False, markup=False).print(table)
    for step in result.steps:
        typer.echo(f"{step.step}_run_id={step.run_id}")
    typer.echo(f"run_id={result.run_id}")
