"""Named datasets in the data home: prepare → save, resolve a name or path, list.

A prepared dataset lives at ``datasets_dir()/<name>/`` (arrays, ``manifest.json`` and
``distribution.png``), written atomically. Parsing a FER2013 CSV is cached in ``cache_dir()``
keyed by the file's SHA-256 and the options that change the result, so preparing the same file
again costs a hash and an ``np.load`` instead of a parse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from augplat.data.dataset import MANIFEST, ImageDataset
from augplat.data.duplicates import DEFAULT_THRESHOLD as DUP_THRESHOLD
from augplat.errors import DataError, UserError
from augplat.runtime.fsutil import atomic_path
from augplat.runtime.home import cache_dir, datasets_dir

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DISTRIBUTION_PLOT = "distribution.png"
# Bump when a reader's output changes for the same input, so old cache entries are ignored.
CACHE_VERSION = 2  # 2: the duplicates report is cached with the parse
BUILTIN = "digits"
FER_HOWTO = (
    "dataset 'fer' is not prepared: download FER2013 (fer2013.csv or icml_face_data.csv, e.g. "
    "from the Kaggle page 'Challenges in Representation Learning: Facial Expression Recognition "
    "Challenge') and run `augplat data prepare fer --csv PATH`"
)


def check_name(name: str) -> str:
    """Return ``name`` if it is a simple dataset name, else raise :class:`UserError`."""
    if not NAME_PATTERN.fullmatch(str(name)):
        raise UserError(
            f"invalid dataset name {name!r}: use letters, digits, '-', '_' and '.', "
            f"starting with a letter or digit"
        )
    return str(name)


def dataset_dir(name: str) -> Path:
    """Directory of the prepared dataset ``name`` in the data home (it may not exist)."""
    return datasets_dir() / check_name(name)


def check_classification(ds: ImageDataset) -> ImageDataset:
    """``ds`` when a classifier can learn from it: two or more classes with train images.

    Why: one class trains to top1 = 1.0 and proves nothing. Checked when a classifier trains,
    not when a dataset is prepared: a one-class set is a fine CycleGAN domain (``--data-b``).
    """
    import numpy as np

    train = np.unique(ds.labels[ds.indices("train")])
    if len(train) < 2:
        found = ", ".join(repr(ds.classes[i]) for i in train) or "none"
        raise DataError(
            f"dataset '{ds.name}' has train images of {len(train)} class(es) ({found}): a "
            "classifier needs at least two classes with train images"
        )
    return ds


def save_dataset(ds: ImageDataset) -> Path:
    """Write ``ds`` to :func:`dataset_dir` with its class-distribution plot, atomically."""
    from augplat.runtime.plots import class_distribution

    def plot(tmp: Path) -> None:
        title = f"{ds.name}: images per class and split"
        class_distribution(ds.counts(), tmp / DISTRIBUTION_PLOT, title)

    return ds.save(dataset_dir(ds.name), overwrite=True, extra_files=plot)


_SHA_MEMO = "sha256-memo.json"
_SHA_MEMO_SIZE = 256  # files remembered; the oldest entries go first


def _file_identity(path: Path) -> dict[str, int]:
    """What changes whenever a file's bytes do (ctime cannot be set back by hand)."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
            "ino": st.st_ino}  # fmt: skip


