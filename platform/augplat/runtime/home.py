"""Where augplat keeps its files: the data home.

``AUGPLAT_HOME`` wins; otherwise ``$XDG_DATA_HOME/augplat``, else ``~/.local/share/augplat``
(the XDG default, so the home directory stays tidy). Layout::

    <home>/datasets/<name>/   prepared datasets (canonical form + manifest + plot)
    <home>/cache/             parsed-source cache keyed by content hash
    <home>/runs/<run-id>/     local checkpoints of training runs (for --resume)
"""

from __future__ import annotations

import os
from pathlib import Path


def augplat_home() -> Path:
    """The data home directory (not created here)."""
    explicit = os.environ.get("AUGPLAT_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return (base / "augplat").resolve()


def datasets_dir() -> Path:
    """Directory holding prepared datasets, one sub-directory per name."""
    return augplat_home() / "datasets"


def cache_dir() -> Path:
    """Directory holding parsed-source caches keyed by content hash."""
    return augplat_home() / "cache"


def runs_dir() -> Path:
    """Directory holding local run state (checkpoints) keyed by MLflow run id."""
    return augplat_home() / "runs"
