"""Decode one image file of any still-image format Pillow reads into canonical pixels.

Lab face sets come as 256×256 TIFFs (some palette-mode, some 16-bit), BMPs, PGMs, CMYK JPEGs
from print pipelines, PNGs with alpha and phone JPEGs with EXIF rotation. Every one becomes an
``H×W`` (grey content) or ``H×W×3`` uint8 array squashed to ``size``×``size``: palette and CMYK
are converted, 16-bit and float grey are scaled down, transparency is flattened on a white
background, EXIF orientation is applied and an animated GIF contributes its first frame.
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import numpy as np

# Modes whose pixels are one grey value (alpha-carrying LA is flattened first, see _flatten).
_GRAY_MODES = {"1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
BACKGROUND = (255, 255, 255)  # transparent pixels become white, as a viewer shows them


@functools.cache
def image_suffixes() -> tuple[str, ...]:
    """Lower-case suffixes of every format Pillow can open (not only save), sorted."""
    from PIL import Image

    Image.init()  # registers every plugin, not only the few imported so far
    return tuple(sorted(ext for ext, fmt in Image.registered_extensions().items()
                        if fmt in Image.OPEN))  # fmt: skip


def is_image_name(path: Path) -> bool:
    """True when the file's suffix belongs to a format Pillow opens."""
    return path.suffix.lower() in image_suffixes()


def _flatten(img):
    """An RGB image with any transparency composited on :data:`BACKGROUND`."""
    from PIL import Image

    rgba = img.convert("RGBA")  # palette transparency needs RGBA first (else a warning)
    canvas = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
    canvas.alpha_composite(rgba)
    return canvas.convert("RGB")


def _has_alpha(img) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _grey(img, size: int) -> np.ndarray:
    """Grey modes (1, L, 16-bit, 32-bit, float) → H×W uint8."""
    from PIL import Image

    if img.mode.startswith(("I", "F")):
        # 16-bit or float grey: scale 0..65535 down when the values need it.
        arr = np.asarray(img, dtype=np.float64)
        arr = arr / 257.0 if arr.max(initial=0) > 255 else arr
        img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
    small = img.convert("L").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(small, dtype=np.uint8)


def decode(data: bytes, size: int) -> np.ndarray:
    """Decode image bytes, squash to ``size``×``size``; H×W if grey content, else H×W×3."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as img:
        img.seek(0)  # animated GIF / multi-page TIFF: the first frame
        img = ImageOps.exif_transpose(img)  # phone JPEGs store rotation in EXIF
        if _has_alpha(img):
            img = _flatten(img)
        elif img.mode in _GRAY_MODES:
            return _grey(img, size)
        # P, CMYK (Pillow undoes Adobe's inverted CMYK), YCbCr, RGB...
        rgb = np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return np.ascontiguousarray(rgb[..., 0])  # stored as RGB, but grey
    return rgb


def load(path: Path, size: int) -> tuple[np.ndarray | None, str, str | None]:
    """``(pixels, sha256 of the file, None)`` or ``(None, sha256, problem)``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, "", f"cannot read file ({exc.strerror or exc})"
    digest = hashlib.sha256(data).hexdigest()
    try:
        return decode(data, size), digest, None
    except Exception as exc:  # Pillow raises a zoo of types for broken files
        return None, digest, f"cannot read image ({type(exc).__name__}: {exc})"


def to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """H×W or H×W×3 → C×H×W with ``channels`` channels (ITU-R 601 luma, as Pillow's ``L``)."""
    if pixels.ndim == 2:
        return np.repeat(pixels[None], channels, axis=0)
    if channels == 3:
        return np.transpose(pixels, (2, 0, 1))
    weights = np.array([19595, 38470, 7471], dtype=np.uint32)
    return ((pixels.astype(np.uint32) @ weights + 32768) >> 16).astype(np.uint8)[None]
