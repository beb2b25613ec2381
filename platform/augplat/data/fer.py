"""FER2013 from either published CSV: ``fer2013.csv`` or ``icml_face_data.csv``, plain or gzip.

``fer2013.csv`` has the columns ``emotion,pixels,Usage``; ``icml_face_data.csv`` has
``emotion, Usage, pixels`` (note the spaces, stripped here). Each row is one 48x48 grayscale face
as 2304 space-separated values 0..255; Usage maps Training/PublicTest/PrivateTest to
train/val/test.

A clean file (the published fer2013.csv is one) is decoded by the compiled one-pass reader in
:mod:`augplat.data.fer_fast` (~0.4 s for the full file). Anything else comes here: pandas splits
the columns and the pixel strings of a block of rows (~256 kB) are decoded with a dozen NumPy
passes; a block that is not clean (wrong count, stray characters, values above 255) is bisected
down to single rows, which get an exact diagnosis. Rows are named by their CSV line number
(header = line 1).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from augplat.data.dataset import SPLIT_CODES, ImageDataset
from augplat.errors import DataError
from augplat.runtime.fsutil import file_sha256

log = logging.getLogger(__name__)

FER_CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
FER_SIDE = 48
FER_PIXELS = FER_SIDE * FER_SIDE
COLUMNS = ("emotion", "pixels", "Usage")
USAGE_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FIRST_DATA_LINE = 2  # the header is line 1
MAX_EXAMPLES = 5  # skipped rows quoted in the manifest
_BLOCK_BYTES = 1 << 18  # characters decoded per NumPy pass: small buffers stay in cache
_MAX_WORKERS = 8  # threads; NumPy drops the GIL for most passes
_SKIP_HINT = "(pass --skip-bad to skip bad rows)"


def _pixel_problem(text: str, expected: int) -> tuple[str | None, np.ndarray | None]:
    """Slow, exact check of one pixel string: ``(problem, None)`` or ``(None, values)``."""
    tokens = text.split()
    if len(tokens) != expected:
        return f"expected {expected} pixel values, found {len(tokens)}", None
    for token in tokens:
        if not (token.isascii() and token.isdigit()):
            return f"pixel value {token!r} is not a number", None
        if int(token) > 255:
            return f"pixel value {int(token)} is out of range 0..255", None
    return None, np.array([int(t) for t in tokens], dtype=np.uint8)


class _Scratch:
    """Buffers one worker reuses for every block it decodes.

    Fresh multi-megabyte temporaries per block make the allocator hand pages back to the OS and
    fault them in again; on small VMs that cost more than the decoding itself (2-3x measured).
    """

    def __init__(self, size: int):
        self.text = bytearray(size)
        self.work = np.empty((4, size), dtype=np.uint8)

    def load(self, strings: list[str]) -> np.ndarray:
        """Copy ``"  row0 row1 ... rowN "`` into the text buffer and return it as uint8.

        Two leading spaces let every token look back two bytes; the trailing one ends the last.
        Non-ASCII characters become '?' (one byte each, so row offsets stay exact).
        """
        text, pos = self.text, 2
        text[0:2] = b"  "
        for row in strings:
            data = row.encode("ascii", "replace")
            text[pos : pos + len(data)] = data
            text[pos + len(data)] = 32
            pos += len(data) + 1
        return np.frombuffer(text, dtype=np.uint8, count=pos)


def _decode_clean(strings: list[str], expected: int, scratch: _Scratch, out: np.ndarray) -> bool:
    """Decode a block of clean pixel strings into ``out``; False if any row is not clean.

    Clean means: only ASCII digits and spaces, ``expected`` values per row, each 0..255 with at
    most three digits. Anything else is left to :func:`_pixel_problem`. Every full-length step
    writes into ``scratch``; arithmetic stays uint8 (bool operands force slow casting loops).
    """
    buf = scratch.load(strings)
    size = len(buf)
    digit, flags, tmp, packed = (w[:size] for w in scratch.work)
    is_digit, spaces = flags.view(bool), tmp.view(bool)
    np.less(np.subtract(buf, 48, out=digit), 10, out=is_digit)  # wrap-around: non-digits >= 10
    if np.count_nonzero(is_digit) + np.count_nonzero(np.equal(buf, 32, out=spaces)) != size:
        return False  # stray characters: letters, '-', '.', tabs, '?'
    pairs, quads = spaces[: size - 1], packed[: size - 3].view(bool)
    np.logical_and(is_digit[1:], is_digit[:-1], out=pairs)
    if np.logical_and(pairs[2:], pairs[:-2], out=quads).any():
        return False  # a value with four or more digits
    # Token ends (a digit followed by a non-digit), indexed as position - 2.
    ends = np.flatnonzero(np.greater(is_digit[2:-1], is_digit[3:], out=quads))
    row_ends = np.cumsum([len(row) + 1 for row in strings])
    per_row = np.diff(np.searchsorted(ends, row_ends), prepend=0)
    if len(ends) != len(strings) * expected or (per_row != expected).any():
        return False
    # At a token end p: value = 100 * hundreds + 10 * tens + ones. Spaces are 0x20, so `& 15`
    # maps them to 0; the hundreds digit only counts when position p - 1 is a digit too.
    np.bitwise_and(buf, 15, out=digit)
    tens_ones, hundreds = packed[: size - 2], tmp[: size - 2]
    np.add(np.multiply(digit[1:-1], 10, out=tens_ones), digit[2:], out=tens_ones)
    np.multiply(digit[:-2], flags[1:-1], out=hundreds)
    values = hundreds.take(ends).astype(np.uint16)
    values *= 100
    values += tens_ones.take(ends)
    if values.max(initial=0) > 255:
        return False
    np.copyto(out.reshape(-1), values, casting="unsafe")
    return True


def _parse_range(strings, lo, hi, expected, scratch, out, problems) -> None:
    """Decode rows ``lo:hi`` fast; bisect a dirty block down to the rows that need a diagnosis."""
    if _decode_clean(strings[lo:hi], expected, scratch, out[lo:hi]):
        return
    if hi - lo == 1:
        problem, row = _pixel_problem(strings[lo], expected)
        if problem is None:
            out[lo] = row  # e.g. tabs or leading zeros: odd but valid
        else:
            problems[lo] = problem
        return
    mid = (lo + hi) // 2
    _parse_range(strings, lo, mid, expected, scratch, out, problems)
    _parse_range(strings, mid, hi, expected, scratch, out, problems)


def _parse_share(strings, lo, hi, expected, out, problems) -> None:
    """One worker's share of rows, in blocks of about ``_BLOCK_BYTES`` characters."""
    lengths = [len(row) + 1 for row in strings[lo:hi]]
    step = max(1, int(_BLOCK_BYTES / (sum(lengths) / max(1, len(lengths)))))
    longest = max((sum(lengths[i : i + step]) for i in range(0, len(lengths), step)), default=0)
    scratch = _Scratch(longest + 3)
    for start in range(lo, hi, step):
        _parse_range(strings, start, min(start + step, hi), expected, scratch, out, problems)


