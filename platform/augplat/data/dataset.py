"""The canonical in-memory dataset every reader produces and every consumer reads.

One form for FER2013, image folders and the embedded digits: a uint8 ``N×C×H×W`` array, int64
labels, an int8 split code per image (0 train, 1 val, 2 test) and the class names. On disk it is a
directory of ``.npy`` files plus ``manifest.json``, written atomically, so loading a prepared
dataset is a few ``np.load`` calls (tens of milliseconds for all of FER2013).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from augplat import __version__
from augplat.data.splits import SPLIT_CODES, SPLITS  # noqa: F401 (SPLITS is re-exported)
from augplat.errors import DataError
from augplat.runtime.fsutil import atomic_dir

MANIFEST = "manifest.json"
_ARRAYS = ("images", "labels", "split")
FOLDS_FILE = "folds.npy"
CHECK_KEYS = ("groups", "duplicates")  # manifest entries a reader's checks write


@dataclass
class ImageDataset:
    """Images, labels, split codes and class names, plus where they came from.

    Attributes:
        images: uint8 array of shape ``(N, C, H, W)``, C is 1 (grayscale) or 3 (RGB).
        labels: int64 array of shape ``(N,)`` with values in ``[0, len(classes))``.
        split: int8 array of shape ``(N,)`` with codes from :data:`SPLIT_CODES`.
        classes: Class names, index = label.
        name: Dataset name in the data home (``fer``, ``digits``, ...).
        source: How it was made: reader kind, input path, input sha256, reader options.
        skipped: Bad inputs skipped with ``--skip-bad``: ``{"count": n, "examples": [...]}``.
        hflip: Whether a horizontal mirror keeps an image's label (faces yes, digits no);
            classic policies drop their ``hflip`` op when it is False.
        folds: Optional int8 fold index per image (``--folds K``); :meth:`fold_view` turns one
            fold into the test split, the next into val.
        checks: Manifest entries written by the readers' checks (``groups``, ``duplicates``).
    """

    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    classes: list[str]
    name: str
    source: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, Any] = field(default_factory=lambda: {"count": 0, "examples": []})
    hflip: bool = True
    folds: np.ndarray | None = None
    checks: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.images = np.ascontiguousarray(self.images, dtype=np.uint8)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.split = np.asarray(self.split, dtype=np.int8)
        if self.folds is not None:
            self.folds = np.asarray(self.folds, dtype=np.int8)
        self.classes = [str(c) for c in self.classes]
        self._validate()

    def _validate(self) -> None:
        n = len(self.images)
        if self.images.ndim != 4 or self.images.shape[1] not in (1, 3):
            raise ValueError(f"images must be N×C×H×W with C in (1, 3), got {self.images.shape}")
        if self.labels.shape != (n,) or self.split.shape != (n,):
            raise ValueError("images, labels and split must have the same length")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError("labels out of range of classes")
        if n and not np.isin(self.split, list(SPLIT_CODES.values())).all():
            raise ValueError("split codes must be 0 (train), 1 (val) or 2 (test)")
        if self.folds is not None and self.folds.shape != (n,):
            raise ValueError("folds must have one entry per image")

    @property
    def num_folds(self) -> int:
        """Number of prepared folds (0 when the dataset has none)."""
        return int(self.folds.max()) + 1 if self.folds is not None and len(self.folds) else 0

    def fold_view(self, fold: int) -> ImageDataset:
        """The same images split for fold ``fold``: it tests, the next fold validates.

        Raises:
            DataError: The dataset was prepared without ``--folds`` or ``fold`` is out of range.
        """
        from augplat.data.splits import fold_split

        if not self.num_folds:
            raise DataError(
                f"dataset '{self.name}' has no folds: prepare it with --folds K to use --fold"
            )
        if not 0 <= fold < self.num_folds:
            raise DataError(
                f"dataset '{self.name}' has folds 0..{self.num_folds - 1}, got --fold {fold}"
            )
        return ImageDataset(
            images=self.images, labels=self.labels, split=fold_split(self.folds, fold),
            classes=self.classes, name=self.name, source=self.source, skipped=self.skipped,
            hflip=self.hflip, folds=self.folds,
            checks={**self.checks, "fold": fold, "fold_of": self.digest},
        )  # fmt: skip

    def subset(self, keep: np.ndarray) -> ImageDataset:
        """A copy holding only the images where the boolean mask ``keep`` is True."""
        return ImageDataset(
            images=self.images[keep], labels=self.labels[keep], split=self.split[keep],
            classes=self.classes, name=self.name, source=self.source, skipped=self.skipped,
            hflip=self.hflip, checks=self.checks,
            folds=None if self.folds is None else self.folds[keep],
        )  # fmt: skip

    @property
    def shape(self) -> tuple[int, int, int]:
        """Per-image shape ``(C, H, W)``."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def indices(self, split: str) -> np.ndarray:
        """Indices of the images in ``split`` (``train``, ``val`` or ``test``)."""
        return np.flatnonzero(self.split == SPLIT_CODES[split])

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of one split."""
        idx = self.indices(split)
        return self.images[idx], self.labels[idx]

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class for every split: ``{split: {class: count}}``."""
        out = {}
        for name, code in SPLIT_CODES.items():
            per_class = np.bincount(self.labels[self.split == code], minlength=self.num_classes)
            out[name] = {c: int(k) for c, k in zip(self.classes, per_class, strict=True)}
        return out

    @property
    def digest(self) -> str:
        """Content hash of pixels, labels, splits and class names (first 16 hex chars).

        Two datasets with the same digest train identically, whatever their names or sources.
        """
        cached = getattr(self, "_digest", None)
        if cached is None:
            h = hashlib.sha256()
            h.update(json.dumps([list(self.images.shape), self.classes]).encode())
            for arr in (self.images, self.labels, self.split):
                h.update(memoryview(np.ascontiguousarray(arr)).cast("B"))
            cached = h.hexdigest()[:16]
            self._digest = cached
        return cached

    def manifest(self) -> dict[str, Any]:
        """The JSON-able description written next to the arrays."""
        return {
            "name": self.name,
            "classes": self.classes,
            "shape": list(self.shape),
            "num_images": len(self.images),
            "digest": self.digest,
            "source": self.source,
            "counts": self.counts(),
            "skipped": self.skipped,
            "hflip": self.hflip,
            "folds": self.num_folds,
            **self.checks,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "augplat_version": __version__,
        }

    def save(self, directory: str | Path, overwrite: bool = True, extra_files=None) -> Path:
        """Write arrays and manifest atomically into ``directory``.

        Args:
            directory: Target directory; replaced as a whole when ``overwrite``.
            overwrite: Replace an existing directory.
            extra_files: Optional callable ``f(tmp_dir)`` that writes more files (plots) into
                the directory before it is moved into place.
        """
        with atomic_dir(directory, overwrite=overwrite) as tmp:
            for key in _ARRAYS:
                np.save(tmp / f"{key}.npy", getattr(self, key), allow_pickle=False)
            if self.folds is not None:
                np.save(tmp / FOLDS_FILE, self.folds, allow_pickle=False)
            (tmp / MANIFEST).write_text(json.dumps(self.manifest(), indent=2), encoding="utf-8")
            if extra_files is not None:
                extra_files(tmp)
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> ImageDataset:
        """Load a dataset written by :meth:`save`."""
        directory = Path(directory)
        manifest_path = directory / MANIFEST
        if not manifest_path.is_file():
            raise DataError(f"{directory}: not a prepared augplat dataset (no {MANIFEST})")
        meta = json.loads(manifest_path.read_text(encoding="utf-8"))
        arrays = {k: np.load(directory / f"{k}.npy", allow_pickle=False) for k in _ARRAYS}
        folds = directory / FOLDS_FILE
        source = meta.get("source", {})
        ds = cls(
            **arrays,
            classes=meta["classes"],
            name=meta["name"],
            source=source,
            skipped=meta.get("skipped", {"count": 0, "examples": []}),
            # Datasets prepared before the flag existed: only digits change meaning when mirrored.
            hflip=bool(meta.get("hflip", source.get("reader") != "digits")),
            folds=np.load(folds, allow_pickle=False) if folds.is_file() else None,
            checks={k: meta[k] for k in CHECK_KEYS if k in meta},
        )
        ds._digest = meta["digest"]  # trust the recorded digest: hashing 80 MB per load is waste
        return ds
