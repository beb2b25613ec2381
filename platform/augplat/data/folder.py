"""Any image folder, in one of three layouts, with subject-aware splits and duplicate checks.

Split layout: ``root/train/<class>/*`` with optional ``root/val/<class>/*`` and
``root/test/<class>/*``; a missing val or test split is carved out of train by seeded,
stratified fractions. Pool layout: ``root/<class>/*``, split by those fractions. CSV layout
(``labels=FILE``): images anywhere below ``root``, classes from a ``label,filename`` CSV, split
by the fractions. Files may sit in sub-folders; hidden files and folders are ignored.

Every still-image format Pillow opens is read (see :mod:`augplat.data.decode`), in a thread
pool (Pillow releases the GIL while decoding). Each file's bytes are hashed while they are
read, so the tree's content hash costs no second read. With ``group`` (a regular expression on
file names) or ``groups_csv``, no subject crosses splits; ``folds=K`` prepares K subject-aware
folds instead of one split. Exact and near-duplicates are reported in the manifest and, with
``dedupe``, removed from val/test.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augplat.data.dataset import SPLIT_CODES, SPLITS, ImageDataset
from augplat.data.decode import image_suffixes, is_image_name, load, to_channels
from augplat.data.splits import check_fractions, stratified_split
from augplat.errors import DataError, UserError

log = logging.getLogger(__name__)

MAX_EXAMPLES = 5  # skipped files quoted in the manifest


def check_size(size: int) -> int:
    """Raise :class:`UserError` unless ``size`` is a sensible square side in pixels."""
    if not 4 <= int(size) <= 1024:
        raise UserError(f"image size must be between 4 and 1024 pixels, got {size}")
    return int(size)


def _channels(value: int | str) -> int | None:
    """``auto`` → None (decide from the images), else 1 or 3."""
    text = str(value).strip().lower()
    if text == "auto":
        return None
    if text in ("1", "3"):
        return int(text)
    raise UserError(f"channels must be auto, 1 or 3, got {value!r}")


def _images_under(directory: Path) -> list[Path]:
    """Image files anywhere below ``directory``, sorted, hidden entries skipped."""
    return sorted(
        p
        for p in directory.rglob("*")
        if is_image_name(p)
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def _class_dirs(directory: Path) -> dict[str, Path]:
    """Visible sub-directories of ``directory`` by name."""
    return {
        d.name: d for d in sorted(directory.iterdir()) if d.is_dir() and not d.name.startswith(".")
    }


def _scan(root: Path) -> tuple[str, dict[str, dict[str, list[Path]]]]:
    """Find the layout and the files: ``(layout, {split or "pool": {class: [files]}})``."""
    if not root.is_dir():
        raise DataError(f"{root}: no such directory")
    top = _class_dirs(root)
    splits_present = [s for s in SPLITS if s in top]
    if not splits_present:
        if not top:
            raise DataError(
                f"{root}: no class folders (expected {root}/<class>/*.png "
                f"or {root}/train/<class>/*.png)"
            )
        return "pool", {"pool": {c: _images_under(d) for c, d in top.items()}}
    if "train" not in top:
        raise DataError(f"{root}: has {'/, '.join(splits_present)}/ but no train/ folder")
    others = sorted(set(top) - set(SPLITS))
    if others:
        raise DataError(
            f"{root}: unexpected folder {others[0]}/ next to {'/, '.join(splits_present)}/ "
            f"(split folders must be named train, val or test)"
        )
    tree = {s: {c: _images_under(d) for c, d in _class_dirs(root / s).items()} for s in top}
    return "splits", tree


def _tree_sha256(root: Path, paths: list[Path], digests: list[str]) -> str:
    """One hash for the whole tree: relative path and content hash of every listed file."""
    h = hashlib.sha256()
    for path, digest in sorted(zip(paths, digests, strict=True)):
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        h.update(f"{name}\t{digest}\n".encode())
    return h.hexdigest()


def _load_all(paths: list[Path], size: int, skip_bad: bool, problems: list[str]):
    """Decode every file in a thread pool: ``(pixels or None, digests, problems)``."""
    with ThreadPoolExecutor() as pool:
        results = list(pool.map(lambda path: load(path, size), paths))
    problems = problems + [f"{p}: {r[2]}" for p, r in zip(paths, results, strict=True) if r[2]]
    if problems and not skip_bad:
        more = f"; {len(problems) - 1} more unreadable file(s)" if len(problems) > 1 else ""
        raise DataError(f"{problems[0]}{more} (pass --skip-bad to skip unreadable images)")
    return [r[0] for r in results], [r[1] for r in results], problems


@dataclass
class SplitPlan:
    """How a folder's images are split: fractions, seed, subject groups, folds, duplicates.

    Attributes:
        val_fraction: Share of each class carved out for val when there is no ``val/``.
        test_fraction: Share of each class carved out for test when there is no ``test/``.
        seed: Seed of the carving and of the folds.
        group: Regular expression whose first capture group in a file name is its subject.
        groups_csv: CSV with ``filename_col`` and ``group_col`` columns (instead of ``group``).
        group_col: Group column of ``groups_csv``.
        folds: K >= 3 prepares K folds (fold 0 tests, fold 1 validates by default); 0 = none.
        dedupe: Remove val/test images that duplicate an image of an earlier split (or fold).
        dup_threshold: Hamming distance (of 64 dHash bits) of a near-duplicate.
    """

    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    group: str | None = None
    groups_csv: Path | None = None
    group_col: str = "group"
    folds: int = 0
    dedupe: bool = False
    dup_threshold: int = 4


def _items(root: Path, labels, label_col: str, filename_col: str):
    """``(layout, classes, [(split or None, class, path)], problems)`` from the tree (every
    class folder is a class, even an empty one) or a label CSV."""
    if labels is None:
        layout, tree = _scan(root)
        items = [(None if split == "pool" else split, c, path)
                 for split, per_class in tree.items()
                 for c, paths in per_class.items() for path in paths]  # fmt: skip
        return layout, sorted({c for per_class in tree.values() for c in per_class}), items, []
    from augplat.data.labels_csv import labelled_files

    if not root.is_dir():
        raise DataError(f"{root}: no such directory")
    found, problems = labelled_files(
        Path(labels).expanduser(), root, _images_under(root), label_col, filename_col
    )
    return "csv", sorted({c for c, _ in found}), [(None, c, p) for c, p in found], problems


def _groups(plan: SplitPlan, root: Path, paths: list[Path], filename_col: str):
    """Group name per file (array) and where they came from, or ``(None, None)``."""
    if plan.group and plan.groups_csv:
        raise UserError("give either --group REGEX or --groups FILE.csv, not both")
    if plan.group:
        from augplat.data.groups import groups_from_pattern

        return np.array(groups_from_pattern(paths, plan.group)), f"regex {plan.group}"
    if plan.groups_csv:
        from augplat.data.labels_csv import groups_from_csv

        csv = Path(plan.groups_csv).expanduser()
        found = groups_from_csv(csv, root, paths, filename_col, plan.group_col)
        return np.array(found), f"csv {csv}"
    return None, None


def _assign(plan: SplitPlan, layout, item_splits, labels, groups):
    """``(split codes, folds or None)`` for the kept items."""
    from augplat.data.splits import assign_folds, fold_split, grouped_split

    if plan.folds:
        if layout == "splits":
            raise UserError("--folds needs a pool or CSV layout (no train/ val/ test/ folders)")
        folds = assign_folds(labels, plan.folds, plan.seed, groups)
        return fold_split(folds, 0), folds
    if layout == "splits":
        present = {s for s in item_splits if s}
        codes = np.array([SPLIT_CODES[s] for s in item_splits], dtype=np.int8)
        carve_val = 0.0 if "val" in present else plan.val_fraction
        carve_test = 0.0 if "test" in present else plan.test_fraction
        train = np.flatnonzero(codes == SPLIT_CODES["train"])
        if groups is not None and (carve_val or carve_test):
            args = (carve_val, carve_test, plan.seed)
            codes[train] = grouped_split(labels[train], groups[train], *args)
        elif carve_val or carve_test:
            codes[train] = stratified_split(labels[train], carve_val, carve_test, plan.seed)
        return codes, None
    if groups is not None:
        return grouped_split(labels, groups, plan.val_fraction, plan.test_fraction, plan.seed), None
    return stratified_split(labels, plan.val_fraction, plan.test_fraction, plan.seed), None


def _check_train_classes(root: Path, classes: list[str], labels, split) -> None:
    train_counts = np.bincount(labels[split == SPLIT_CODES["train"]], minlength=len(classes))
    empty = [classes[i] for i in np.flatnonzero(train_counts == 0)]
    if empty:
        raise DataError(
            f"{root}: class {', '.join(map(repr, empty))} has no images in the train split"
        )


def _checks(ds: ImageDataset, plan: SplitPlan, names, groups, group_source) -> ImageDataset:
    """Duplicates (reported; removed from val/test with ``dedupe``) and the group summary."""
    from augplat.data.duplicates import find_duplicates, leaking
    from augplat.data.groups import group_summary

    folded = ds.folds is not None
    partition = ds.folds if folded else ds.split
    part_names = [f"fold {i}" for i in range(ds.num_folds)] if folded else list(SPLITS)
    report, near = find_duplicates(ds.images, partition, part_names, names, plan.dup_threshold)
    report["scope"] = "folds" if folded else "splits"
    drop = leaking(near, partition)
    report["removed"] = int(drop.sum()) if plan.dedupe else 0
    if plan.dedupe and drop.any():
        ds, groups = ds.subset(~drop), None if groups is None else groups[~drop]
    ds.checks["duplicates"] = report
    if groups is not None:
        ds.checks["groups"] = group_summary(groups, ds.split, group_source)
        if folded:
            ds.checks["groups"]["folds_disjoint"] = all(
                len(np.unique(ds.folds[groups == g])) == 1 for g in np.unique(groups)
            )
    return ds


def read_folder(
    root: str | Path,
    size: int = 48,
    channels: int | str = "auto",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    skip_bad: bool = False,
    name: str = "folder",
    *,
    labels: str | Path | None = None,
    label_col: str = "label",
    filename_col: str = "filename",
    hflip: bool = True,
    plan: SplitPlan | None = None,
) -> ImageDataset:
    """Read an image folder (split, pool or CSV layout) into the canonical dataset.

    Args:
        root: Tree root.
        size: Side of the square the images are resized to.
        channels: ``auto`` (3 if any image has colour, else 1), 1 or 3.
        val_fraction: Share of each class carved out for val when there is no ``val/``.
        test_fraction: Share of each class carved out for test when there is no ``test/``.
        seed: Seed of the carving.
        skip_bad: Skip unreadable images and record them; otherwise the first one raises.
        name: Dataset name.
        labels: CSV of ``label_col`` and ``filename_col`` (file names relative to ``root``).
        label_col: Class column of ``labels``.
        filename_col: File-name column of ``labels`` and of a groups CSV.
        hflip: Whether a horizontal mirror keeps the label (recorded for the policies).
        plan: Groups, folds and duplicate handling; its fractions and seed replace the
            arguments above when given.

    Raises:
        DataError: Missing or malformed tree or CSV, an unreadable image (naming the file), or
            a class without train images.
    """
    root = Path(root).expanduser()
    plan = plan or SplitPlan(val_fraction, test_fraction, seed)
    size, wanted = check_size(size), _channels(channels)
    check_fractions(plan.val_fraction, plan.test_fraction)
    layout, classes, items, problems = _items(root, labels, label_col, filename_col)
    if not items:
        raise DataError(f"{root}: no image files ({', '.join(image_suffixes())}) found")
    paths = [path for _, _, path in items]
    pixels, digests, problems = _load_all(paths, size, skip_bad, problems)
    good = [i for i, p in enumerate(pixels) if p is not None]
    labels_arr = np.array([classes.index(items[i][1]) for i in good], dtype=np.int64)
    groups, group_source = _groups(plan, root, [paths[i] for i in good], filename_col)
    split, folds = _assign(plan, layout, [items[i][0] for i in good], labels_arr, groups)
    _check_train_classes(root, classes, labels_arr, split)
    pixels = [pixels[i] for i in good]
    n_channels = wanted or (3 if any(p.ndim == 3 for p in pixels) else 1)
    if problems:
        log.warning("%s: skipped %d unreadable image(s)", root, len(problems))
    ds = ImageDataset(
        images=np.stack([to_channels(p, n_channels) for p in pixels]),
        labels=labels_arr,
        split=split,
        classes=classes,
        name=name,
        source=_source(root, layout, paths, digests, size, channels, skip_bad, plan, labels),
        skipped={"count": len(problems), "examples": problems[:MAX_EXAMPLES]},
        hflip=hflip,
        folds=folds,
    )
    names = [paths[i].relative_to(root).as_posix() if paths[i].is_relative_to(root)
             else str(paths[i]) for i in good]  # fmt: skip
    return _checks(ds, plan, names, groups, group_source)


def _source(root, layout, paths, digests, size, channels, skip_bad, plan, labels) -> dict:
    """The manifest's ``source``: reader, layout, path, tree hash and the options."""
    return {
        "reader": "folder",
        "layout": layout,
        "path": str(root.resolve()),
        "sha256": _tree_sha256(root, paths, [d or "" for d in digests]),
        "options": {
            "size": size,
            "channels": str(channels),
            "val_fraction": plan.val_fraction,
            "test_fraction": plan.test_fraction,
            "seed": plan.seed,
            "skip_bad": skip_bad,
            "labels": str(labels) if labels else None,
            "group": plan.group,
            "groups_csv": str(plan.groups_csv) if plan.groups_csv else None,
            "folds": plan.folds,
            "dedupe": plan.dedupe,
            "dup_threshold": plan.dup_threshold,
        },
    }
