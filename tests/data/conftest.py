"""Writers of tiny synthetic inputs: FER2013 CSVs in both published forms and image trees."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from augplat.data.fer import FER_PIXELS

USAGES = ("Training", "PublicTest", "PrivateTest")


def fer_rows(per_split=(2, 1, 1), seed: int = 0) -> list[tuple[int, np.ndarray, str]]:
    """``(emotion, pixels, usage)`` rows: every class in every split, random pixels."""
    rng = np.random.default_rng(seed)
    rows = []
    for usage, count in zip(USAGES, per_split, strict=True):
        for emotion in range(7):
            for _ in range(count):
                rows.append((emotion, rng.integers(0, 256, FER_PIXELS, dtype=np.uint8), usage))
    order = rng.permutation(len(rows))  # interleave classes and splits like a real file
    return [rows[i] for i in order]


def fer_line(emotion, pixels, usage, form: str = "fer2013") -> str:
    """One data line in the given form; ``pixels`` may be an array or a ready string."""
    text = pixels if isinstance(pixels, str) else " ".join(map(str, pixels))
    return f"{emotion},{text},{usage}" if form == "fer2013" else f"{emotion},{usage},{text}"


def write_fer(path: Path, rows, form: str = "fer2013", header: str | None = None) -> Path:
    """Write rows (tuples for :func:`fer_line`, or ready strings) as a CSV, gzip if ``.gz``."""
    if header is None:
        header = "emotion,pixels,Usage" if form == "fer2013" else "emotion, Usage, pixels"
    lines = [header] + [r if isinstance(r, str) else fer_line(*r, form=form) for r in rows]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_image(path: Path, size: tuple[int, int], colour: bool, seed: int) -> np.ndarray:
    """Write a random PNG/JPEG/...; return its pixels (H×W or H×W×3)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if colour else (size[1], size[0])
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def write_tree(root: Path, layout: str, per_class=None, colour_every: int = 3) -> Path:
    """An image tree: ``splits`` (train/val/test folders) or ``pool`` (class folders only).

    ``per_class`` maps class → images (pool) or split → {class: images} (splits). Every
    ``colour_every``-th image is RGB, the rest grey; sizes vary between 20 and 40 pixels.
    """
    if layout == "pool":
        groups = {"": per_class or {"cat": 10, "dog": 10, "owl": 10}}
    else:
        groups = per_class or {"train": {"cat": 6, "dog": 6}, "val": {"cat": 2, "dog": 2}}
    k = 0
    for split, classes in groups.items():
        for cls, count in classes.items():
            for i in range(count):
                suffix = (".png", ".bmp", ".png", ".jpg")[k % 4] if colour_every else ".png"
                colour = bool(colour_every) and k % colour_every == 0
                size = (20 + (k * 7) % 21, 20 + (k * 3) % 21)
                write_image(root / split / cls / f"img{i:03d}{suffix}", size, colour, seed=k)
                k += 1
    return root


def home_leftovers(home: Path) -> list[str]:
    """Everything under the data home's datasets/ and cache/ (an aborted run leaves none)."""
    found = []
    for sub in ("datasets", "cache"):
        if (home / sub).exists():
            found += [str(p.relative_to(home)) for p in (home / sub).rglob("*")]
    return found


@pytest.fixture
def fer_csv(tmp_path):
    """A valid fer2013.csv with every class in every split; returns ``(path, rows)``."""
    rows = fer_rows()
    return write_fer(tmp_path / "fer2013.csv", rows), rows
