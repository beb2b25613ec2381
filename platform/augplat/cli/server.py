"""``augplat server`` and ``augplat ui``: MLflow's tracking server and UI on loopback.

How to run::

    augplat server --port 5000                 # then: augplat train --tracking-uri http://127.0.0.1:5000
    augplat ui                                 # browse ./mlflow.db at http://127.0.0.1:5000
    # shared tracking for many workers: PostgreSQL metadata, proxied S3 artifacts, basic auth
    MLFLOW_AUTH_ADMIN_PASSWORD=... augplat server --host 0.0.0.0 --allowed-hosts mlflow:5000 \
        --backend-store-uri postgresql://mlflow:PASSWORD@db/mlflow \
        --artifacts-destination s3://mlflow/artifacts --auth

Both bind to 127.0.0.1 unless ``--host`` says otherwise: a tracking server accepts writes from
anyone who can reach it, so exposing it is an explicit decision (and ``--auth`` a good idea).
A backend store URI with a password is handed to MLflow through ``MLFLOW_BACKEND_STORE_URI``
rather than the command line (``ps`` shows command lines), and printed with the password masked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

LOOPBACK = "127.0.0.1"


def _exec_mlflow(args: list[str], host: str, auth: bool = False) -> None:
    from augplat.tracking import redact_uri

    if host not in (LOOPBACK, "localhost", "::1") and not auth:
        typer.echo(
            f"warning: binding to {host}: anyone who can reach it can read and write runs "
            "(--auth turns on basic authentication)",
            err=True,
        )
    shown = [redact_uri(a) if "://" in a else a for a in args]
    typer.echo("exec: mlflow " + " ".join(shown), err=True)
    sys.stdout.flush()
    # exec, not subprocess: signals (Ctrl-C, SIGTERM from a supervisor) reach MLflow directly.
    os.execv(sys.executable, [sys.executable, "-m", "mlflow", *args])


def _store_args(store: str) -> list[str]:
    """``--backend-store-uri`` for MLflow, or nothing when the URI goes through the environment."""
    from urllib.parse import urlsplit

    from augplat.tracking import redact_uri

    if "://" in store and (urlsplit(store).password or redact_uri(store) != store):
        os.environ["MLFLOW_BACKEND_STORE_URI"] = store  # kept off the command line
        typer.echo(f"backend store: {redact_uri(store)} (via MLFLOW_BACKEND_STORE_URI)", err=True)
        return []
    return ["--backend-store-uri", store]


def _auth_config(store: str, auth_db: str | None, permission: str, port: int) -> None:
    """Point MLflow's basic-auth app at its config (``MLFLOW_AUTH_CONFIG_PATH``).

    Users live in ``auth_db`` (default: next to a SQLite store, else in the store's database,
    in tables of their own); the admin password comes from ``MLFLOW_AUTH_ADMIN_PASSWORD`` on the
    first start.
    """
    from augplat.errors import ConfigError

    if os.environ.get("MLFLOW_AUTH_CONFIG_PATH"):
        _flask_secret()
        return  # the operator's own file wins
    if not os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD"):
        raise ConfigError(  # before anything is written: a refused start leaves nothing
            "--auth needs MLFLOW_AUTH_ADMIN_PASSWORD in the environment (the admin password, "
            "used when the admin user is first created), or MLFLOW_AUTH_CONFIG_PATH"
        )
    _flask_secret()
    if auth_db is None:
        auth_db = store
        if store.startswith("sqlite:///"):
            auth_db = f"sqlite:///{Path(store[len('sqlite:///') :]).with_name('basic_auth.db')}"
    text = (
        "[mlflow]\n"
        f"default_permission = {permission}\n"
        f"database_uri = {auth_db.replace('%', '%%')}\n"  # configparser interpolates %
        f"admin_username = {os.environ.get('MLFLOW_AUTH_ADMIN_USERNAME', 'admin')}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Training logs many small requests; without a cache each one pays a PBKDF2 check.
        # A changed password takes up to this long to reach every server worker.
        "auth_cache_ttl_seconds = 60\n"
    )
    path = _private_file(f"basic_auth-{port}.ini", text)  # it may hold a database password
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = str(path)


def _private_file(name: str, text: str) -> Path:
    """Write ``<home>/server/NAME`` readable by its owner only, from the first byte on."""
    from augplat.runtime.home import augplat_home

    path = augplat_home() / "server" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


def _flask_secret() -> None:
    """The basic-auth app's CSRF key: ``MLFLOW_FLASK_SERVER_SECRET_KEY``, else one kept in the
    data home so sessions survive restarts (replicas behind one URL must share the variable)."""
    import secrets

    from augplat.runtime.home import augplat_home

    if os.environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY"):
        return
    path = augplat_home() / "server" / "flask_secret_key"
    if not path.is_file():
        _private_file(path.name, secrets.token_hex(32))
    os.environ["MLFLOW_FLASK_SERVER_SECRET_KEY"] = path.read_text(encoding="utf-8").strip()


def server(
    host: str = typer.Option(LOOPBACK, help="Interface to bind; loopback unless you ask."),
    port: int = typer.Option(5000, min=1, max=65535, help="TCP port."),
    backend_store_uri: str = typer.Option(
        None,
        envvar="MLFLOW_BACKEND_STORE_URI",
        help="Run metadata store, e.g. postgresql://user@db/mlflow (keep a password in the "
        "environment variable). Default ./mlflow.db.",
    ),
    artifacts_destination: str = typer.Option(
        "./mlartifacts", help="Where proxied artifacts are stored (path or s3://bucket/prefix)."
    ),
    workers: int = typer.Option(1, min=1, help="Server worker processes."),
    auth: bool = typer.Option(
        False,
        "--auth/--no-auth",
        help="Basic authentication (MLflow's basic-auth app); the admin password comes from "
        "MLFLOW_AUTH_ADMIN_PASSWORD.",
    ),
    auth_db: str = typer.Option(
        None,
        "--auth-db",
        help="Database of the users (default: basic_auth.db next to a SQLite store, else the "
        "store's database).",
        show_default=False,
    ),
    auth_default_permission: str = typer.Option(
        "READ", "--auth-default-permission", help="READ | EDIT | MANAGE | NO_PERMISSIONS."
    ),
    allowed_hosts: str = typer.Option(
        None,
        "--allowed-hosts",
        help="Host headers to accept, comma-separated (MLflow's default: localhost and private "
        "IPs); e.g. mlflow:5000 behind docker compose.",
        show_default=False,
    ),
) -> None:
    """Start an MLflow tracking server with artifact proxying (clients need no storage creds)."""
    from augplat.tracking import default_tracking_uri

    store = backend_store_uri or default_tracking_uri()
    if "://" not in artifacts_destination:
        artifacts_destination = str(Path(artifacts_destination).resolve())
    args = ["server", "--host", host, "--port", str(port), *_store_args(store)]
    args += ["--serve-artifacts", "--artifacts-destination", artifacts_destination]
    args += ["--workers", str(workers)]
    if allowed_hosts:
        args += ["--allowed-hosts", allowed_hosts]
    if auth:
        _auth_config(store, auth_db, auth_default_permission, port)
        args += ["--app-name", "basic-auth"]
    _exec_mlflow(args, host, auth)


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
