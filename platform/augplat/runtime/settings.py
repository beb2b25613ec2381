"""Settings: one strict base model, YAML read with clear errors, one validation-error formatter.

A config file is plain YAML whose keys are the fields of the config model; CLI flags override
single fields. Unknown keys are errors naming the key and the file, so a typo never silently
falls back to a default. The resolved config is what gets logged to MLflow as ``config.yaml``.

How to use::

    class MyConfig(JobConfig):
        lr: float = Field(1e-3, gt=0, description="learning rate")

    cfg = build_config(MyConfig, "run.yaml", {"lr": 2e-4})
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from augplat.errors import ConfigError


class StrictModel(BaseModel):
    """Base of every settings model: an unknown key is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class JobConfig(StrictModel):
    """Base of a job's config (train, gan, expand): also re-checked when a field is set later."""

    model_config = ConfigDict(validate_assignment=True)


T = TypeVar("T", bound=BaseModel)


def validation_error_line(
    exc: ValidationError | dict[str, Any],
    source: str | Path | None = None,
    *,
    what: str = "",
    prefix: str = "",
    option: bool = False,
) -> str:
    """The one-line message of a validation error's first problem, naming key and source.

    Args:
        exc: The pydantic error, or one entry of its ``errors()``.
        source: The file (or section) the values came from; None names no source.
        what: Stands in for the key when a model-level check names none.
        prefix: Dotted path of the model inside its file (``"gan."``).
        option: The values came from command-line flags: name the flag (``--batch-size``).
    """
    err = exc.errors()[0] if isinstance(exc, ValidationError) else exc
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    loc = ".".join(str(p) for p in err.get("loc", ()))
    if option:
        return f"--{loc.replace('_', '-')}: {msg}" if loc else msg
    key = prefix + loc if loc else what
    where = f"{source}: " if source else ""
    if err.get("type") == "extra_forbidden":
        return f"{where}unknown key '{key}'"
    if err.get("type") == "missing":
        return f"{where}missing key '{key}'"
    return f"{where}{key}: {msg}" if key else f"{where}{msg}"


def first_error_message(exc: ValidationError) -> str:
    """The bare message of the first problem (for checks that name the key themselves)."""
    return str(exc.errors()[0].get("msg", "invalid value")).removeprefix("Value error, ")


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
        # Overrides may settle a missing key or a cross-field check (aug: gan + --generator).
        errors = exc.errors()
        blamed = [e for e in errors if not given or (e["loc"] and e["type"] != "missing")]
        if blamed:
            raise ConfigError(validation_error_line(blamed[0], source)) from None
    try:
        return model.model_validate({**values, **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        if (file and not err["loc"]) or err["type"] == "missing":  # not one flag's fault
            raise ConfigError(validation_error_line(exc, source)) from None
        raise ConfigError(validation_error_line(exc, option=True)) from None


def to_yaml(config: BaseModel) -> str:
    """The resolved config as YAML, keys in declaration order."""
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def set_dotted(values: dict[str, Any], item: str) -> str:
    """Apply one ``--set KEY=VALUE`` to a nested mapping (``final.seeds=3``); return KEY.

    VALUE is read as YAML (``[a, b]`` is a list, an empty VALUE the empty string). Missing
    intermediate mappings are created; the model's validation judges the key afterwards.

    Raises:
        ConfigError: No ``=``, an empty key part, a non-mapping on the way, or bad YAML.
    """
    import yaml

    key, sep, raw = item.partition("=")
    parts = [part.strip() for part in key.split(".")]
    if not sep or not all(parts):
        raise ConfigError(f"--set {item}: expected KEY=VALUE (KEY may be dotted: final.seeds)")
    node = values
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: '{'.'.join(parts[: i + 1])}' is not a mapping")
    try:
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"--set {key}: invalid YAML value '{raw}'") from None
    return ".".join(parts)
