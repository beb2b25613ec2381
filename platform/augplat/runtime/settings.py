"""Config files and overrides: YAML read with clear errors, pydantic models validated strictly.

A config file is plain YAML whose keys are the fields of the config model; CLI flags override
single fields. Unknown keys are errors naming the key and the file, so a typo never silently
falls back to a default. The resolved config is what gets logged to MLflow as ``config.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from augplat.errors import ConfigError

T = TypeVar("T", bound=BaseModel)


def _is_cross_field(exc: ValidationError) -> bool:
    """True when every error comes from a model-level check (it names no single key)."""
    return not any(err.get("loc") for err in exc.errors())


def _format_validation_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    key = ".".join(str(p) for p in err.get("loc", ()))
    if not key:  # a cross-field check: its message names the keys itself
        return msg if source == "option" else f"{source}: {msg}"
    if source == "option":  # came from the command line: name the flag the user typed
        return f"--{key.replace('_', '-')}: {msg}"
    if err.get("type") == "extra_forbidden":
        return f"{source}: unknown key '{key}'"
    return f"{source}: {key}: {msg}"


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, bad YAML or non-mapping raises ConfigError."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    return loaded


def build_config(
    model: type[T], file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> T:
    """Build a validated config: model defaults < YAML file < explicit overrides.

    Args:
        model: The pydantic config class.
        file: Optional YAML file.
        overrides: Field values from the CLI; ``None`` values mean "not given" and are ignored.
    """
    values: dict[str, Any] = read_yaml(file) if file else {}
    source = str(file) if file else "config"
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        model.model_validate(values)  # file errors are reported against the file
    except ValidationError as exc:
        # A cross-field check may be satisfied by the overrides (aug: gan + --generator).
        if not given or not _is_cross_field(exc):
            raise ConfigError(_format_validation_error(exc, source)) from None
    try:
        return model.model_validate({**values, **given})
    except ValidationError as exc:
        where = source if file and _is_cross_field(exc) else "option"
        raise ConfigError(_format_validation_error(exc, where)) from None


def to_yaml(config: BaseModel) -> str:
    """The resolved config as YAML, keys in declaration order."""
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
