"""An MLflow Project on this machine or at a git URI, and the git calls that pin its code."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from augplat.errors import ConfigError

# Entry-point parameters that name files: copied into a Kubernetes image, resolved locally.
FILE_PARAMS = ("config", "path", "study", "definition")


@dataclass(frozen=True)
class Project:
    """An MLflow Project to launch.

    Attributes:
        uri: The URI handed to MLflow (``#subdir`` included).
        local_dir: The project directory when the project is on this machine, else None.
        version: Git commit or branch (None: the working tree, or the remote's HEAD).
    """

    uri: str
    local_dir: Path | None
    version: str | None = None

    @property
    def subdirectory(self) -> str:
        """The ``#subdir`` part of the URI ('' for the repository root)."""
        return self.uri.split("#", 1)[1] if "#" in self.uri else ""


def _git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["git failed"])[-1]
        raise ConfigError(f"git {' '.join(args)}: {reason}")
    return proc.stdout.strip()
