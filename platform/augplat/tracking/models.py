"""Models in MLflow: log a models-from-code pyfunc once per run, register it, resolve it.

How to run::

    augplat gan register <run-id> --name fer-stargan --alias champion
    augplat train --data fer --aug gan --generator models:/fer-stargan@champion

* :func:`log_code_model` — a pyfunc model whose code is a ``.py`` file given by the caller
  (MLflow's "models from code": no pickle), with artifacts, a tensor signature and metadata.
  Idempotent: a run that already has a READY model of that name keeps it (resumed runs).
* :func:`register` — a run's logged model as a new version of a registered model (or the
  version that already holds it), optionally pointed to by an alias.
* :func:`source_run` — ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``models:/MODEL_ID``
  → the id of the run that logged the model, so a registered generator works wherever a run
  id does.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from augplat.errors import UserError
from augplat.tracking.artifacts import scratch_dir

MODELS_SCHEME = "models:/"
_ALIAS = re.compile(r"[\w\-]+")  # MLflow's alias alphabet
_VERSION_ALIAS = re.compile(r"[vV]\d+")  # reserved by MLflow for versions
_MAX_NAME = 255
_PROGRESS_VAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def is_model_uri(ref: str) -> bool:
    """Whether ``ref`` is a ``models:/`` URI (rather than a run id or name)."""
    return str(ref).startswith(MODELS_SCHEME)


def check_name(name: str) -> None:
    """Raise :class:`UserError` unless ``name`` can name a registered model."""
    bad = [c for c in "/:@'\"" if c in name]
    if not name.strip() or bad or len(name) > _MAX_NAME:
        why = f"it contains {bad[0]!r}" if bad else "use 1-255 characters"
        raise UserError(f"invalid model name {name!r}: {why}")


def check_alias(alias: str) -> None:
    """Raise :class:`UserError` unless ``alias`` is a settable MLflow alias."""
    if not _ALIAS.fullmatch(alias) or len(alias) > _MAX_NAME:
        raise UserError(f"invalid alias {alias!r}: use letters, digits, '_' and '-'")
    if alias.lower() == "latest" or _VERSION_ALIAS.fullmatch(alias):
        raise UserError(f"invalid alias {alias!r}: 'latest' and v<number> are reserved")


# --------------------------------------------------------------------------- logging ----


def log_code_model(
    logger,
    *,
    name: str,
    code: str | Path,
    artifacts: Mapping[str, str | Path],
    signature: Mapping[str, Any],
    metadata: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
) -> bool:
    """Log a pyfunc model defined by the file ``code`` to the run of ``logger`` (once).

    augplat's source travels with the model (``code_paths``), so ``mlflow.pyfunc.load_model``
    works in any process with the pinned requirements, even without augplat installed.

    Args:
        logger: The run's :class:`~augplat.tracking.RunLogger`.
        name: Model name within the run (shown under the run's Models).
        code: The models-from-code ``.py`` file (it calls ``set_model``).
        artifacts: Local files or directories the model's ``load_context`` reads, by key.
        signature: Plain description, see :func:`tensor_signature`.
        metadata: Free-form metadata written into the ``MLmodel`` file.
        settings: JSON values for ``load_context``: the artifact ``settings`` (a JSON file).
            Not MLflow's ``model_config``, which MLflow also logs as run params.

    Returns:
        Whether a model was logged (False: the run already had it).
    """
    import json
    import warnings

    import mlflow.pyfunc

    if logger._drop_unfinished_models(name):
        return False  # a resumed run that logged its model before the kill: one model, not two
    package_dir = Path(__file__).resolve().parents[1]  # the augplat package
    with scratch_dir() as tmp, _quiet():
        files = {k: str(v) for k, v in artifacts.items()}
        if settings is not None:
            (tmp / "settings.json").write_text(json.dumps(dict(settings)), encoding="utf-8")
            files["settings"] = str(tmp / "settings.json")
        with logger._fluent(), warnings.catch_warnings():
            # MLflow's advice (type hints, an input example) is for authors, not for users.
            warnings.simplefilter("ignore", UserWarning)
            mlflow.pyfunc.log_model(
                name=name,
                python_model=str(code),
                artifacts=files,
                signature=tensor_signature(signature),
                metadata=dict(metadata),
                code_paths=[str(package_dir)],
                pip_requirements=_requirements(),
            )
    return True


def _requirements() -> list[str]:
    """What loading augplat's generator code needs (pinned torch: weights are torch pickles)."""
    import torch

    return [f"torch=={torch.__version__.split('+')[0]}", "numpy", "pydantic>=2", "pyyaml"]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No artifact progress bars while MLflow copies the model's artifacts."""
    previous = os.environ.get(_PROGRESS_VAR)
    os.environ[_PROGRESS_VAR] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_PROGRESS_VAR, None)
        else:
            os.environ[_PROGRESS_VAR] = previous


