"""Dataset expansion: a generator (or classic augmentation) grows a dataset's train split.

How to run::

    augplat expand --generator <stargan-run> --data fer --balance          # seed 001, balanced
    augplat expand --generator <cgan-run> --data icecream --per-class 1000 # seed 004
    augplat expand --classic --policy albumentations --balance --multiplier 2 --data affect  # 003

The result is a new prepared dataset (default name ``<data>-expanded``): the source's images,
labels and splits unchanged and in order, followed by the synthetic train images. Val and test
are never touched, so a classifier trained on the expansion is judged on the same images.
Next to the arrays, ``synthetic.npy`` flags every synthetic image and ``synthetic_source.npy``
names the source image it was made from (-1 for real images and noise samples); the manifest's
``source`` holds the lineage (generator run, source digest, seed, mode, counts). The step is
also one MLflow run (``augplat.kind=expand``) with before/after distributions and a sample grid.

How synthetic images are made (:func:`strategy_for`):

* ``translate-other`` — class-code translators (StarGAN): real train images of OTHER classes
  moved to the target class, as seed 001 expanded FER2013 with EmotionGAN;
* ``generate`` — noise generators (cGAN): new samples of the target class (seed 004);
* ``style`` — domain translators (CycleGAN, imported CartoonGAN): style copies of real train
  images of the same class (seed 000), deterministic, so a class grown past twice its size
  repeats copies;
* ``classic`` — classic-augmented copies of real train images of the same class (seed 003).

Sources are drawn per class from a seeded permutation (every image once before any twice);
generation noise comes from a CPU generator seeded the same way, so a seed repeats the dataset.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from augplat.data.dataset import ImageDataset
from augplat.errors import ConfigError, DataError

log = logging.getLogger("augplat")

SYNTHETIC_FILE = "synthetic.npy"
ORIGIN_FILE = "synthetic_source.npy"
GRID_PER_CLASS, GRID_MAX_CLASSES = 8, 10


class ExpandConfig(BaseModel):
    """One dataset expansion: source, how to synthesise, how many, where to.

    Either ``generator`` (a GAN run) or ``classic``; either ``per_class`` or ``balance``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data: str | None = Field(None, description="source dataset (default: the generator's)")
    generator: str | None = Field(None, description="GAN run id or imported generator name")
    classic: bool = Field(False, description="classic-augmented copies instead of a GAN")
    policy: str | None = Field(None, description="classic policy name or YAML [default]")
    strength: float | None = Field(None, ge=0, description="classic strength [1.0]")
    per_class: int | None = Field(None, ge=1, description="add exactly N images to every class")
    balance: bool = Field(False, description="fill every class up to max count × multiplier")
    multiplier: float | None = Field(None, ge=1, description="balance target factor [1.0]")
    name: str | None = Field(None, description="output dataset name [<data>-expanded]")
    seed: int = 0
    allow_foreign_generator: bool = Field(
        False,
        description="use a generator trained on images outside the dataset's train split "
        "(never on its val/test images); the expansion records it",
    )
    batch_size: int = Field(256, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    experiment: str = "augplat"
    run_name: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        from augplat.data.store import NAME_PATTERN

        if value is not None and not NAME_PATTERN.fullmatch(value):
            raise ValueError(f"invalid dataset name {value!r}: use letters, digits, '-', '_', '.'")
        return value

    @model_validator(mode="after")
    def _check_choices(self) -> ExpandConfig:
        if bool(self.generator) == self.classic:
            raise ValueError("pass either --generator RUN_ID or --classic (exactly one)")
        if (self.per_class is not None) == self.balance:
            raise ValueError("pass either --per-class N or --balance (exactly one)")
        if self.multiplier is not None and not self.balance:
            raise ValueError("--multiplier only applies with --balance")
        if not self.classic and (self.policy is not None or self.strength is not None):
            raise ValueError("--policy and --strength only apply with --classic")
        if self.classic and not self.data:
            raise ValueError("--classic needs --data NAME")
        return self

    @property
    def mode(self) -> str:
        """``per-class`` or ``balance``."""
        return "balance" if self.balance else "per-class"


@dataclass
class ExpandResult:
    """What an expansion produced (everything is also in the manifest and the MLflow run)."""

    dataset: Any
    path: Path
    run_id: str
    strategy: str
    before: dict[str, int]
    added: dict[str, int]


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
    """``translate-other``, ``generate`` or ``style`` for a loaded generator."""
    kind, caps = gan.condition_semantics.get("kind"), gan.capabilities
    if kind == "class-code" and "translate" in caps:
        return "translate-other"
    if "generate" in caps:
        return "generate"
    if kind == "domain" and "translate" in caps:
        return "style"
    raise ConfigError(
        f"GAN method '{gan.name}' ({kind}) cannot expand a dataset: it can "
        f"{', '.join(sorted(caps))}"
    )


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
        if strategy == "generate":
            sources.append(np.full(n, -1, dtype=np.int64))
            continue
        other = strategy == "translate-other"
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

    ``engine`` is the loaded generator (or a :class:`ClassicAugment` for ``classic``);
    ``sources`` index ``images`` (the train images; -1 for ``generate``).
    """
    import torch

    from augplat.augment.generative import to_uint8

    gen = torch.Generator().manual_seed(cfg.seed)
    bs = cfg.batch_size
    out = np.empty((len(targets), *images.shape[1:]), dtype=np.uint8)
    for start in range(0, len(targets), bs):
        t = torch.from_numpy(targets[start : start + bs])
        if strategy == "generate":
            y = engine.generate(len(t), t, generator=gen, batch_size=bs)
        else:
            src = np.ascontiguousarray(images[sources[start : start + bs]])
            x = torch.from_numpy(src).to(device).float().div_(255.0)
            if strategy == "translate-other":
                y = engine.translate(x, t, generator=gen, batch_size=bs)
            elif strategy == "style":
                y = engine.translate(x, generator=gen, batch_size=bs)
            else:
                y = engine(x, gen)
        out[start : start + len(t)] = to_uint8(y).cpu().numpy()
    return out


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


# ----------------------------------------------------------------------- the step ----


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

    tracking.check_reachable(tracking.resolve_tracking_uri(tracking_uri))
    device = resolve_device(cfg.device)
    p = plan(cfg, device, tracking_uri)
    started = time.perf_counter()
    train_images = p.src.arrays("train")[0]
    synthetic = synthesize(p.engine, p.strategy, train_images, p.targets, p.sources, cfg, device)
    secs = time.perf_counter() - started
    ds, flags, origins = _assemble(p, synthetic)
    tags = {
        "augplat.kind": "expand",
        "augplat.dataset": ds.name,
        "augplat.dataset_digest": ds.digest,
        "augplat.source_dataset": p.src.name,
        "augplat.source_digest": p.src.digest,
        "augplat.expand_mode": cfg.mode,
        "augplat.expand_strategy": p.strategy,
        "augplat.generator": p.generator_run or "none",
        "augplat.gan_method": p.engine.name if p.generator_run else "classic",
        **(p.verdict.tags() if p.verdict is not None else {}),
    }
    target_dir = dataset_dir(ds.name)
    existed = target_dir.exists()
    if existed:
        log.info("replacing the existing dataset '%s'", ds.name)
    logger = tracking.start_run(cfg.experiment, cfg.run_name, tags=tags, tracking_uri=tracking_uri)
    try:
        with logger.closing():
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
