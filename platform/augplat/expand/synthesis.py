"""How synthetic images are planned and made: counts per class, sources, the generator's role.

The generator's expand role (``gan.roles.expand``) decides everything about a generator
expansion: its strategy name (:data:`STRATEGIES`), which real images it starts from
(:data:`SOURCES`) and the call that makes them (``gan.expand_batch``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from augplat.data.dataset import ImageDataset
from augplat.errors import ConfigError, DataError
from augplat.expand.config import ExpandConfig

# Expand role (a generators.roles.Role value) -> strategy name recorded in the lineage and tags.
STRATEGIES = {
    "translation": "translate-other",
    "sample": "generate",
    "style": "style",
    "variation": "variation",
}
# Which real image a synthetic one starts from, by strategy: another class, the same, or none
# (the generator's Role.source; classic copies start from their own class).
SOURCES = {"translate-other": "other", "generate": None, "style": "same", "variation": "same"}
SOURCES["classic"] = "same"


def plan_additions(
    counts: np.ndarray, per_class: int | None, multiplier: float | None
) -> tuple[np.ndarray, int | None]:
    """Synthetic images to add per class, and the balance target (None for ``per_class``).

    ``balance`` fills every class up to ``ceil(max(counts) × multiplier)``; a multiplier above
    1 grows the largest class too (seed 003's global multiplier).
    """
    counts = np.asarray(counts, dtype=np.int64)
    if per_class is not None:
        return np.full(len(counts), per_class, dtype=np.int64), None
    target = math.ceil(int(counts.max(initial=0)) * (multiplier or 1.0) - 1e-9)
    return np.maximum(target - counts, 0), target


def strategy_for(gan) -> str:
    """The strategy name of a loaded generator's expand role (see :data:`STRATEGIES`)."""
    role = gan.roles.expand
    if role is None:
        offers = ", ".join(sorted(gan.roles.offered)) or "nothing"
        raise ConfigError(f"GAN method '{gan.name}' cannot expand a dataset: it offers {offers}")
    return STRATEGIES[role]


def choose_sources(
    labels: np.ndarray, add: np.ndarray, strategy: str, classes: list[str], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Target label and source train position (-1: none) of every synthetic image, by class.

    Raises:
        DataError: A class must grow but has no image to start from.
    """
    rng = np.random.default_rng(seed)
    targets, sources = [], []
    for k, n in enumerate(add.tolist()):
        if n == 0:
            continue
        targets.append(np.full(n, k, dtype=np.int64))
        if SOURCES[strategy] is None:
            sources.append(np.full(n, -1, dtype=np.int64))
            continue
        other = SOURCES[strategy] == "other"
        pool = np.flatnonzero(labels != k if other else labels == k)
        if len(pool) == 0:
            where = "in other classes" if other else f"of class '{classes[k]}'"
            raise DataError(f"cannot add images to class '{classes[k]}': no train images {where}")
        order = rng.permutation(pool)
        sources.append(order[np.arange(n) % len(order)])
    if not targets:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(targets), np.concatenate(sources)


def synthesize(engine, strategy: str, images: np.ndarray, targets, sources, cfg, device):
    """uint8 synthetic images, one per target, made in chunks of ``cfg.batch_size``.

    ``engine`` is the loaded generator, which plays its expand role (or a
    :class:`ClassicAugment` for ``classic``); ``sources`` index ``images`` (the train images;
    -1 where a role starts from no image).
    """
    import torch

    from augplat.augment.generative import to_uint8

    gen = torch.Generator().manual_seed(cfg.seed)
    bs = cfg.batch_size
    out = np.empty((len(targets), *images.shape[1:]), dtype=np.uint8)
    for start in range(0, len(targets), bs):
        t = torch.from_numpy(targets[start : start + bs])
        x = None
        if SOURCES[strategy] is not None:
            src = np.ascontiguousarray(images[sources[start : start + bs]])
            x = torch.from_numpy(src).to(device).float().div_(255.0)
        if strategy == "classic":
            y = engine(x, gen)
        else:
            y = engine.expand_batch(x, t, generator=gen, batch_size=bs)
        out[start : start + len(t)] = to_uint8(y).cpu().numpy()
    return out


@dataclass
class ExpansionPlan:
    """Everything decided before any image is made or any run exists."""

    src: Any
    src_dir: Path
    engine: Any  # the generator, or a ClassicAugment
    strategy: str
    generator_run: str | None
    out_name: str
    add: np.ndarray  # per class
    target: int | None
    targets: np.ndarray  # per synthetic image
    sources: np.ndarray  # per synthetic image: train position, -1 for none
    verdict: Any = None  # the generator's provenance check (None for --classic)


def _engine(cfg: ExpandConfig, device, tracking_uri):
    """The loaded generator and its run id, or a classic augmenter and None."""
    if cfg.classic:
        from augplat.augment import ClassicAugment

        strength = 1.0 if cfg.strength is None else cfg.strength
        return ClassicAugment(cfg.policy or "default", strength), None
    from augplat.augment.generative import load_generator_run

    return load_generator_run(cfg.generator, device, tracking_uri)


def plan(cfg: ExpandConfig, device, tracking_uri: str | None = None) -> ExpansionPlan:
    """Check everything a user can get wrong; nothing is written here."""
    from augplat.augment.generative import check_generator
    from augplat.data.store import check_name, dataset_dir, resolve_dataset

    if cfg.data:  # an unknown dataset fails before a generator is fetched
        resolve_dataset(cfg.data)
    engine, run_id = _engine(cfg, device, tracking_uri)
    name = cfg.data or engine.spec.datasets.get("a", {}).get("name")  # the generator's data
    if not name:
        raise ConfigError(f"generator {run_id} names no training dataset: pass --data NAME")
    src_dir = resolve_dataset(name).resolve()
    src = ImageDataset.load(src_dir)
    verdict = None
    if run_id is not None:
        from augplat.generators.provenance import check_generator_use

        check_generator(engine, src, run_id)
        verdict = check_generator_use(engine, src, allow_foreign=cfg.allow_foreign_generator)
    elif not src.hflip:  # the dataset says a mirror changes the label (digits)
        engine.ops.pop("hflip", None)
    strategy = strategy_for(engine) if run_id is not None else "classic"
    out_name = check_name(cfg.name or f"{src.name}-expanded")
    if dataset_dir(out_name).resolve() == src_dir:
        raise ConfigError(f"--name {out_name} is the source dataset: pick another name")
    train_labels = src.arrays("train")[1]
    if len(train_labels) == 0:
        raise DataError(f"dataset '{src.name}' has no train images to expand")
    counts = np.bincount(train_labels, minlength=src.num_classes)
    add, target = plan_additions(counts, cfg.per_class, cfg.multiplier)
    targets, sources = choose_sources(train_labels, add, strategy, src.classes, cfg.seed)
    return ExpansionPlan(
        src, src_dir, engine, strategy, run_id, out_name, add, target, targets, sources, verdict
    )
