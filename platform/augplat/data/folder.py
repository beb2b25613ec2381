"""Any ImageFolder tree, in one of two layouts.

Split layout: ``root/train/<class>/*`` with optional ``root/val/<class>/*`` and
``root/test/<class>/*``; a missing val or test split is carved out of train by seeded,
stratified fractions. Pool layout: ``root/<class>/*``, split by those fractions. Files may sit in
sub-folders of a class folder; hidden files and folders are ignored.

Images (png, jpg, jpeg, bmp, gif, webp) are decoded in a thread pool (Pillow releases the GIL
while decoding), squashed to ``size``×``size`` and stored with 1 or 3 channels. Each file's bytes
are hashed while they are read, so the tree's content hash costs no second read.
"""

from __future__ import annotations

import hashlib
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from augplat.data.dataset import SPLIT_CODES, SPLITS, ImageDataset
from augplat.data.splits import check_fractions, stratified_split
from augplat.errors import DataError, UserError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MAX_EXAMPLES = 5  # skipped files quoted in the manifest
# Modes whose pixels are one grey value; anything else is decoded as RGB and checked.
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


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
        if p.suffix.lower() in IMAGE_SUFFIXES
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


def _decode(data: bytes, size: int) -> np.ndarray:
    """Decode image bytes, squash to ``size``×``size``; H×W if grey content, else H×W×3."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)  # phone JPEGs store rotation in EXIF
        if img.mode in _GRAY_MODES:
            if img.mode.startswith(("I", "F")):
                # 16-bit or float grey: scale 0..65535 down when the values need it.
                arr = np.asarray(img, dtype=np.float64)
                arr = arr / 257.0 if arr.max(initial=0) > 255 else arr
                img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
            small = img.convert("L").resize((size, size), Image.Resampling.BICUBIC)
            return np.asarray(small, dtype=np.uint8)
        if img.mode == "P":
            img = img.convert("RGBA")  # palette transparency needs RGBA first (else a warning)
        rgb = np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return np.ascontiguousarray(rgb[..., 0])  # stored as RGB, but grey
    return rgb


def _load(path: Path, size: int) -> tuple[np.ndarray | None, str, str | None]:
    """``(pixels, sha256 of the file, None)`` or ``(None, sha256, problem)``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, "", f"cannot read file ({exc.strerror or exc})"
    digest = hashlib.sha256(data).hexdigest()
    try:
        return _decode(data, size), digest, None
    except Exception as exc:  # Pillow raises a zoo of types for broken files
        return None, digest, f"cannot read image ({type(exc).__name__}: {exc})"


def _to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """H×W or H×W×3 → C×H×W with ``channels`` channels (ITU-R 601 luma, as Pillow's ``L``)."""
    if pixels.ndim == 2:
        return np.repeat(pixels[None], channels, axis=0)
    if channels == 3:
        return np.transpose(pixels, (2, 0, 1))
    weights = np.array([19595, 38470, 7471], dtype=np.uint32)
    return ((pixels.astype(np.uint32) @ weights + 32768) >> 16).astype(np.uint8)[None]


def _assign_splits(layout, item_splits, labels, present, val_fraction, test_fraction, seed):
    """Split code per item.

    Split layout: the folder names, with a missing val/ or test/ carved out of train. Pool
    layout: seeded stratified fractions.
    """
    if layout == "pool":
        return stratified_split(labels, val_fraction, test_fraction, seed)
    codes = np.array([SPLIT_CODES[s] for s in item_splits], dtype=np.int8)
    carve_val = 0.0 if "val" in present else val_fraction
    carve_test = 0.0 if "test" in present else test_fraction
    if carve_val or carve_test:
        train = np.flatnonzero(codes == SPLIT_CODES["train"])
        codes[train] = stratified_split(labels[train], carve_val, carve_test, seed)
    return codes


def _tree_sha256(root: Path, paths: list[Path], digests: list[str]) -> str:
    """One hash for the whole tree: relative path and content hash of every listed file."""
    h = hashlib.sha256()
    for path, digest in sorted(zip(paths, digests, strict=True)):
        h.update(f"{path.relative_to(root).as_posix()}\t{digest}\n".encode())
    return h.hexdigest()


def _load_all(paths: list[Path], size: int, skip_bad: bool):
    """Decode every file in a thread pool: ``(pixels or None, digests, problems)``."""
    with ThreadPoolExecutor() as pool:
        results = list(pool.map(lambda path: _load(path, size), paths))
    problems = [f"{path}: {r[2]}" for path, r in zip(paths, results, strict=True) if r[2]]
    if problems and not skip_bad:
        more = f"; {len(problems) - 1} more unreadable file(s)" if len(problems) > 1 else ""
        raise DataError(f"{problems[0]}{more} (pass --skip-bad to skip unreadable images)")
    return [r[0] for r in results], [r[1] for r in results], problems


def read_folder(
    root: str | Path,
    size: int = 48,
    channels: int | str = "auto",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    skip_bad: bool = False,
    name: str = "folder",
) -> ImageDataset:
    """Read an ImageFolder tree (split or pool layout) into the canonical dataset.

    Args:
        root: Tree root.
        size: Side of the square the images are resized to.
        channels: ``auto`` (3 if any image has colour, else 1), 1 or 3.
        val_fraction: Share of each class carved out for val when there is no ``val/``.
        test_fraction: Share of each class carved out for test when there is no ``test/``.
        seed: Seed of the carving.
        skip_bad: Skip unreadable images and record them; otherwise the first one raises.
        name: Dataset name.

    Raises:
        DataError: Missing or malformed tree, an unreadable image (naming the file), or a class
            without train images.
    """
    root = Path(root).expanduser()
    size, wanted = check_size(size), _channels(channels)
    check_fractions(val_fraction, test_fraction)
    layout, tree = _scan(root)
    classes = sorted({c for per_class in tree.values() for c in per_class})
    items = [
        (split, classes.index(c), path)
        for split, per_class in tree.items()
        for c, paths in per_class.items()
        for path in paths
    ]
    if not items:
        raise DataError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) in any class folder")
    pixels, digests, problems = _load_all([path for _, _, path in items], size, skip_bad)
    good = [i for i, p in enumerate(pixels) if p is not None]
    labels = np.array([items[i][1] for i in good], dtype=np.int64)
    split = _assign_splits(
        layout, [items[i][0] for i in good], labels, tree, val_fraction, test_fraction, seed
    )
    train_counts = np.bincount(labels[split == SPLIT_CODES["train"]], minlength=len(classes))
    empty = [classes[i] for i in np.flatnonzero(train_counts == 0)]
    if empty:
        raise DataError(
            f"{root}: class {', '.join(map(repr, empty))} has no images in the train split"
        )
    pixels = [pixels[i] for i in good]
    n_channels = wanted or (3 if any(p.ndim == 3 for p in pixels) else 1)
    if problems:
        log.warning("%s: skipped %d unreadable image(s)", root, len(problems))
    return ImageDataset(
        images=np.stack([_to_channels(p, n_channels) for p in pixels]),
        labels=labels,
        split=split,
        classes=classes,
        name=name,
        source={
            "reader": "folder",
            "layout": layout,
            "path": str(root.resolve()),
            "sha256": _tree_sha256(root, [path for _, _, path in items], digests),
            "options": {
                "size": size,
                "channels": str(channels),
                "val_fraction": val_fraction,
                "test_fraction": test_fraction,
                "seed": seed,
                "skip_bad": skip_bad,
            },
        },
        skipped={"count": len(problems), "examples": problems[:MAX_EXAMPLES]},
    )