def parse_pixels(strings: list[str], expected: int = FER_PIXELS) -> tuple[np.ndarray, dict]:
    """Parse space-separated pixel strings into a uint8 array, vectorised and threaded.

    Args:
        strings: One string of ``expected`` values 0..255 per row.
        expected: Values per row.

    Returns:
        ``(values, problems)``: uint8 ``len(strings)×expected`` and ``{row index: problem}`` for
        rows that could not be parsed (their values are zero).
    """
    out = np.zeros((len(strings), expected), dtype=np.uint8)
    problems: dict[int, str] = {}
    if not strings:
        return out, problems
    # NumPy releases the GIL in the heavy steps, so shares decode in parallel.
    workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1, len(strings) // 256))
    bounds = np.linspace(0, len(strings), workers + 1).astype(int).tolist()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = [
            pool.submit(_parse_share, strings, lo, hi, expected, out, problems)
            for lo, hi in itertools.pairwise(bounds)
        ]
        for job in jobs:
            job.result()
    return out, dict(sorted(problems.items()))


def _short(text: str, limit: int = 24) -> str:
    """``text`` cut to ``limit`` characters for an error message (a pixel string is 8 kB)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_table(path: Path):
    """Read the CSV as strings; return ``(frame, bad_lines)``.

    The frame's columns are the stripped header names and its index is the CSV line number of
    each row (header = line 1). ``bad_lines`` maps lines pandas could not split into 3 fields to
    the problem. Blank lines are dropped.
    """
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(
                path, dtype=object, na_filter=False, skip_blank_lines=False, on_bad_lines="warn"
            )
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: file is empty") from None
        except UnicodeDecodeError:
            raise DataError(f"{path}: not a text CSV file (cannot decode it as UTF-8)") from None
        except (pd.errors.ParserError, OSError, EOFError, ValueError) as exc:
            raise DataError(f"{path}: cannot read it as CSV: {exc}") from None
    bad_lines = {}
    for warning in (w for w in caught if issubclass(w.category, pd.errors.ParserWarning)):
        for number, problem in re.findall(r"line (\d+): (.*)", str(warning.message)):
            bad_lines[int(number)] = problem.replace(" saw ", " found ")
    frame.columns = [str(c).strip() for c in frame.columns]
    # pandas renumbers rows after a skipped line: shift each row past every skipped line.
    lines = np.arange(len(frame)) + FIRST_DATA_LINE
    for skipped in sorted(bad_lines):
        lines[lines >= skipped] += 1
    frame.index = lines
    return frame[~(frame == "").all(axis=1)], bad_lines


def _check_columns(path: Path, names: list[str]) -> str:
    """Raise unless the header is one of the two FER2013 forms; return the form's name."""
    missing = [c for c in COLUMNS if c not in names]
    extra = [_short(c) for c in names if c not in COLUMNS]
    if missing or extra:
        parts = [f"missing column(s) {', '.join(missing)}"] if missing else []
        parts += [f"unexpected column(s) {', '.join(extra)}"] if extra else []
        raise DataError(
            f"{path}: {'; '.join(parts)} (expected the header emotion,pixels,Usage of "
            f"fer2013.csv or emotion, Usage, pixels of icml_face_data.csv)"
        )
    return "icml_face_data" if names.index("Usage") < names.index("pixels") else "fer2013"


