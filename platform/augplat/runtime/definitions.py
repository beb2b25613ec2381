"""Finding and reporting on named YAML definitions: ``studies/NAME.yaml``, ``pipelines/NAME.yaml``.

How to use::

    path = find_definition("digits", "studies", "AUGPLAT_STUDIES", "study")
    raise ConfigError(validation_error_line(exc, path, what="study"))  # runtime.settings

A name is looked up in ``$ENV_VAR``, then ``./<folder>``, then the source tree's ``<folder>``
(an editable install or a checkout); anything ending in ``.yaml``/``.yml`` or naming an existing
file is taken as a path.
"""

from __future__ import annotations

import os
from pathlib import Path

from augplat.errors import ConfigError


def search_dirs(folder: str, env_var: str) -> list[Path]:
    """Where names are looked up, first match wins."""
    dirs = [Path.cwd() / folder]
    if os.environ.get(env_var):
        dirs.insert(0, Path(os.environ[env_var]))
    repo = Path(__file__).resolve().parents[3] / folder  # editable install / source checkout
    if repo not in dirs:
        dirs.append(repo)
    return dirs


def find_definition(name_or_path: str, folder: str, env_var: str, what: str) -> Path:
    """``<folder>/NAME.yaml`` from :func:`search_dirs`, or a direct path.

    Raises:
        ConfigError: No such file; the message lists the known names.
    """
    direct = Path(name_or_path).expanduser()
    if direct.suffix in (".yaml", ".yml") or direct.is_file():
        if not direct.is_file():
            raise ConfigError(f"{direct}: {what} file not found")
        return direct
    dirs = search_dirs(folder, env_var)
    for directory in dirs:
        for suffix in (".yaml", ".yml"):
            candidate = directory / f"{name_or_path}{suffix}"
            if candidate.is_file():
                return candidate
    known = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.y*ml")})
    raise ConfigError(
        f"no {what} named '{name_or_path}' (looked for {folder}/{name_or_path}.yaml); "
        f"known: {', '.join(known) or 'none'}"
    )
