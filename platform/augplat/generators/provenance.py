"""Which images a generator learned from, and the one rule for where it may be used.

A GAN run records, next to its generator (the ``generator/`` artifact), a content hash of every
image it trained on: ``train_hashes.npy`` (``N×16`` uint8, BLAKE2b-128 of each image's uint8
bytes as the GAN saw them, i.e. after ``--classes`` selection and ``--size``/``--channels``
conversion; sorted, unique) and ``provenance.json`` (dataset name and digest, image shape, count,
the digest of the hashes, which is also the run's ``augplat.train_hashes_digest`` tag). A
CycleGAN's domain B is recorded the same way (``train_hashes_b.npy``) and not checked: a style
domain is external by design.

Wherever a generator meets a dataset (``augplat train`` with a generator, ``augplat expand``, a
study's generator, ``augplat gan eval --data``, the steps of a pipeline) :func:`check` applies
one rule, before any run exists:

* **no val or test image of the dataset may be among the generator's training images** (an image
  that the dataset also holds in its train split is no leak: the classifier trains on it anyway).
  This is never allowed;
* by default, the generator's training images must all be in the dataset's **train split**
  (the same data, or a superset of it: a generator trained on 20 % of the digits may serve the
  full digits, not the other way round). ``--allow-foreign-generator`` (TrainConfig /
  ExpandConfig ``allow_foreign_generator``) permits deliberate cross-dataset use.

A use that breaks a rule is a :class:`~augplat.errors.ConfigError` (one line naming both
datasets, exit code 2). A permitted foreign use (the flag, or an imported generator, whose
training data is unknown) is tagged on the run that uses it: ``augplat.foreign_generator=true``
and ``augplat.foreign_generator_reason``, so comparisons and reports can say so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from augplat.errors import ConfigError
from augplat.tracking import tags as tag

HASHES_FILE = "train_hashes.npy"
HASHES_B_FILE = "train_hashes_b.npy"
PROVENANCE_FILE = "provenance.json"
HASH_BYTES = 16
HASH_NAME = "blake2b-128 of the uint8 image bytes (C×H×W, C-order)"

DIGEST_TAG = tag.TRAIN_HASHES_DIGEST
FOREIGN_TAG = tag.FOREIGN_GENERATOR
REASON_TAG = tag.FOREIGN_GENERATOR_REASON
ALLOW_FLAG = "--allow-foreign-generator"


# ------------------------------------------------------------------------ hashing ----


def image_hashes(images: np.ndarray) -> np.ndarray:
    """``N×16`` uint8: the BLAKE2b-128 digest of each uint8 ``C×H×W`` image's bytes."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    out = np.empty((len(images), HASH_BYTES), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = np.frombuffer(
            hashlib.blake2b(image.tobytes(), digest_size=HASH_BYTES).digest(), dtype=np.uint8
        )
    return out


def unique_hashes(hashes: np.ndarray) -> np.ndarray:
    """Sorted unique rows of an ``N×16`` hash array."""
    if len(hashes) == 0:
        return np.zeros((0, HASH_BYTES), dtype=np.uint8)
    return np.unique(np.asarray(hashes, dtype=np.uint8), axis=0)


def hashes_digest(hashes: np.ndarray) -> str:
    """Short SHA-256 of a sorted unique hash array: one tag names the whole set."""
    return hashlib.sha256(np.ascontiguousarray(hashes, dtype=np.uint8).tobytes()).hexdigest()[:16]


def as_set(hashes: np.ndarray) -> set[bytes]:
    """The rows of a hash array as a set of bytes."""
    return {bytes(row) for row in np.asarray(hashes, dtype=np.uint8)}


_SPLIT_CACHE: dict[tuple, dict[str, set[bytes]]] = {}


def split_hashes(dataset, convert: tuple[int | None, int | None] | None = None):
    """``{split: set of hashes}`` of a dataset's images (optionally converted like a GAN's).

    Args:
        dataset: An :class:`~augplat.data.ImageDataset`.
        convert: ``(channels, size)`` to convert the images first, as ``augplat gan train``
            does with ``--channels``/``--size`` (None: as stored).
    """
    key = (dataset.digest, tuple(convert) if convert else None)
    cached = _SPLIT_CACHE.get(key)
    if cached is not None:
        return cached
    out = {}
    for split in ("train", "val", "test"):
        images = dataset.arrays(split)[0]
        if convert and any(convert):
            from augplat.generators.data import convert_images

            images = convert_images(images, convert[0], convert[1])
        out[split] = as_set(image_hashes(images))
    if len(_SPLIT_CACHE) > 8:
        _SPLIT_CACHE.clear()
    _SPLIT_CACHE[key] = out
    return out