def _decode_rows(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
    """Labels, split codes and pixels of every row, plus ``{line: problem}`` for bad rows."""
    emotion = frame["emotion"].str.strip()
    usage = frame["Usage"].str.strip()
    labels = emotion.map({str(i): i for i in range(len(FER_CLASSES))})
    split = usage.map({u: SPLIT_CODES[s] for u, s in USAGE_SPLITS.items()})
    pixels, pixel_problems = parse_pixels(frame["pixels"].tolist())
    lines = frame.index.to_numpy()
    problems = {int(lines[i]): problem for i, problem in pixel_problems.items()}
    for i in np.flatnonzero(split.isna().to_numpy()):
        problems[int(lines[i])] = (
            f"Usage {_short(usage.iloc[i])!r} is not Training, PublicTest or PrivateTest"
        )
    for i in np.flatnonzero(labels.isna().to_numpy()):
        problems[int(lines[i])] = f"emotion {_short(emotion.iloc[i])!r} is not one of 0..6"
    labels = labels.fillna(0).to_numpy(dtype=np.int64)
    return labels, split.fillna(0).to_numpy(dtype=np.int8), pixels, problems


def _read_clean(path: Path, sha256: str | None):
    """The compiled one-pass reader's result for a clean file, else ``None``."""
    try:
        from augplat.data.fer_fast import read_clean
    except Exception as exc:  # no Numba wheel here, or no writable kernel cache: slower, same
        log.info("compiled FER2013 reader unavailable (%s): parsing with pandas", exc)
        return None
    usages = {usage: SPLIT_CODES[split] for usage, split in USAGE_SPLITS.items()}
    return read_clean(path, FER_PIXELS, len(FER_CLASSES), usages, sha256)


def read_fer(
    path: str | Path, skip_bad: bool = False, name: str = "fer", sha256: str | None = None
) -> ImageDataset:
    """Read FER2013 from ``fer2013.csv`` or ``icml_face_data.csv`` (plain or ``.gz``).

    Args:
        path: The CSV file.
        skip_bad: Skip malformed rows and record them in ``skipped``; otherwise the first bad row
            raises. Structural problems (missing file or columns, an empty class) always raise.
        name: Dataset name.
        sha256: The file's SHA-256 if the caller already has it (hashing 100 MB takes a while).

    Returns:
        The canonical dataset: uint8 ``N×1×48×48`` images, emotions 0..6, Usage as split.

    Raises:
        DataError: With the file and the CSV line number of the problem.
    """
    path = Path(path).expanduser()
    clean = _read_clean(path, sha256)
    if clean is not None:
        labels, split, pixels, fmt, sha256 = clean
        problems, row_problems = {}, {}
    else:  # not clean (or no Numba): the exact reader, which words every problem
        frame, problems = _read_table(path)
        fmt = _check_columns(path, list(frame.columns))
        labels, split, pixels, row_problems = _decode_rows(frame)
        problems.update(row_problems)
    if problems and not skip_bad:
        line = min(problems)
        more = f"; {len(problems) - 1} more bad row(s)" if len(problems) > 1 else ""
        raise DataError(f"{path}: line {line}: {problems[line]}{more} {_SKIP_HINT}")
    if row_problems:  # copying 80 MB of pixels only when something was dropped
        keep = ~np.isin(frame.index.to_numpy(), list(row_problems))
        labels, split, pixels = labels[keep], split[keep], pixels[keep]
    if not len(labels):
        raise DataError(f"{path}: no data rows")
    train_counts = np.bincount(labels[split == SPLIT_CODES["train"]], minlength=len(FER_CLASSES))
    empty = np.flatnonzero(train_counts == 0)
    if len(empty):
        names = ", ".join(f"{FER_CLASSES[i]!r} (emotion {i})" for i in empty)
        raise DataError(f"{path}: class {names} has no images in the train split (Usage Training)")
    if problems:
        log.warning("%s: skipped %d bad row(s)", path, len(problems))
    return ImageDataset(
        images=pixels.reshape(-1, 1, FER_SIDE, FER_SIDE),
        labels=labels,
        split=split,
        classes=list(FER_CLASSES),
        name=name,
        source={
            "reader": "fer",
            "format": fmt,
            "path": str(path.resolve()),
            "sha256": sha256 or file_sha256(path),
            "options": {"skip_bad": skip_bad},
        },
        skipped={
            "count": len(problems),
            "examples": [f"line {n}: {problems[n]}" for n in sorted(problems)[:MAX_EXAMPLES]],
        },
    )
