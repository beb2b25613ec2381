"""The expansion step: save the expanded dataset with its lineage and track it as one run."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from augplat.data.dataset import ImageDataset
from augplat.expand.config import ORIGIN_FILE, SYNTHETIC_FILE, ExpandConfig, ExpandResult
from augplat.expand.synthesis import ExpansionPlan, plan, synthesize

log = logging.getLogger("augplat")

GRID_PER_CLASS, GRID_MAX_CLASSES = 8, 10


def load_synthetic_flags(name_or_path) -> np.ndarray:
    """Per-image synthetic flags of a prepared dataset (all False when it is not an expansion)."""
    from augplat.data.dataset import MANIFEST
    from augplat.data.store import resolve_dataset

    directory = resolve_dataset(name_or_path)
    if (directory / SYNTHETIC_FILE).is_file():
        return np.load(directory / SYNTHETIC_FILE, allow_pickle=False)
    import json

    n = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))["num_images"]
    return np.zeros(n, dtype=bool)


def _assemble(p: ExpansionPlan, synthetic: np.ndarray):
    """The expanded dataset plus its flag and origin arrays (real images first, in order)."""
    src, n_syn = p.src, len(synthetic)
    train_index = src.indices("train")
    origin = np.where(p.sources >= 0, train_index[np.maximum(p.sources, 0)], -1)
    ds = ImageDataset(
        np.concatenate([src.images, synthetic]),
        np.concatenate([src.labels, p.targets]),
        np.concatenate([src.split, np.zeros(n_syn, dtype=np.int8)]),
        src.classes,
        name=p.out_name,
        hflip=src.hflip,
    )
    flags = np.concatenate([np.zeros(len(src.images), bool), np.ones(n_syn, bool)])
    origins = np.concatenate([np.full(len(src.images), -1, np.int64), origin.astype(np.int64)])
    return ds, flags, origins


def _lineage(cfg: ExpandConfig, p: ExpansionPlan, run_id: str) -> dict[str, Any]:
    per_class = {c: int(n) for c, n in zip(p.src.classes, p.add, strict=True)}
    lineage: dict[str, Any] = {
        "reader": "expand",
        "generator_run": p.generator_run,
        "gan_method": p.engine.name if p.generator_run else None,
        "strategy": p.strategy,
        "source_dataset": p.src.name,
        "source_digest": p.src.digest,
        "seed": cfg.seed,
        "mode": cfg.mode,
        "per_class": cfg.per_class,
        "multiplier": (cfg.multiplier or 1.0) if cfg.balance else None,
        "target_per_class": p.target,
        "synthetic": {"total": int(p.add.sum()), "per_class": per_class, "file": SYNTHETIC_FILE},
        "expand_run": run_id,
    }
    if cfg.classic:
        lineage["policy"] = p.engine.name
        lineage["strength"] = p.engine.strength
    if p.verdict is not None:
        lineage.update(p.verdict.lineage())
    return lineage


def _save(ds, flags: np.ndarray, origins: np.ndarray) -> Path:
    """Atomic save like :func:`augplat.data.store.save_dataset`, plus the flag arrays."""
    from augplat.data.store import DISTRIBUTION_PLOT, dataset_dir
    from augplat.runtime.plots import class_distribution

    def extra(tmp: Path) -> None:
        np.save(tmp / SYNTHETIC_FILE, flags, allow_pickle=False)
        np.save(tmp / ORIGIN_FILE, origins, allow_pickle=False)
        title = f"{ds.name}: images per class and split"
        class_distribution(ds.counts(), tmp / DISTRIBUTION_PLOT, title)

    return ds.save(dataset_dir(ds.name), overwrite=True, extra_files=extra)


def _log_run(logger, cfg: ExpandConfig, p: ExpansionPlan, ds, synthetic, directory, secs) -> None:
    from augplat.runtime import plots
    from augplat.runtime.settings import to_yaml
    from augplat.tracking import scratch_dir

    src = p.src
    n_train_before = len(src.indices("train"))
    logger.log_params(
        {
            **cfg.model_dump(mode="json"),
            **{k: v for k, v in ds.source.items() if k not in ("synthetic", "expand_run")},
            "output_dataset": ds.name,
            "num_synthetic": len(synthetic),
        }
    )
    logger.log_text(to_yaml(cfg), "config.yaml")
    logger.log_dataset(src.name, src.digest, str(p.src_dir), context="source")
    logger.log_dataset(ds.name, ds.digest, str(directory.resolve()), context="expansion")
    logger.log_metrics(
        {
            "num_synthetic": len(synthetic),
            "num_train_before": n_train_before,
            "num_train_after": n_train_before + len(synthetic),
            "synthesis_time_s": secs,
            # A synthetic image that is a near-copy of a val/test image is leakage.
            "synthetic_near_val_test": _near_val_test(src, synthetic),
        }
    )
    with scratch_dir() as out:
        plots.class_distribution(src.counts(), out / "distribution_before.png", f"{src.name}")
        plots.class_distribution(ds.counts(), out / "distribution_after.png", f"{ds.name}")
        if len(synthetic):
            pick, titles = _grid_pick(p.targets, src.classes)
            plots.image_grid(synthetic[pick], out / "synthetic_samples.png", GRID_PER_CLASS, titles)
        logger.log_artifact(out, "expansion")
    logger.log_artifact(directory / "manifest.json", "data")


def _near_val_test(src, synthetic: np.ndarray) -> int:
    """Synthetic images within the near-duplicate threshold of a val or test image."""
    from augplat.data.duplicates import near_copies

    held_out = src.images[np.flatnonzero(src.split != 0)]
    return near_copies(synthetic, held_out)


def _grid_pick(targets: np.ndarray, classes: list[str]) -> tuple[np.ndarray, list[str]]:
    """Up to 8 synthetic images of each of the first 10 classes that got any, titled by class."""
    pick: list[int] = []
    for k in np.unique(targets)[:GRID_MAX_CLASSES]:
        pick.extend(np.flatnonzero(targets == k)[:GRID_PER_CLASS].tolist())
    return np.array(pick, dtype=np.int64), [classes[targets[i]] for i in pick]


def expand_dataset(cfg: ExpandConfig, *, tracking_uri: str | None = None) -> ExpandResult:
    """Grow the train split of ``cfg.data`` with synthetic images; save and track the result.

    Every user error (unknown dataset or run, a generator that does not fit the data, an
    impossible plan) is raised before any image is made, any run exists or anything is saved.

    Args:
        cfg: The expansion.
        tracking_uri: MLflow URI; default ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``.
    """
    from augplat import tracking
    from augplat.data.store import dataset_dir
    from augplat.runtime.device import resolve_device
    from augplat.tracking import tags as tag

    tracking.check_reachable(tracking.resolve_tracking_uri(tracking_uri))
    device = resolve_device(cfg.device)
    p = plan(cfg, device, tracking_uri)
    started = time.perf_counter()
    train_images = p.src.arrays("train")[0]
    synthetic = synthesize(p.engine, p.strategy, train_images, p.targets, p.sources, cfg, device)
    secs = time.perf_counter() - started
    ds, flags, origins = _assemble(p, synthetic)
    tags = {
        tag.KIND: tag.KIND_EXPAND,
        tag.DATASET: ds.name,
        tag.DATASET_DIGEST: ds.digest,
        tag.SOURCE_DATASET: p.src.name,
        tag.SOURCE_DIGEST: p.src.digest,
        tag.EXPAND_MODE: cfg.mode,
        tag.EXPAND_STRATEGY: p.strategy,
        tag.GENERATOR: p.generator_run or "none",
        tag.GAN_METHOD: p.engine.name if p.generator_run else "classic",
        **(p.verdict.tags() if p.verdict is not None else {}),
    }
    target_dir = dataset_dir(ds.name)
    existed = target_dir.exists()
    if existed:
        log.info("replacing the existing dataset '%s'", ds.name)
    try:
        with tracking.open_run(
            cfg.experiment, cfg.run_name, tags=tags, tracking_uri=tracking_uri
        ) as logger:
            ds.source = _lineage(cfg, p, logger.run_id)
            directory = _save(ds, flags, origins)
            _log_run(logger, cfg, p, ds, synthetic, directory, secs)
    except BaseException:
        if not existed:
            shutil.rmtree(target_dir, ignore_errors=True)
        raise
    added = {c: int(n) for c, n in zip(p.src.classes, p.add, strict=True)}
    before = p.src.counts()["train"]
    return ExpandResult(ds, directory, logger.run_id, p.strategy, before, added)
