"""The compiled fast path for clean FER2013 CSVs: one pass over the raw bytes.

A clean file is what the published CSVs are: the header of one of the two forms, then rows of
``emotion`` (one digit 0..6), ``Usage`` (exactly Training, PublicTest or PrivateTest) and
``pixels`` (values 0..255 of at most three digits, one space apart), ``\\n`` or ``\\r\\n``
line ends. Every row is checked against that while it is decoded; one row that is not clean
makes :func:`read_clean` return ``None`` and the caller falls back to the pandas reader, which
diagnoses each bad row with its line number. So this path never changes a result or a message,
only the time: ~0.4 s for the 300 MB file on two cores instead of seconds.

How the time goes: a plain file is memory-mapped and its rows split between threads (a counting
pass finds where each thread's rows start); a ``.gz`` is inflated on one thread (ISA-L when
installed, ~4x zlib) while another decodes the rows already inflated. The file's SHA-256, which
the dataset records, is computed on a third thread meanwhile.

The kernels are Numba-compiled (cached on disk after the first use) and release the GIL; the
threads are ours rather than Numba's ``parallel=True``, whose default pool aborts the process
when two threads launch kernels at once.
"""

from __future__ import annotations

import hashlib
import itertools
import mmap
import os
import queue
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from augplat.data.fer_kernels import (
    _NL,
    _count_byte,
    _line_start,
    _parse_span,
)

HEADERS = {
    ("emotion", "pixels", "Usage"): "fer2013",
    ("emotion", "Usage", "pixels"): "icml_face_data",
}
_MAX_WORKERS = 8
_BYTES_PER_WORKER = 1 << 20  # a thread per MB at least: small files are not worth a thread
_PIECE = 1 << 18  # compressed bytes inflated per step
_HASH_CHUNK = 1 << 22


class CleanFer(NamedTuple):
    labels: np.ndarray  # int64
    split: np.ndarray  # int8 split codes
    pixels: np.ndarray  # uint8 rows×expected
    form: str  # "fer2013" or "icml_face_data"
    sha256: str  # of the file as stored (compressed for .gz)


def _usage_table(usages: dict[str, int]) -> np.ndarray:
    width = max(len(u) for u in usages)
    table = np.zeros((len(usages), width + 2), dtype=np.int64)
    for row, (usage, code) in enumerate(usages.items()):
        data = usage.encode("ascii")
        table[row, :2] = len(data), code
        table[row, 2 : 2 + len(data)] = np.frombuffer(data, dtype=np.uint8)
    return table


def _header(buf) -> tuple[str | None, int]:
    """``(form, start of the first data line)``; form is ``None`` unless the header line is
    one of the two published ones (a header is ~20 bytes: 256 is plenty)."""
    head = bytes(buf[:256])
    newline = head.find(b"\n")
    if newline < 0:
        return None, 0
    try:
        names = head[:newline].decode("ascii").rstrip("\r").split(",")
    except UnicodeDecodeError:
        return None, 0
    return HEADERS.get(tuple(name.strip() for name in names)), newline + 1


class _Rows:
    """Output arrays that grow (doubling) while a stream is decoded."""

    def __init__(self, capacity: int, expected: int):
        self.arrays = (
            np.empty((capacity, expected), dtype=np.uint8),
            np.empty(capacity, dtype=np.int64),
            np.empty(capacity, dtype=np.int8),
            np.empty(capacity, dtype=np.uint8),
        )

    def grow(self, rows: int) -> None:
        def bigger(a):
            new = np.empty((2 * len(a), *a.shape[1:]), dtype=a.dtype)
            new[:rows] = a[:rows]
            return new

        self.arrays = tuple(bigger(a) for a in self.arrays)

    def result(self, rows: int) -> tuple[np.ndarray, ...]:
        return tuple(a[:rows] for a in self.arrays)


class _Spec(NamedTuple):
    """What the kernels need besides the bytes."""

    expected: int
    classes: int
    usages: np.ndarray


def _parse_mapped(buf: np.ndarray, form_start: int, pixel_col: int, spec: _Spec):
    """Rows of an in-memory file, split between threads at line starts."""
    workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1, len(buf) // _BYTES_PER_WORKER))
    bounds = np.linspace(form_start, len(buf), workers + 1).astype(np.int64).tolist()
    chunks = list(itertools.pairwise(bounds))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # Lines starting in [lo, hi) are those after a newline in [lo - 1, hi - 1).
        counts = list(pool.map(lambda c: _count_byte(buf, c[0] - 1, c[1] - 1, _NL), chunks))
        rows = sum(counts)
        out = _Rows(rows, spec.expected).arrays
        firsts = np.cumsum([0, *counts[:-1]]).tolist()

        def parse(chunk, first, count):
            i = _line_start(buf, chunk[0])
            _parse_span(
                buf, i, len(buf), True, first, first + count, pixel_col, spec.classes,
                spec.usages, out,
            )  # fmt: skip

        list(pool.map(parse, chunks, firsts, counts))
    return out


