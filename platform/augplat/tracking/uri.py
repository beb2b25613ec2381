"""Where the tracking store is: URI precedence, redaction, a reachability check, the client.

Tracking URI precedence: ``--tracking-uri`` > ``MLFLOW_TRACKING_URI`` > ``sqlite:///mlflow.db``
in the working directory (MLflow's own embedded default since 3.7). A server that cannot be
reached fails within seconds with one clear line instead of MLflow's minutes of retries.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from augplat.errors import TrackingError

_REACH_TIMEOUT_S = 5.0


def default_tracking_uri() -> str:
    """MLflow's embedded default: a SQLite file ``mlflow.db`` in the working directory."""
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The tracking URI to use: explicit, then ``MLFLOW_TRACKING_URI``, then the default."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


_SECRET_QUERY = re.compile(r"((?:password|passwd|pwd|secret|token)=)[^&;]*", re.I)


def redact_uri(uri: str) -> str:
    """``uri`` with any password (in the user info or the query) replaced, safe to print or log."""
    parts = urlsplit(uri)
    query = _SECRET_QUERY.sub(r"\1***", parts.query)
    if parts.password is None and query == parts.query:
        return uri  # untouched: a round trip would turn sqlite:///x into sqlite:/x
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


# Stores MLflow itself understands; a plugin's scheme is accepted through its entry point.
_KNOWN_SCHEMES = {"", "file", "http", "https", "sqlite", "postgresql", "mysql", "mssql"}
_KNOWN_SCHEMES |= {"databricks", "databricks-uc", "uc"}


def _check_scheme(uri: str) -> None:
    """One line for a tracking URI MLflow would fail on after a traceback (``foo://bar``)."""
    from importlib.metadata import entry_points

    scheme = urlsplit(uri).scheme.split("+")[0].lower()
    if len(scheme) == 1 or scheme in _KNOWN_SCHEMES:  # one letter: a Windows drive
        return
    if scheme in {e.name for e in entry_points(group="mlflow.tracking_store")}:
        return
    raise TrackingError(
        f"unsupported tracking URI {redact_uri(uri)}: use http(s)://HOST:PORT, "
        "sqlite:///FILE.db or a directory"
    )


def _health_request(uri: str) -> urllib.request.Request:
    """The ``/health`` request; credentials in the URI (``http://user:pw@host``) become a
    basic-auth header, as MLflow sends them, since urllib cannot take them in the URL."""
    import base64

    parts = urlsplit(uri)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise TrackingError(f"tracking URI {redact_uri(uri)} has an invalid port") from None
    netloc = parts.netloc.rpartition("@")[2]
    url = urlunsplit(parts._replace(netloc=netloc)).rstrip("/") + "/health"
    request = urllib.request.Request(url)
    if parts.username is not None:
        token = f"{parts.username}:{parts.password or ''}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
    return request


def check_reachable(uri: str, timeout: float = _REACH_TIMEOUT_S) -> None:
    """Raise :class:`TrackingError` unless an http(s) server answers its health check (and
    for a URI MLflow cannot use at all)."""
    _check_scheme(uri)
    if urlsplit(uri).scheme not in ("http", "https"):
        return
    health = _health_request(uri)
    try:
        with urllib.request.urlopen(health, timeout=timeout) as response:
            if response.status >= 400:
                raise TrackingError(
                    f"MLflow server at {redact_uri(uri)} answered {response.status}"
                )
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return  # reachable; authentication is MLflow's business (MLFLOW_TRACKING_USERNAME)
        raise TrackingError(
            f"MLflow server at {redact_uri(uri)} answered HTTP {exc.code}"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: InvalidURL
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"cannot reach the MLflow tracking server at {redact_uri(uri)} ({reason}); start one "
            "with `augplat server` or fix --tracking-uri / MLFLOW_TRACKING_URI"
        ) from None


def client(uri: str | None = None):
    """An ``MlflowClient`` for the resolved URI, after checking the server is reachable."""
    import mlflow
    from mlflow import MlflowClient

    resolved = resolve_tracking_uri(uri)
    check_reachable(resolved)
    mlflow.set_tracking_uri(resolved)  # log_model/log_input still go through the fluent API
    return MlflowClient(tracking_uri=resolved)


def store_errors() -> tuple[type[BaseException], ...]:
    """What a tracking store raises for a missing run, experiment or artifact (``except
    store_errors():``; mlflow is imported only when one is caught, so ``--help`` stays fast)."""
    from mlflow.exceptions import MlflowException

    return (MlflowException, OSError)
