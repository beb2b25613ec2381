"""Every generator is an MLflow model: a pyfunc that serves its roles, images in, images out.

How to use (any GAN run, trained or imported; after ``augplat gan register``)::

    import mlflow, numpy as np
    gan = mlflow.pyfunc.load_model("models:/fer-stargan@champion")
    gan.metadata.metadata["roles"]                 # e.g. ["variation", "translation"]
    out = gan.predict({"images": x, "labels": y}, params={"role": "translation", "seed": 1})

Inputs: ``images`` float32 ``N×C×H×W`` in [0, 1] and ``labels`` int64 ``(N,)``; the ``role``
param picks one of the roles the method declares (:class:`~augplat.generators.roles.Role`):

* ``variation`` — same-label variations of the images (``labels``: their classes; ``strength``);
* ``translation`` — the images moved to the target classes in ``labels``;
* ``style`` — the images in the other domain's style (``labels`` ignored, may be empty);
* ``sample`` — one new image per label; ``images`` empty (``0×C×H×W``).

Output: float32 ``N×C×H×W`` in [0, 1]. Randomness comes from the ``seed`` param.

The model is logged by :func:`log_model` next to the ``generator/`` artifact it is made of
(the same ``gan.json``, weights and training-image hashes). Its code is the models-from-code
file :mod:`augplat.generators.pyfunc_model`, which calls :func:`load` and :func:`predict` here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from augplat.errors import UserError
from augplat.generators.roles import Role

MODEL_NAME = "generator_model"  # the run's model; ``generator/`` stays the plain artifact
MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
ARTIFACT = "generator"  # key of the saved-generator directory among the model's artifacts

DEFAULT_STRENGTH = 0.3


def roles(method) -> list[str]:
    """The roles ``method`` offers, its augmentation role first (the default of ``predict``)."""
    first = method.roles.augment
    rest = [r.value for r in Role if r in method.roles.offered and r is not first]
    return [first.value, *rest] if first is not None else rest


def metadata(method, train_digest: str | None = None) -> dict[str, Any]:
    """What the ``MLmodel`` file says about the generator.

    Args:
        method: The generator.
        train_digest: Digest of the hashes of its training images (provenance), if recorded.
    """
    spec = method.spec
    return {
        "augplat_method": method.name,
        "trainable": bool(method.trainable),
        "roles": roles(method),
        "roles_by_use": {
            "augment": _value(method.roles.augment),
            "expand": _value(method.roles.expand),
            "test_time": _value(method.roles.test_time),
            "quality": [r.value for r in method.roles.quality],
        },
        "condition_semantics": method.condition_semantics,
        "image_shape": [spec.channels, spec.size, spec.size],
        "value_range": [0.0, 1.0],
        "training_data": {
            "datasets": dict(spec.datasets),
            "train_hashes_digest": train_digest,
        },
    }


def _value(role) -> str | None:
    return role.value if role is not None else None


def signature(method) -> dict[str, Any]:
    """The pyfunc's inputs, output and params, as plain values for the tracking layer."""
    c, s = method.spec.channels, method.spec.size
    shape = (-1, c, s, s) if method.trainable else (-1, -1, -1, -1)  # translators: any size
    return {
        "inputs": {"images": ("float32", shape), "labels": ("int64", (-1,))},
        "outputs": ("float32", shape),
        "params": {
            "role": ("string", roles(method)[0]),
            "strength": ("double", DEFAULT_STRENGTH),
            "seed": ("long", 0),
        },
    }


def log_model(logger, method, directory: str | Path, train_digest: str | None = None) -> bool:
    """Log the saved generator in ``directory`` as the run's MLflow model (once per run).

    Returns:
        Whether it was logged now (False: the run already had it, e.g. a resumed run).
    """
    from augplat.tracking import models

    return models.log_code_model(
        logger,
        name=MODEL_NAME,
        code=MODEL_CODE,
        artifacts={ARTIFACT: directory},
        signature=signature(method),
        metadata=metadata(method, train_digest),
        settings={"run_id": logger.run_id},
    )


def register(ref: str, name: str, alias: str | None = None, tracking_uri: str | None = None):
    """Register GAN run ``ref``'s generator model as ``name`` (and point ``alias`` at it).

    Returns:
        ``(run id, version)``.

    Raises:
        UserError: Bad name or alias, unknown run, not a GAN run, or no generator model.
    """
    from augplat import tracking
    from augplat.generators.lookup import find_run
    from augplat.tracking import models
    from augplat.tracking import tags as tag

    models.check_name(name)
    if alias is not None:
        models.check_alias(alias)
    store = tracking.connect(tracking_uri)
    run = find_run(store, ref)
    run_id = run.info.run_id
    if run.data.tags.get(tag.KIND) != tag.KIND_GAN:
        raise UserError(f"run {run_id} is not a GAN run")
    if models.ready_model(store, run_id, MODEL_NAME) is None:
        raise UserError(
            f"run {run_id} has no generator model (unfinished, or trained before generators "
            "were logged as MLflow models)"
        )
    return run_id, models.register(store, run_id, MODEL_NAME, name, alias)


# ------------------------------------------------------------ inside the pyfunc model ----


def load(directory: str | Path, settings: str | Path | None = None, config=None):
    """The generator of a logged model (its ``load_context``), with its provenance.

    Args:
        directory: The model's copy of the saved generator.
        settings: The model's ``settings.json`` (the source run id), if any.
        config: ``model_config`` given to ``mlflow.pyfunc.load_model``: ``device`` (default
            cpu; ``auto`` picks CUDA when available).
    """
    import json

    from augplat.generators import provenance
    from augplat.generators.registry import load_saved
    from augplat.runtime.device import resolve_device

    logged = json.loads(Path(settings).read_text(encoding="utf-8")) if settings else {}
    method = load_saved(directory, resolve_device((config or {}).get("device", "cpu")))
    method.provenance = provenance.read(directory, logged.get("run_id", ""), method)
    return method


def predict(method, inputs, params: dict[str, Any] | None = None) -> np.ndarray:
    """Serve one role (the only place a pyfunc call becomes a generator call).

    Args:
        method: A loaded generator.
        inputs: ``{"images": N×C×H×W, "labels": (N,)}`` arrays.
        params: ``role`` (default: the first declared), ``strength``, ``seed``.
    """
    import torch

    params = params or {}
    role = params.get("role") or roles(method)[0]
    if role not in roles(method):
        can = ", ".join(roles(method))
        raise UserError(f"this {method.name} generator serves {can}, not role {role!r}")
    images = torch.as_tensor(np.asarray(inputs["images"], dtype=np.float32))
    labels = torch.as_tensor(np.asarray(inputs["labels"], dtype=np.int64)).flatten()
    if Role(role).needs_label and not len(labels):
        raise UserError(f"role {role!r} needs labels (one per image to make)")
    strength = params.get("strength")
    out = method.make(
        Role(role),
        None if role == Role.SAMPLE else images,  # a sample starts from noise
        labels if len(labels) else None,
        strength=DEFAULT_STRENGTH if strength is None else float(strength),
        generator=torch.Generator().manual_seed(int(params.get("seed") or 0)),
    )
    return out.float().cpu().numpy()