def _inflate(raw: bytes, pieces: queue.Queue) -> None:
    """Put the inflated pieces of ``raw`` (every gzip member) on ``pieces``, then ``None``; an
    exception object if the data is not valid gzip."""
    try:
        from isal import isal_zlib as inflater  # same bytes as zlib, ~4x faster
    except ImportError:
        inflater = zlib
    try:
        while raw:
            inflate = inflater.decompressobj(31)
            for pos in range(0, len(raw), _PIECE):
                pieces.put(inflate.decompress(raw[pos : pos + _PIECE]))
                if inflate.eof:
                    break
            if not inflate.eof:
                raise EOFError("compressed file ended before the end-of-stream marker")
            pieces.put(inflate.flush())
            raw = inflate.unused_data + raw[pos + _PIECE :]  # the next gzip member, if any
        pieces.put(None)
    except Exception as exc:  # handed to the reader, which falls back
        pieces.put(exc)


class _Window:
    """The inflated bytes not decoded yet: pieces are appended, decoded rows dropped.

    Only about one piece is ever held (not the 300 MB file), so no page is faulted in twice.
    """

    def __init__(self, size: int):
        self.buf = np.empty(size, dtype=np.uint8)
        self.filled = 0

    def append(self, piece: bytes, keep_from: int) -> int:
        """Add ``piece``, first dropping the bytes before ``keep_from``; returns by how many
        positions the kept bytes moved down."""
        shift = 0
        if self.filled + len(piece) > len(self.buf):
            shift = keep_from
            self.buf[: self.filled - shift] = self.buf[shift : self.filled]
            self.filled -= shift
            if self.filled + len(piece) > len(self.buf):  # one line longer than the window
                bigger = np.empty(2 * (self.filled + len(piece)), dtype=np.uint8)
                bigger[: self.filled] = self.buf[: self.filled]
                self.buf = bigger
        self.buf[self.filled : self.filled + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
        self.filled += len(piece)
        return shift


def _parse_stream(raw: bytes, spec: _Spec):
    """Rows of a gzip file, decoded while another thread inflates it; ``None`` if the header
    is not a published one or the data is not valid gzip."""
    size_hint = int.from_bytes(raw[-4:], "little") if len(raw) >= 4 else 0  # size mod 2**32
    pieces: queue.Queue = queue.Queue(maxsize=64)
    threading.Thread(target=_inflate, args=(raw, pieces), daemon=True).start()
    window = _Window(8 * _PIECE)
    i, row, pixel_col, rows = -1, 0, 0, None
    while True:
        piece = pieces.get()
        if isinstance(piece, Exception):
            return None
        final = piece is None
        if not final:
            i -= window.append(piece, max(i, 0))
        if i < 0:  # the header line is not in yet
            if window.filled < 256 and not final:
                continue
            form, i = _header(window.buf[: window.filled])
            if form is None:
                _drain(pieces)
                return None
            pixel_col = 1 if form == "fer2013" else 2
            # Clean rows are >= 2 bytes per value: the hint gives an upper bound (if it is right).
            rows = _Rows(max(16, size_hint // (2 * spec.expected)), spec.expected)
        while True:
            capacity = len(rows.arrays[1])
            i, row = _parse_span(
                window.buf, i, window.filled, final, row, capacity, pixel_col, spec.classes,
                spec.usages, rows.arrays,
            )  # fmt: skip
            if row < capacity:
                break
            rows.grow(row)
        if final:
            return rows.result(row), form


def _drain(pieces: queue.Queue) -> None:
    """Let the inflating thread finish (it blocks on a full queue otherwise)."""
    while not isinstance(pieces.get(), Exception | type(None)):
        pass


def _sha256(data) -> str:
    digest = hashlib.sha256()
    view = memoryview(data)
    for pos in range(0, len(view), _HASH_CHUNK):
        digest.update(view[pos : pos + _HASH_CHUNK])  # releases the GIL: runs beside parsing
    return digest.hexdigest()


def read_clean(
    path: Path, expected: int, classes: int, usages: dict[str, int], sha256: str | None = None
) -> CleanFer | None:
    """Decode a clean FER2013 CSV (plain or ``.gz``), or return ``None`` when the file is not
    clean, not readable or empty, so that the exact reader words the problem.

    Args:
        path: The CSV.
        expected: Pixel values per row.
        classes: Labels are the digits ``0..classes-1``.
        usages: Usage text → split code.
        sha256: The file's SHA-256 when the caller knows it (else it is computed meanwhile).
    """
    spec = _Spec(expected, classes, _usage_table(usages))
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return None
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    with ThreadPoolExecutor(max_workers=1) as hasher:
        sha = hasher.submit(_sha256, data) if sha256 is None else None
        if path.suffix == ".gz":
            decoded = _parse_stream(data, spec)
        else:
            buf = np.frombuffer(data, dtype=np.uint8)
            form, start = _header(buf)
            pixel_col = 1 if form == "fer2013" else 2
            decoded = None if form is None else (_parse_mapped(buf, start, pixel_col, spec), form)
            del buf
        digest = sha256 or sha.result()
    if decoded is None:
        return None
    (pixels, labels, split, state), form = decoded
    if not len(labels) or state.any():
        return None
    return CleanFer(labels, split, pixels, form, digest)
