"""Numba kernels of the FER2013 fast path: find rows, check and decode them from raw bytes.

Every kernel is compiled once (cached on disk) and releases the GIL, so
:mod:`augplat.data.fer_fast` can run them on its own threads. A row that is not clean is
reported as ``_BAD`` and never guessed at: the caller then falls back to the pandas reader.
"""

from __future__ import annotations

import numba
import numpy as np

_NL, _CR, _COMMA, _SPACE, _ZERO = 10, 13, 44, 32, 48
_OK, _BAD, _INCOMPLETE = 0, 1, 2  # row states

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _count_byte(buf, lo, hi, byte):
    count = 0
    for i in range(lo, hi):
        count += buf[i] == byte
    return count


@_jit
def _line_start(buf, lo):
    """Start of the first line that starts at or after ``lo`` (``len(buf)`` if none)."""
    i = lo
    if i > 0:
        while i <= len(buf) and buf[i - 1] != _NL:
            i += 1
    return min(i, len(buf))


@_jit
def _usage_code(buf, i, j, usages):
    """Split code of the Usage text ``buf[i:j]``, or -1.

    ``usages`` rows are ``[length, split code, bytes..., zero padding]``.
    """
    for u in range(usages.shape[0]):
        if usages[u, 0] == j - i:
            same = True
            for t in range(j - i):
                same = same and buf[i + t] == usages[u, 2 + t]
            if same:
                return usages[u, 1]
    return -1


@_jit
def _digit(byte):
    """The value of an ASCII digit, or -1."""
    value = np.int64(byte) - _ZERO
    return value if 0 <= value <= 9 else -1


@_jit
def _parse_pixels(buf, i, stop, out):
    """Decode ``len(out)`` values at ``buf[i:]``; the index after them, or -1 unless they are
    values 0..255 of 1-3 digits, one space apart."""
    n = len(out)
    if stop - i < 4 * n:  # near the end of what is in: check every index
        return _parse_pixels_checked(buf, i, stop, out)
    # Every value and its space fit before ``stop``: no bounds checks (~25 % faster).
    for k in range(n):
        value = _digit(buf[i])
        if value < 0:
            return -1
        tens = _digit(buf[i + 1])
        if tens < 0:
            i += 1
        else:
            ones = _digit(buf[i + 2])
            if ones < 0:
                value, i = value * 10 + tens, i + 2
            else:
                value, i = value * 100 + tens * 10 + ones, i + 3
                if value > 255 or _digit(buf[i]) >= 0:
                    return -1
        out[k] = value
        if k + 1 < n:
            if buf[i] != _SPACE:
                return -1
            i += 1
    return i


@_jit
def _parse_pixels_checked(buf, i, stop, out):
    """:func:`_parse_pixels` with a bounds check on every byte."""
    k = 0
    while k < len(out):
        value, digits = 0, 0
        while i < stop and digits < 4 and _ZERO <= buf[i] <= _ZERO + 9:
            value = value * 10 + buf[i] - _ZERO
            i += 1
            digits += 1
        if digits == 0 or digits > 3 or value > 255:
            return -1
        out[k] = value
        k += 1
        if k < len(out):
            if i >= stop or buf[i] != _SPACE:
                return -1
            i += 1
    return i


@_jit
def _skip_line(buf, i, stop, final):
    """``(state, next)`` for a line that failed: bad if it is complete, else incomplete."""
    while i < stop and buf[i] != _NL:
        i += 1
    if i < stop:
        return _BAD, i + 1
    return (_BAD, stop) if final else (_INCOMPLETE, 0)


@_jit
def _parse_row(buf, i, stop, final, pixel_col, classes, usages, out):
    """``(state, next line, label, split code)`` of the line at ``i``; pixels go to ``out``.

    Only ``buf[:stop]`` is read; unless ``final``, a line not ended by a newline there is
    incomplete (more bytes are coming).
    """
    start, label, code = i, -1, -1
    if i + 1 < stop and _ZERO <= buf[i] < _ZERO + classes and buf[i + 1] == _COMMA:
        label, i = buf[i] - _ZERO, i + 2
        for field in (1, 2):
            if field == pixel_col:
                i = _parse_pixels(buf, i, stop, out)
            else:
                j = i
                while j < stop and buf[j] != _COMMA and buf[j] != _NL and buf[j] != _CR:
                    j += 1
                code = _usage_code(buf, i, j, usages)
                i = j if code >= 0 else -1
            if i >= 0 and field == 1:
                i = i + 1 if i < stop and buf[i] == _COMMA else -1
            if i < 0:
                break
        if i >= 0:
            if i < stop and buf[i] == _CR:
                i += 1
            if i < stop and buf[i] == _NL:
                return _OK, i + 1, label, code
            if i == stop and final:
                return _OK, i, label, code
    state, i = _skip_line(buf, start, stop, final)
    return state, i, label, code


@_jit
def _parse_span(buf, i, stop, final, row, row_end, pixel_col, classes, usages, out):
    """Decode lines from ``i`` into rows ``row..row_end-1`` while they are complete in
    ``buf[:stop]``; returns where it stopped ``(i, row)``.

    ``out`` is ``(pixels, labels, split, state)``; ``state[r]`` is 0 for a clean row.
    """
    pixels, labels, split, state = out
    while row < row_end and i < stop:
        status, nxt, label, code = _parse_row(
            buf, i, stop, final, pixel_col, classes, usages, pixels[row]
        )
        if status == _INCOMPLETE:
            break
        labels[row], split[row], state[row] = label, code, status
        row, i = row + 1, nxt
    return i, row