# --------------------------------------------------------------------- recording ----


def record(directory: str | Path, data) -> dict[str, str]:
    """Write the hashes of a GAN run's training images into its generator directory.

    Args:
        directory: The ``generator/`` directory being logged.
        data: The run's :class:`~augplat.generators.data.GanData` (images as the GAN saw them).

    Returns:
        The tags for the GAN run (:data:`DIGEST_TAG`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    images = data.images.cpu().numpy()
    hashes = unique_hashes(image_hashes(images))
    np.save(directory / HASHES_FILE, hashes, allow_pickle=False)
    sets = data.spec.datasets
    meta: dict[str, Any] = {
        "hash": HASH_NAME,
        "dataset": sets.get("a", {}).get("name"),
        "dataset_digest": sets.get("a", {}).get("digest"),
        "split": "train",
        "shape": list(images.shape[1:]),
        "images": len(images),
        "unique": len(hashes),
        "digest": hashes_digest(hashes),
    }
    if data.images_b is not None:
        hashes_b = unique_hashes(image_hashes(data.images_b.cpu().numpy()))
        np.save(directory / HASHES_B_FILE, hashes_b, allow_pickle=False)
        meta["domain_b"] = {
            "dataset": sets.get("b", {}).get("name"),
            "dataset_digest": sets.get("b", {}).get("digest"),
            "images": len(data.images_b),
            "unique": len(hashes_b),
            "digest": hashes_digest(hashes_b),
            "checked": False,  # a style domain is external by design: recorded, not checked
        }
    (directory / PROVENANCE_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return {DIGEST_TAG: meta["digest"]}


@dataclass
class Provenance:
    """What a loaded generator says about its training images.

    Attributes:
        run_id: The GAN run.
        method: Its method name.
        imported: An imported translator (training data unknown by nature).
        dataset: Name of the dataset it trained on (domain A), if known.
        digest: That dataset's digest, if known.
        hashes: Set of its training images' hashes; None when the run records none.
        shape: ``(C, H, W)`` of the hashed images.
        meta: ``provenance.json`` as written.
    """

    run_id: str
    method: str
    imported: bool
    dataset: str | None = None
    digest: str | None = None
    hashes: set[bytes] | None = None
    shape: tuple[int, ...] | None = None
    meta: dict[str, Any] | None = None


def read(directory: str | Path, run_id: str, method) -> Provenance:
    """The :class:`Provenance` of a generator saved in ``directory`` (a GAN run's artifact)."""
    directory = Path(directory)
    sets = getattr(method.spec, "datasets", {}) or {}
    prov = Provenance(
        run_id=run_id,
        method=method.name,
        imported=not method.trainable,
        dataset=sets.get("a", {}).get("name"),
        digest=sets.get("a", {}).get("digest"),
    )
    if (directory / HASHES_FILE).is_file() and (directory / PROVENANCE_FILE).is_file():
        meta = json.loads((directory / PROVENANCE_FILE).read_text(encoding="utf-8"))
        prov.meta = meta
        prov.hashes = as_set(np.load(directory / HASHES_FILE, allow_pickle=False))
        prov.shape = tuple(meta.get("shape") or ()) or None
        prov.dataset = meta.get("dataset") or prov.dataset
        prov.digest = meta.get("dataset_digest") or prov.digest
    return prov


def planned(cfg) -> Provenance:
    """The provenance a GAN run of ``cfg`` will have, before it is trained (or reused).

    Same selection and conversion as :func:`augplat.generators.data.prepare_data`, on the CPU.
    """
    from augplat.data import load_dataset
    from augplat.generators.data import _select, convert_images

    ds = load_dataset(cfg.data)
    images, _, _ = _select(ds, cfg.classes, "train", "--classes")
    images = convert_images(images, cfg.channels, cfg.size)
    return Provenance(
        run_id="(to be trained)",
        method=cfg.method,
        imported=False,
        dataset=ds.name,
        digest=ds.digest,
        hashes=as_set(image_hashes(images)),
        shape=tuple(images.shape[1:]),
    )


# ----------------------------------------------------------------------- the rule ----


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`check` for a permitted use: foreign or not, and why."""

    foreign: bool
    reason: str = ""

    def tags(self) -> dict[str, str]:
        """Run tags stating the use (``augplat.foreign_generator`` true/false, the reason)."""
        tags = {FOREIGN_TAG: "true" if self.foreign else "false"}
        if self.foreign:
            tags[REASON_TAG] = self.reason
        return tags

    def lineage(self) -> dict[str, Any]:
        """The same as manifest lineage keys (an expansion records what made it)."""
        out: dict[str, Any] = {"foreign_generator": self.foreign}
        if self.foreign:
            out["foreign_generator_reason"] = self.reason
        return out


def _who(prov: Provenance) -> str:
    trained_on = f", trained on '{prov.dataset}'" if prov.dataset else ""
    return f"generator {prov.run_id} ({prov.method}{trained_on})"


def check(
    prov: Provenance,
    dataset,
    *,
    allow_foreign: bool = False,
    convert: tuple[int | None, int | None] | None = None,
) -> Verdict:
    """The one rule for a generator meeting ``dataset`` (see the module docstring).

    Args:
        prov: The generator's :class:`Provenance`.
        dataset: The :class:`~augplat.data.ImageDataset` it is about to be used with.
        allow_foreign: ``--allow-foreign-generator``: training images outside the dataset's
            train split (or no record of them) are permitted and flagged.
        convert: ``(channels, size)`` to convert the dataset's images first (``gan eval``).

    Returns:
        A :class:`Verdict` (foreign or not) for a permitted use.

    Raises:
        ConfigError: A val/test image of ``dataset`` is among the generator's training
            images (always), or, without ``allow_foreign``, some are not in its train split or
            the run records none.
    """
    if prov.imported:
        return Verdict(
            True, f"imported generator {prov.run_id}: its training data is unknown (not checked)"
        )
    if prov.hashes is None:
        if not allow_foreign:
            raise ConfigError(
                f"{_who(prov)} records no hashes of its training images (trained by an older "
                f"augplat), so its use on dataset '{dataset.name}' cannot be checked for "
                f"leakage: train it again, or pass {ALLOW_FLAG} to use it anyway"
            )
        return Verdict(
            True, f"{_who(prov)} records no training-image hashes ({ALLOW_FLAG}; not checked)"
        )
    splits = split_hashes(dataset, convert)
    held_out = (splits["val"] | splits["test"]) - splits["train"]
    leaked = prov.hashes & held_out
    if leaked:
        in_test = len(leaked & splits["test"])
        in_val = len(leaked) - in_test
        raise ConfigError(
            f"{_who(prov)} learned from {len(leaked)} image(s) of dataset '{dataset.name}' that "
            f"are not in its train split ({in_test} test, {in_val} val): they would leak into "
            f"every result on '{dataset.name}'; train the generator on the train split of "
            f"'{dataset.name}' (or of a subset of it)"
        )
    outside = len(prov.hashes - splits["train"])
    if outside == 0:
        return Verdict(False)
    reason = (
        f"{_who(prov)}: {outside} of its {len(prov.hashes)} training images are not in the train "
        f"split of dataset '{dataset.name}'"
    )
    if not allow_foreign:
        raise ConfigError(
            f"{reason}, so results on '{dataset.name}' would borrow data it does not have; "
            f"train a generator on '{dataset.name}' (or a subset of its train split), or pass "
            f"{ALLOW_FLAG} to use it deliberately (the run is then tagged {FOREIGN_TAG}=true)"
        )
    return Verdict(True, f"{reason} ({ALLOW_FLAG})")


def check_generator_use(gan, dataset, *, allow_foreign: bool = False, convert=None) -> Verdict:
    """:func:`check` for a generator loaded by :func:`.lookup.load_generator`."""
    prov = getattr(gan, "provenance", None)
    if prov is None:  # built in memory, never saved as a run (tests, library use)
        prov = Provenance(run_id="(not a run)", method=gan.name, imported=not gan.trainable)
    return check(prov, dataset, allow_foreign=allow_foreign, convert=convert)


def lineage_tags(source: dict[str, Any] | None) -> dict[str, str]:
    """Tags for a run trained on an expansion that a foreign generator made (else none)."""
    if not isinstance(source, dict) or not source.get("foreign_generator"):
        return {}
    run = source.get("generator_run")
    reason = source.get("foreign_generator_reason", "")
    return {FOREIGN_TAG: "true", REASON_TAG: f"expansion made by generator {run}: {reason}"}
