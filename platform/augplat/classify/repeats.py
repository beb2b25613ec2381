"""``--seeds K`` / ``--folds K``: the same training K times (seeds ``seed, seed+1, ...``, or
folds ``0..K-1`` of a dataset prepared with ``--folds K``), as one group.

How to use::

    results = train_seeds(cfg, k=5)          # five MLflow runs tagged with one seed group
    results = train_folds(cfg, k=10)         # ten runs, one per fold, tagged with one fold group
    summary = summarize(results)             # {"test_top1": (mean, std), ...}

Fold runs carry the param ``fold`` (the run's ``TrainConfig.fold``) and the tags
``augplat.fold`` (same value), ``augplat.fold_group`` (shared by the K runs) and
``augplat.fold_index``; with ``seeds`` > 1 every seed runs every fold (seed-major), and the
runs also carry the seed tags.

Every run carries ``augplat.seed_group`` (shared by the K runs) and ``augplat.seed_index``;
``augplat compare`` pairs runs of different strategies by their ``seed`` param, so repeats of
two strategies with the same base seed give a paired significance test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from augplat.tracking import tags as tag

SUMMARY_KEYS = ("test_top1", "test_top2", "test_top5", "test_macro_f1", "test_loss",
                "test_tta_top1", "test_tta_macro_f1")  # fmt: skip


def train_seeds(
    cfg,
    k: int,
    *,
    tracking_uri: str | None = None,
    reporter_factory: Callable[[], Any] | None = None,
    on_result: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Train ``cfg`` ``k`` times with consecutive seeds; returns the ``TrainResult`` list."""
    from augplat.errors import ConfigError

    if k < 1:
        raise ConfigError(f"--seeds must be >= 1, got {k}")
    group = uuid.uuid4().hex[:12]
    jobs = []
    for index in range(k):
        seed = cfg.seed + index
        name = f"{cfg.run_name}-seed{seed}" if cfg.run_name else None
        run_cfg = cfg.model_copy(update={"seed": seed, "run_name": name})
        tags = {tag.SEED_GROUP: group, tag.SEED_INDEX: str(index)}
        jobs.append((run_cfg, tags))
    return _train_each(jobs, tracking_uri, reporter_factory, on_result)


def train_folds(
    cfg,
    k: int,
    *,
    seeds: int = 1,
    tracking_uri: str | None = None,
    reporter_factory: Callable[[], Any] | None = None,
    on_result: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Train ``cfg`` on every fold ``0..k-1`` (times ``seeds`` seeds); ``TrainResult`` list."""
    from augplat.data.store import read_manifest
    from augplat.errors import ConfigError

    prepared = int(read_manifest(cfg.data).get("folds", 0))
    if k != prepared:
        have = f"{prepared} folds" if prepared else "no folds (prepare it with --folds K)"
        raise ConfigError(f"--folds {k}: dataset '{cfg.data}' has {have}")
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    group = uuid.uuid4().hex[:12]
    jobs = []
    for seed_index in range(seeds):
        seed = cfg.seed + seed_index
        for fold in range(k):
            suffix = f"-seed{seed}" if seeds > 1 else ""
            name = f"{cfg.run_name}{suffix}-fold{fold}" if cfg.run_name else None
            run_cfg = cfg.model_copy(update={"seed": seed, "fold": fold, "run_name": name})
            tags = {tag.FOLD_GROUP: group, tag.FOLD_INDEX: str(fold)}
            if seeds > 1:
                tags.update({tag.SEED_GROUP: group, tag.SEED_INDEX: str(seed_index)})
            jobs.append((run_cfg, tags))
    return _train_each(jobs, tracking_uri, reporter_factory, on_result)


def _train_each(jobs, tracking_uri, reporter_factory, on_result) -> list[Any]:
    """Train every ``(config, tags)`` job in order; the results, each passed to ``on_result``."""
    from augplat.classify.finetune import train_classifier

    results = []
    for run_cfg, tags in jobs:
        result = train_classifier(
            run_cfg,
            tracking_uri=tracking_uri,
            reporter=reporter_factory() if reporter_factory else None,
            tags=tags,
        )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def summarize(results: list[Any]) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation (0 for one run) of each test metric present."""
    summary = {}
    for key in SUMMARY_KEYS:
        values = np.array([r.test[key] for r in results if key in r.test], dtype=float)
        if len(values):
            std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            summary[key] = (float(values.mean()), std)
    return summary
