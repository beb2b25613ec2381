"""Generator methods by name, and a saved generator loaded by the method it names.

* :data:`GAN_METHODS` — ``@GAN_METHODS.register("name")`` on a :class:`GanMethod` subclass.
  Built-in methods live in their own modules; :func:`method_class` imports them on first use so
  the registry is complete whichever module a caller imported first.
* :func:`load_saved` — a saved generator folder (``gan.json`` + weights) as its method's object.

Trained generators are found by :mod:`augplat.generators.lookup`.
"""

from __future__ import annotations

import importlib

from augplat.runtime.registry import Registry

GAN_METHODS: Registry = Registry("GAN method")

_BUILTIN_MODULES = ("cyclegan", "stargan", "cgan", "imported")


def load_builtin_methods() -> None:
    """Import the built-in method modules (each registers itself); idempotent."""
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"augplat.generators.{module}")


def method_class(name: str):
    """The :class:`GanMethod` subclass registered as ``name``.

    Raises:
        ConfigError: Unknown name; the message lists the registered methods.
    """
    load_builtin_methods()
    return GAN_METHODS.get(name)


def trainable_methods() -> list[str]:
    """Names of the registered methods that ``augplat gan train`` can train."""
    load_builtin_methods()
    return [name for name in GAN_METHODS.names() if GAN_METHODS.get(name).trainable]


# ------------------------------------------------------------- trained generators ----


def load_saved(directory, device="cpu"):
    """Load any saved method (the registry picks the class named in ``gan.json``)."""
    import json
    from pathlib import Path

    from augplat.errors import UserError
    from augplat.generators.base import FORMAT_VERSION, META_FILE

    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise UserError(f"{directory}: not a saved augplat generator (no {META_FILE})")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if int(meta.get("format", 0)) > FORMAT_VERSION:
        raise UserError(f"{directory}: saved by a newer augplat (format {meta['format']})")
    return method_class(meta["method"]).from_saved(directory, meta, device)
