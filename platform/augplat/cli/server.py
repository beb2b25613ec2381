"""``augplat server`` and ``augplat ui``: MLflow's tracking server and UI on loopback.

How to run::

    augplat server --port 5000                 # then: augplat train --tracking-uri http://127.0.0.1:5000
    augplat ui                                 # browse ./mlflow.db at http://127.0.0.1:5000

Both bind to 127.0.0.1 unless ``--host`` says otherwise: a tracking server accepts writes from
anyone who can reach it, so exposing it is an explicit decision.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

LOOPBACK = "127.0.0.1"


def _exec_mlflow(args: list[str], host: str) -> None:
    from augplat.tracking import redact_uri

    if host not in (LOOPBACK, "localhost", "::1"):
        typer.echo(
            f"warning: binding to {host}: anyone who can reach it can read and write runs", err=True
        )
    shown = [redact_uri(a) if "://" in a else a for a in args]
    typer.echo("exec: mlflow " + " ".join(shown), err=True)
    sys.stdout.flush()
    # exec, not subprocess: signals (Ctrl-C, SIGTERM from a supervisor) reach MLflow directly.
    os.execv(sys.executable, [sys.executable, "-m", "mlflow", *args])


def server(
    host: str = typer.Option(LOOPBACK, help="Interface to bind; loopback unless you ask."),
    port: int = typer.Option(5000, min=1, max=65535, help="TCP port."),
    backend_store_uri: str = typer.Option(
        None, help="Run metadata store, e.g. postgresql://user@db/mlflow. Default ./mlflow.db."
    ),
    artifacts_destination: str = typer.Option(
        "./mlartifacts", help="Where proxied artifacts are stored (path or s3://bucket/prefix)."
    ),
    workers: int = typer.Option(1, min=1, help="Server worker processes."),
) -> None:
    """Start an MLflow tracking server with artifact proxying (clients need no storage creds)."""
    from augplat.tracking import default_tracking_uri

    store = backend_store_uri or default_tracking_uri()
    if "://" not in artifacts_destination:
        artifacts_destination = str(Path(artifacts_destination).resolve())
    _exec_mlflow(
        [
            "server",
            "--host",
            host,
            "--port",
            str(port),
            "--backend-store-uri",
            store,
            "--serve-artifacts",
            "--artifacts-destination",
            artifacts_destination,
            "--workers",
            str(workers),
        ],
        host,
    )


def ui(
    host: str = typer.Option(LOOPBACK, help="Interface to bind; loopback unless you ask."),
    port: int = typer.Option(5000, min=1, max=65535, help="TCP port."),
    backend_store_uri: str = typer.Option(
        None, help="Store to browse. Default: $MLFLOW_TRACKING_URI, else ./mlflow.db."
    ),
) -> None:
    """Open the MLflow UI on the local store to compare runs."""
    from augplat.tracking import resolve_tracking_uri

    store = backend_store_uri or resolve_tracking_uri()
    if store.startswith(("http://", "https://")):
        typer.echo(f"the tracking store is a server: open {store} in a browser", err=True)
        raise typer.Exit(0)
    _exec_mlflow(["ui", "--host", host, "--port", str(port), "--backend-store-uri", store], host)
