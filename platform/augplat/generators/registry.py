"""Where generators are found: methods by name, trained (or imported) generators by run id.

* :data:`GAN_METHODS` — ``@GAN_METHODS.register("name")`` on a :class:`GanMethod` subclass.
  Built-in methods live in their own modules; :func:`method_class` imports them on first use so
  the registry is complete whichever module a caller imported first.
* :func:`load_generator` — a run's generator from its ``generator/`` artifact (used by
  ``gan sample``/``gan eval`` and by later steps: dataset expansion, online GAN augmentation).
* :func:`find_finished_run` — reuse a finished run that learned the same thing.
* :func:`sample_grid` — ``augplat gan sample``.
"""

from __future__ import annotations

import importlib
import os

from augplat.runtime.registry import Registry
from augplat.tracking import tags as tag

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


def sample_grid(
    run: str,
    *,
    n: int = 8,
    out=None,
    data: str | None = None,
    strength: float | None = None,
    seed: int = 0,
    device: str = "auto",
    tracking_uri: str | None = None,
):
    """Write a PNG grid of a run's generator: its preview, or variations with ``strength``.

    Source images come from the run's dataset (or ``data``, required for imported translators);
    with ``strength`` each row is a source image followed by 4 variations of it.

    Returns:
        The written path (default ``samples_<run-id>.png`` in the working directory).
    """
    from pathlib import Path

    import torch

    from augplat.errors import ConfigError
    from augplat.generators.config import prepare_data
    from augplat.runtime import plots
    from augplat.runtime.device import resolve_device

    dev = resolve_device(device)
    method = load_generator(run, tracking_uri, dev)
    gen = torch.Generator().manual_seed(seed)
    if not method.trainable and not data:
        raise ConfigError("--data is required to sample an imported translator")
    cfg = method.cfg.model_copy(update={"data": data or method.cfg.data})
    images, labels, images_b = prepare_data(cfg, type(method), dev).fixed_inputs(n, seed)
    if strength is not None:
        rows = [method.variations(images, labels, strength, generator=gen) for _ in range(4)]
        grid, nrow = torch.stack([images, *rows], dim=1).flatten(0, 1), 5
    else:
        grid, nrow = method.preview(images, labels, images_b, gen, columns=n)
    stem = method.provenance.run_id if run.startswith("models:/") else run  # no '/' in names
    path = Path(out) if out else Path(f"samples_{stem}.png")
    plots.image_grid((grid.float() * 255).round().to(torch.uint8).cpu().numpy(), path, nrow=nrow)
    return path


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