def _sha_memo() -> dict[str, Any]:
    try:
        memo = json.loads((cache_dir() / _SHA_MEMO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def _remembered_sha256(path: Path) -> str | None:
    """The SHA-256 recorded for ``path`` if the file has not changed since, else ``None``.

    Hashing the 300 MB CSV costs ~0.2 s; a stat costs microseconds (git's index does the same).
    """
    entry = _sha_memo().get(str(path.resolve()))
    if isinstance(entry, dict) and entry.get("identity") == _file_identity(path):
        return entry.get("sha256")
    return None


def _remember_sha256(path: Path, sha: str, identity: dict[str, int]) -> None:
    """Record ``sha`` for ``path`` as it was when ``identity`` was taken (before reading it,
    so a file changed while it was read is hashed again next time)."""
    memo = _sha_memo()
    memo.pop(str(path.resolve()), None)
    memo[str(path.resolve())] = {"identity": identity, "sha256": sha}
    memo = dict(list(memo.items())[-_SHA_MEMO_SIZE:])
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        with atomic_path(cache_dir() / _SHA_MEMO) as tmp:
            tmp.write_text(json.dumps(memo), encoding="utf-8")
    except OSError as exc:  # a read-only home only costs the next hash
        log.debug("cannot write %s: %s", _SHA_MEMO, exc)


def _cache_entry(key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps({**key, "v": CACHE_VERSION}, sort_keys=True).encode())
    return cache_dir() / f"{key['reader']}-{digest.hexdigest()[:24]}"


def _load_cached(entry: Path) -> ImageDataset | None:
    if not (entry / MANIFEST).is_file():
        return None
    try:
        ds = ImageDataset.load(entry)
    except (OSError, ValueError, KeyError, DataError) as exc:
        log.warning("ignoring unreadable cache entry %s (%s)", entry, exc)
        return None
    log.info("using cached parse %s", entry)
    return ds


def cached_fer(csv: str | Path, skip_bad: bool = False) -> ImageDataset:
    """The parsed FER2013 CSV, from the content-keyed cache or parsed and cached now.

    A file seen before (same path, size and times) skips even the hash; a new one is hashed
    while it is parsed. See :func:`prepare_fer` for the arguments.
    """
    from augplat.data.fer import read_fer

    path = Path(csv).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    identity = _file_identity(path)
    sha = _remembered_sha256(path)
    if sha is not None:
        ds = _load_cached(_cache_entry({"reader": "fer", "sha256": sha, "skip_bad": skip_bad}))
        if ds is not None:
            return ds
    # The duplicate report (seconds on FER2013) is cached with the parse (a reload stays fast).
    ds = check_duplicates(read_fer(path, skip_bad=skip_bad, sha256=sha))
    sha = ds.source["sha256"]
    entry = _cache_entry({"reader": "fer", "sha256": sha, "skip_bad": skip_bad})
    if not (entry / MANIFEST).is_file():
        ds.save(entry, overwrite=True)
    _remember_sha256(path, sha, identity)
    return ds


def prepare_fer(
    csv: str | Path,
    name: str = "fer",
    skip_bad: bool = False,
    dedupe: bool = False,
    dup_threshold: int | None = None,
) -> ImageDataset:
    """Parse a FER2013 CSV (either form, plain or gzip) and save it as ``name``.

    Args:
        csv: Path to ``fer2013.csv`` or ``icml_face_data.csv`` (``.gz`` works too).
        name: Dataset name in the data home.
        skip_bad: Skip malformed rows (counted in the manifest) instead of failing.
        dedupe: Remove val/test images that duplicate an earlier split's (see
            :func:`check_duplicates`); duplicates are always reported in the manifest.
        dup_threshold: Hamming distance of a near-duplicate (default 4 of 64 bits).

    Returns:
        The saved dataset.
    """
    check_name(name)
    ds = cached_fer(csv, skip_bad)
    # The cache is keyed by content: the same bytes may come from another path or name.
    ds.name = name
    ds.source = {**ds.source, "path": str(Path(csv).expanduser().resolve())}
    cached_report = ds.checks.get("duplicates", {})
    if dedupe or cached_report.get("threshold") != (dup_threshold or DUP_THRESHOLD):
        ds = check_duplicates(ds, dedupe, dup_threshold)
    save_dataset(ds)
    return ds


def prepare_folder(
    root: str | Path,
    name: str | None = None,
    size: int = 48,
    channels: int | str = "auto",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    skip_bad: bool = False,
    **options: Any,
) -> ImageDataset:
    """Read an image folder and save it as ``name`` (default: the folder's name).

    See :func:`augplat.data.folder.read_folder` for the layouts and the keyword ``options``
    (``labels``, ``label_col``, ``filename_col``, ``hflip``, ``plan``).
    """
    from augplat.data.folder import read_folder

    root = Path(root).expanduser()
    if name is None:
        name = root.resolve().name
        if not NAME_PATTERN.fullmatch(name):
            raise UserError(f"folder name {name!r} is not a valid dataset name: pass --name NAME")
    check_name(name)
    ds = read_folder(
        root, size, channels, val_fraction, test_fraction, seed, skip_bad, name, **options
    )
    save_dataset(ds)
    return ds


def check_duplicates(ds: ImageDataset, dedupe: bool = False, threshold: int | None = None):
    """Record exact and near-duplicates within and across splits in ``ds.checks``; with
    ``dedupe``, return a copy without the val/test images that repeat an earlier split's."""
    from augplat.data.duplicates import find_duplicates, leaking

    threshold = DUP_THRESHOLD if threshold is None else threshold
    report, near = find_duplicates(ds.images, ds.split, ["train", "val", "test"], None, threshold)
    drop = leaking(near, ds.split)
    report["scope"] = "splits"
    report["removed"] = int(drop.sum()) if dedupe else 0
    if dedupe and drop.any():
        ds = ds.subset(~drop)
    ds.checks["duplicates"] = report
    return ds


def prepare_digits(
    name: str = BUILTIN, fraction: float = 1.0, size: int = 16, seed: int = 0
) -> ImageDataset:
    """Build the embedded digits dataset and save it as ``name``.

    See :func:`augplat.data.digits.read_digits` for the options.
    """
    from augplat.data.digits import read_digits

    ds = read_digits(size=size, fraction=fraction, seed=seed, name=check_name(name))
    ds = check_duplicates(ds)
    save_dataset(ds)
    return ds


def prepared_names() -> list[str]:
    """Names of the prepared datasets in the data home, sorted."""
    root = datasets_dir()
    if not root.is_dir():
        return []
    return sorted(
        d.name
        for d in root.iterdir()
        if NAME_PATTERN.fullmatch(d.name) and (d / MANIFEST).is_file()
    )


def resolve_dataset(name_or_path: str | Path) -> Path:
    """Directory of a prepared dataset given its name or path.

    A bare name is looked up in the data home first; ``digits`` is prepared on first use (it is
    embedded); ``fer`` explains how to get it. Anything else must be a dataset directory.
    """
    text = str(name_or_path)
    if NAME_PATTERN.fullmatch(text):
        if (datasets_dir() / text / MANIFEST).is_file():
            return datasets_dir() / text
        if text == BUILTIN:
            log.info("preparing the embedded %s dataset", BUILTIN)
            prepare_digits()
            return dataset_dir(BUILTIN)
        if text == "fer":
            raise DataError(FER_HOWTO)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if NAME_PATTERN.fullmatch(text):
        prepared = ", ".join(prepared_names()) or "none"
        raise DataError(
            f"unknown dataset {text!r} (prepared: {prepared}); prepare an image folder with "
            f"`augplat data prepare folder ROOT --name {text}`, or use the built-in 'digits'"
        )
    raise DataError(f"{path}: no such dataset directory")


def load_dataset(name_or_path: str | Path) -> ImageDataset:
    """Load a prepared dataset by name (data home) or directory path."""
    return ImageDataset.load(resolve_dataset(name_or_path))


def read_manifest(name_or_path: str | Path) -> dict[str, Any]:
    """The manifest of a prepared dataset, with its ``path`` added (no arrays are loaded)."""
    directory = resolve_dataset(name_or_path)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise DataError(f"{directory}: not a prepared augplat dataset (no {MANIFEST})")
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{manifest}: unreadable manifest ({exc})") from None
    return {**meta, "path": str(directory)}


def list_datasets() -> list[dict[str, Any]]:
    """Manifests (with ``path``) of every prepared dataset in the data home, by name."""
    out = []
    for name in prepared_names():
        try:
            out.append(read_manifest(datasets_dir() / name))
        except DataError as exc:
            log.warning("%s", exc)
    return out