def tensor_signature(description: Mapping[str, Any]):
    """A ``ModelSignature`` from plain values (callers need not import MLflow types).

    Args:
        description: ``{"inputs": {name: (dtype, shape)}, "outputs": (dtype, shape),
            "params": {name: (type, default)}}`` with numpy dtype names, ``-1`` for any size
            and MLflow param types (``string``, ``double``, ``long``, ...).
    """
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec, Schema, TensorSpec

    inputs = Schema(
        [TensorSpec(np.dtype(t), tuple(s), n) for n, (t, s) in description["inputs"].items()]
    )
    out_type, out_shape = description["outputs"]
    outputs = Schema([TensorSpec(np.dtype(out_type), tuple(out_shape))])
    params = ParamSchema(
        [ParamSpec(n, t, default) for n, (t, default) in description.get("params", {}).items()]
    )
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def ready_model(store, run_id: str, name: str):
    """The run's READY logged model ``name`` (newest), or None.

    Args:
        store: The :class:`~augplat.tracking.Store`.
        run_id: The run that logged the model.
        name: Model name within the run.
    """
    mlflow_client = store.client
    run = mlflow_client.get_run(run_id)
    found = mlflow_client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{name}'",
    )
    ready = [m for m in found if str(m.status) == "READY"]
    return max(ready, key=lambda m: m.creation_timestamp or 0) if ready else None


# ---------------------------------------------------------------------- registering ----


def register(store, run_id: str, model: str, name: str, alias: str | None = None) -> str:
    """Register the run's logged model ``model`` as ``name``; returns the version.

    Registering a run whose model ``name`` already holds reuses that version, so moving an
    alias onto an already registered generator does not create a duplicate version.

    Raises:
        UserError: Bad name or alias, the run has no such model, or the store refuses (a
            store without a model registry).
    """
    from mlflow.exceptions import MlflowException

    check_name(name)
    if alias is not None:
        check_alias(alias)
    mlflow_client = store.client
    logged = ready_model(store, run_id, model)
    if logged is None:
        raise UserError(f"run {run_id} has no logged '{model}' model to register")
    try:
        version = _existing_version(mlflow_client, name, logged.model_id)
        if version is None:
            _ensure_registered_model(mlflow_client, name)
            version = mlflow_client.create_model_version(
                name, logged.model_uri, run_id=run_id, model_id=logged.model_id
            ).version
        if alias is not None:
            mlflow_client.set_registered_model_alias(name, alias, str(version))
    except MlflowException as exc:
        first = (str(exc.message).strip().splitlines() or ["refused"])[0][:200]
        raise UserError(f"cannot register model {name!r}: {first}") from None
    return str(version)


def _ensure_registered_model(mlflow_client, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_registered_model(name)
    except MlflowException:  # RESOURCE_DOES_NOT_EXIST
        mlflow_client.create_registered_model(name)


def _existing_version(mlflow_client, name: str, model_id: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        versions = mlflow_client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return None
    for mv in versions:
        if getattr(mv, "model_id", None) == model_id or mv.source == f"models:/{model_id}":
            return str(mv.version)
    return None


# ------------------------------------------------------------------------ resolving ----


def source_run(store, uri: str) -> str:
    """The id of the run that logged the model ``uri`` points to.

    Args:
        store: The :class:`~augplat.tracking.Store`.
        uri: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``models:/MODEL_ID``.

    Raises:
        UserError: Malformed URI, or no such registered model, version, alias or model.
    """
    from mlflow.exceptions import MlflowException

    mlflow_client = store.client
    rest = uri[len(MODELS_SCHEME) :].strip("/")
    try:
        if "@" in rest:
            name, alias = rest.rsplit("@", 1)
            mv = mlflow_client.get_model_version_by_alias(name, alias)
        elif "/" in rest:
            name, version = rest.rsplit("/", 1)
            if not version.isdigit():
                raise UserError(f"bad model URI {uri!r}: use models:/NAME/VERSION or NAME@ALIAS")
            mv = mlflow_client.get_model_version(name, version)
        elif rest:
            return _logged_model_run(mlflow_client.get_logged_model(rest), uri)
        else:
            raise UserError(f"bad model URI {uri!r}: use models:/NAME@ALIAS or NAME/VERSION")
        if mv.run_id:
            return mv.run_id
        return _logged_model_run(mlflow_client.get_logged_model(mv.model_id), uri)
    except MlflowException:
        raise UserError(f"no model {uri} in the tracking store") from None


def _logged_model_run(logged, uri: str) -> str:
    if not logged.source_run_id:
        raise UserError(f"model {uri} was not logged by a run")
    return logged.source_run_id
