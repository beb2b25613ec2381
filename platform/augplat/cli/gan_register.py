"""``augplat gan register``: a GAN run's generator model as a version of a registered model.

How to run::

    augplat gan register <run-id | gan-name> --name fer-stargan --alias champion
    augplat train --data fer --aug gan --generator models:/fer-stargan@champion
    augplat expand --generator models:/fer-stargan/1 --balance

Every generator (trained or imported) is logged as an MLflow model (``generator_model``) next to
its ``generator/`` artifact; registering it gives it a name, versions and aliases, and
``models:/NAME@ALIAS`` then works wherever a GAN run id does.
"""

from __future__ import annotations

import typer

from augplat.cli.common import TRACKING_URI, setup_logging


def register(
    run: str = typer.Argument(..., help="GAN run id (or a generator's name, or a models:/ URI)."),
    name: str = typer.Option(..., "--name", help="Registered model name (e.g. fer-stargan)."),
    alias: str = typer.Option(
        None, "--alias", help="Alias to point at this version (e.g. champion).", show_default=False
    ),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Register a GAN run's generator model; optionally move an alias onto it."""
    setup_logging(False)
    from augplat.generators.serving import register as register_generator

    run_id, version = register_generator(run, name, alias, tracking_uri)
    pointer = f"models:/{name}@{alias}" if alias else f"models:/{name}/{version}"
    typer.echo(f"registered run {run_id} as {name} version {version}")
    typer.echo(f"generator={pointer}")
