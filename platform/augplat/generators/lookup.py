"""Where trained generators are found: by run id or name, by ``models:/`` URI, by fingerprint.

* :func:`find_run` — the one place a generator reference is resolved (run id, run name,
  ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``).
* :func:`load_generator` — a run's generator from its ``generator/`` artifact, cached locally.
* :func:`find_finished_run` — a finished run that learned the same thing (reuse, not retrain).
"""

from __future__ import annotations

import os

from augplat.generators.registry import load_saved, method_class
from augplat.tracking import tags as tag


def find_run(store, ref: str):
    """The run with id ``ref``, else the newest GAN run named ``ref`` (``augplat.gan_name``).

    The one place a generator reference is resolved.

    Args:
        store: The tracking store (:func:`augplat.tracking.connect`).
        ref: A run id, an imported generator's name, or a registered generator model:
            ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` stands for the run that logged it.
    """
    from augplat.errors import UserError
    from augplat.tracking import models

    if models.is_model_uri(ref):
        ref = models.source_run(store, ref)
    run = store.get_run(ref)
    if run is not None:
        return run
    named = store.find_runs(kind=tag.KIND_GAN, tags={tag.GAN_NAME: ref}, limit=1)
    if not named:
        raise UserError(f"no GAN run with id or name '{ref}' in the tracking store")
    return named[0]


def load_generator(run_id: str, tracking_uri: str | None = None, device="cpu"):
    """The generator of a GAN run (trained or imported), ready to generate.

    The run's ``generator/`` artifact (``gan.json`` + weights) names the method, config and
    condition semantics; it is downloaded once into ``<home>/runs/<run-id>/generator``.

    Args:
        run_id: MLflow run id (or the ``--name`` of an imported generator).
        tracking_uri: MLflow URI; default ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``.
        device: Where the networks go.

    Raises:
        UserError: Unknown run, not a GAN run, or a run without a generator (unfinished).
    """
    from augplat import tracking
    from augplat.errors import UserError
    from augplat.generators.base import META_FILE
    from augplat.runtime.home import runs_dir

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no tqdm in CLIs
    store = tracking.connect(tracking_uri)
    run = find_run(store, run_id)
    run_id = run.info.run_id
    kind = run.data.tags.get(tag.KIND)
    if kind != tag.KIND_GAN:
        raise UserError(f"run {run_id} is not a GAN run (augplat.kind={kind})")
    local = runs_dir() / run_id / "generator"
    if not (local / META_FILE).is_file():
        _download_generator(store, run_id, local)
    from augplat.generators import provenance

    method = load_saved(local, device)
    method.provenance = provenance.read(local, run_id, method)  # what it learned from
    return method


def _download_generator(store, run_id: str, local) -> None:
    """The run's ``generator/`` artifact into ``local`` (atomically: all of it or nothing)."""
    from augplat.errors import UserError
    from augplat.runtime.fsutil import atomic_dir

    with atomic_dir(local, overwrite=True) as tmp:
        if store.download(run_id, "generator", tmp) is None:
            raise UserError(
                f"run {run_id} has no generator artifact yet (unfinished? continue it with "
                f"`augplat gan train --resume {run_id}`)"
            )
        for item in (tmp / "generator").iterdir():
            item.rename(tmp / item.name)
        (tmp / "generator").rmdir()


def find_finished_run(cfg, tracking_uri: str | None = None) -> str | None:
    """Id of the newest finished, complete GAN run that learned what ``cfg`` describes.

    Matches on the fingerprint tag: method, every non-runtime config value (method defaults
    filled in) and the digests of the data, so a renamed copy of a dataset still matches.
    """
    from augplat import tracking
    from augplat.data import load_dataset
    from augplat.generators.config import fingerprint, resolve_defaults

    cls = method_class(cfg.method)
    cfg = resolve_defaults(cfg.model_copy(update={"method": cls.name}), cls.defaults)
    digests = {"a": load_dataset(cfg.data).digest}
    if cls.needs_domain_b:
        digests["b"] = load_dataset(cfg.data_b or cfg.data).digest
    wanted = {tag.GAN_FINGERPRINT: fingerprint(cfg, digests), tag.GAN_COMPLETE: "true"}
    runs = tracking.connect(tracking_uri).find_runs(tags=wanted, status="FINISHED")
    # Only a run that recorded its training images can be checked where it is used.
    runs = [r for r in runs if r.data.tags.get(tag.TRAIN_HASHES_DIGEST)]
    return runs[0].info.run_id if runs else None
