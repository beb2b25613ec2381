"""Augmentation policies: the op table, named presets, YAML loading, validation, strength.

A policy is ``{op: {param: value}}`` with the ops and keys documented in
:mod:`augplat.augment.classic`. :func:`load_policy` accepts a preset name, a mapping or a YAML
file and fills in defaults; every unknown op or key, and every value of the wrong type or range,
is a :class:`ConfigError` naming it (and the file it came from).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from augplat.errors import ConfigError

__all__ = ["OPS", "POLICIES", "load_policy", "scale_policy"]


@dataclass(frozen=True)
class _Param:
    """One op parameter: what it holds, its default, its bounds and how ``strength`` acts.

    ``scaling``: "linear" (times strength), "around1" (distance from 1 times strength),
    "shrink" (distance below 1 times strength), "log" (log times strength) or None.
    """

    kind: str  # "number", "range" (two numbers) or "choice"
    default: Any
    bounds: tuple[float, float] = (0.0, math.inf)
    scaling: str | None = None
    choices: tuple = ()


def _prob(default: float) -> _Param:
    return _Param("number", default, (0.0, 1.0))


def _num(default: float, hi: float, scaling: str | None = "linear") -> _Param:
    return _Param("number", default, (0.0, hi), scaling)


def _range(default: tuple, bounds: tuple, scaling: str | None = "linear") -> _Param:
    return _Param("range", default, bounds, scaling)


#: Every op, its parameters and their defaults, in the order the ops run.
OPS: dict[str, dict[str, _Param]] = {
    "hflip": {"p": _prob(0.5)},
    "crop": {
        "p": _prob(0.5),
        "scale": _range((0.8, 1.0), (0.01, 1.0), "shrink"),
        "ratio": _range((0.9, 1.1), (0.01, 100.0), "log"),
    },
    "affine": {
        "p": _prob(0.5),
        "degrees": _num(10.0, 180.0),
        "translate": _num(0.1, 1.0),
        "scale": _range((0.9, 1.1), (0.01, 100.0), "around1"),
        "shear": _num(0.0, 80.0),  # tan() of it is used; keep well away from 90
        "padding": _Param("choice", "border", choices=("border", "zeros", "reflection")),
    },
    "brightness": {"p": _prob(0.5), "delta": _num(0.2, 1.0)},
    "contrast": {"p": _prob(0.5), "factor": _num(0.2, 1.0)},
    "blur": {"p": _prob(0.5), "sigma": _range((0.1, 1.0), (0.0, 10.0))},
    "noise": {"p": _prob(0.5), "std": _num(0.03, 1.0)},
    "dropout": {"p": _prob(0.5), "rate": _num(0.01, 1.0)},
    "erasing": {
        "p": _prob(0.5),
        "area": _range((0.02, 0.2), (0.0, 1.0)),
        "ratio": _range((0.3, 3.3), (0.01, 100.0), None),
        "value": _Param("choice", 0, choices=(0, "random")),
    },
}

#: Named policies; missing parameters take the defaults in :data:`OPS`.
POLICIES: dict[str, dict[str, dict[str, Any]]] = {
    "none": {},
    "light": {
        "hflip": {"p": 0.5},
        "affine": {"p": 0.5, "degrees": 5, "translate": 0.05, "scale": [0.95, 1.05]},
        "brightness": {"p": 0.5, "delta": 0.1},
        "contrast": {"p": 0.5, "factor": 0.1},
    },
    # Faces are roughly aligned in FER crops: mirror freely, move a little, vary lighting,
    # and hide a patch now and then so the model cannot rely on one region (mouth, eyes).
    "default": {
        "hflip": {"p": 0.5},
        "crop": {"p": 0.5, "scale": [0.8, 1.0], "ratio": [0.9, 1.1]},
        "affine": {"p": 0.5, "degrees": 10, "translate": 0.1, "scale": [0.9, 1.1]},
        "brightness": {"p": 0.5, "delta": 0.2},
        "contrast": {"p": 0.5, "factor": 0.2},
        "erasing": {"p": 0.25, "area": [0.02, 0.15], "ratio": [0.3, 3.3]},
    },
    "strong": {
        "hflip": {"p": 0.5},
        "crop": {"p": 0.5, "scale": [0.6, 1.0], "ratio": [0.8, 1.25]},
        "affine": {"p": 0.8, "degrees": 20, "translate": 0.15, "scale": [0.85, 1.15], "shear": 8},
        "brightness": {"p": 0.8, "delta": 0.3},
        "contrast": {"p": 0.8, "factor": 0.3},
        "blur": {"p": 0.2, "sigma": [0.1, 1.2]},
        "noise": {"p": 0.2, "std": 0.04},
        "erasing": {"p": 0.5, "area": [0.02, 0.25], "ratio": [0.3, 3.3]},
    },
    # Seed 003's Albumentations pipeline. Its one-of(motion blur, gauss noise, gauss blur)
    # at p 0.5 becomes gaussian blur at p 0.5 (two of its three choices are blurs; sigma
    # 0.8-1.4 is what its 3-7 px kernels imply). It rotates last; here geometry runs first.
    "albumentations": {
        "hflip": {"p": 0.5},
        "affine": {"p": 1.0, "degrees": 20, "translate": 0, "scale": [1, 1], "padding": "border"},
        "brightness": {"p": 1.0, "delta": 0.2},
        "contrast": {"p": 1.0, "factor": 0.2},
        "blur": {"p": 0.5, "sigma": [0.8, 1.4]},
        "dropout": {"p": 0.25, "rate": 0.01},
    },
}


def load_policy(spec: str | Mapping | Path) -> dict[str, dict[str, Any]]:
    """Validate a policy and fill in defaults.

    Args:
        spec: A name from :data:`POLICIES`, a ``{op: {param: value}}`` mapping, or the path
            of a YAML file holding such a mapping.

    Returns:
        ``{op: {param: value}}`` for the ops present, in run order, every parameter set.

    Raises:
        ConfigError: Unknown policy name, missing or unreadable file, unknown op or key,
            or a value of the wrong type or out of bounds (the message names the key and file).
    """
    if isinstance(spec, Mapping):
        return _validate(spec, "augmentation policy")
    if isinstance(spec, str) and spec in POLICIES:
        return _validate(POLICIES[spec], f"augmentation policy {spec!r}")
    if not isinstance(spec, (str, Path)):
        raise ConfigError(f"augmentation policy must be a name, mapping or file, got {spec!r}")
    path = Path(spec).expanduser()
    if path.suffix.lower() not in (".yaml", ".yml") and not path.exists():
        known = ", ".join(POLICIES)
        raise ConfigError(
            f"unknown augmentation policy {str(spec)!r} (known: {known}; or a .yaml file)"
        )
    if not path.is_file():
        raise ConfigError(f"augmentation policy file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read augmentation policy file {path}: {exc}") from None
    return _validate(raw, f"augmentation policy file {path}")


def _validate(raw: Any, source: str) -> dict[str, dict[str, Any]]:
    if raw is None:  # an empty YAML file is the empty policy
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of op name to parameters")
    for op, params in raw.items():
        if op not in OPS:
            raise ConfigError(f"{source}: unknown op {op!r} (known: {', '.join(OPS)})")
        if params is not None and not isinstance(params, Mapping):
            raise ConfigError(f"{source}: {op} must be a mapping of parameters, got {params!r}")
        for key in params or {}:
            if key not in OPS[op]:
                known = ", ".join(OPS[op])
                raise ConfigError(f"{source}: unknown key {op}.{key} (known: {known})")
    policy = {}
    for op, spec in OPS.items():
        if op in raw:
            given = raw[op] or {}
            policy[op] = {
                key: _check(param, given[key], f"{source}: {op}.{key}")
                if key in given
                else param.default
                for key, param in spec.items()
            }
    return policy


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(param: _Param, value: Any, where: str) -> Any:
    """The value in canonical form (floats, tuples), or ConfigError naming ``where``."""
    lo, hi = param.bounds
    if param.kind == "choice":
        if isinstance(value, bool) or value not in param.choices:
            choices = " or ".join(repr(c) for c in param.choices)
            raise ConfigError(f"{where} must be {choices}, got {value!r}")
        return param.choices[param.choices.index(value)]
    if param.kind == "number":
        if not is_number(value) or not lo <= value <= hi:
            raise ConfigError(f"{where} must be a number in [{lo}, {hi}], got {value!r}")
        return float(value)
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(map(is_number, value))
    if not ok or not lo <= value[0] <= value[1] <= hi:
        raise ConfigError(
            f"{where} must be [low, high] with {lo} <= low <= high <= {hi}, got {value!r}"
        )
    return (float(value[0]), float(value[1]))


def scale_policy(policy: Mapping[str, Mapping[str, Any]], strength: float) -> dict:
    """Apply ``strength`` to a validated policy's magnitudes (never to probabilities).

    Strength 0 returns the empty policy: every op becomes the identity at zero magnitude,
    and hflip, which has none, is dropped with them.
    """
    if strength == 0:
        return {}
    scaled = {}
    for op, params in policy.items():
        scaled[op] = {}
        for key, value in params.items():
            param = OPS[op][key]
            if param.scaling is not None:
                value = _scale(value, param, strength)
            scaled[op][key] = value
    return scaled


def _scale(value: Any, param: _Param, strength: float) -> Any:
    lo, hi = param.bounds
    if isinstance(value, tuple):
        return tuple(_scale(v, param, strength) for v in value)
    if param.scaling == "linear":
        value = value * strength
    elif param.scaling == "around1":
        value = 1.0 + (value - 1.0) * strength
    elif param.scaling == "shrink":
        value = 1.0 - (1.0 - value) * strength
    elif param.scaling == "log":
        value = value**strength
    return min(max(value, lo), hi)
