"""Bits every command shares: logging setup and the options every command spells the same."""

from __future__ import annotations

import logging
import os
import sys

import typer

TRACKING_URI_HELP = (
    "MLflow tracking URI (a server URL or sqlite:///file.db). "
    "Default: $MLFLOW_TRACKING_URI, else ./mlflow.db."
)
# Declared once, used as the default of every command's ``tracking_uri`` parameter
# (Typer copies it per command).
TRACKING_URI = typer.Option(None, "--tracking-uri", help=TRACKING_URI_HELP, show_default=False)
VERBOSE = typer.Option(False, "--verbose", "-v", help="Debug logging.")


def setup_logging(verbose: bool = False) -> None:
    """Route the ``augplat`` logger to stderr as plain lines; silence chatty libraries."""
    # MLflow configures its own handler at import time from this variable ("Creating initial
    # MLflow database tables..." would otherwise break the one-line error contract).
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logger = logging.getLogger("augplat")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    for noisy in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _one_line(message, category, filename, lineno, line=None) -> str:
    return f"warning: {' '.join(str(message).split())}\n"


def one_line_warnings() -> None:
    """Show every Python warning as one ``warning: ...`` line.

    Why: the default format adds the source line, and Pillow's DecompressionBombWarning for a
    100-megapixel image becomes a multi-line block in the middle of the output.
    """
    import warnings

    warnings.formatwarning = _one_line
