"""The compiled FER2013 reader: exact on clean files, refuses anything else, across threads and
inflate pieces; read_fer falls back to the exact reader exactly when it refuses."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

import augplat.data.fer as fer
import augplat.data.fer_fast as fer_fast
from augplat.data.dataset import SPLIT_CODES
from augplat.data.fer import FER_CLASSES, FER_PIXELS, USAGE_SPLITS, read_fer
from tests.data.conftest import fer_line, fer_rows, write_fer

USAGE_CODES = {usage: SPLIT_CODES[split] for usage, split in USAGE_SPLITS.items()}


def _read(path: Path):
    return fer_fast.read_clean(path, FER_PIXELS, len(FER_CLASSES), USAGE_CODES)


def _check(result, rows, path: Path, form="fer2013"):
    assert result is not None, "a clean file was refused"
    np.testing.assert_array_equal(result.pixels, [r[1] for r in rows])
    np.testing.assert_array_equal(result.labels, [r[0] for r in rows])
    np.testing.assert_array_equal(result.split, [USAGE_CODES[r[2]] for r in rows])
    assert result.form == ("fer2013" if form == "fer2013" else "icml_face_data")
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def many_threads(monkeypatch):
    """Split even a tiny file between several threads, with boundaries inside rows."""
    monkeypatch.setattr(fer_fast, "_BYTES_PER_WORKER", 1000)
    monkeypatch.setattr(fer_fast.os, "cpu_count", lambda: 8)


@pytest.fixture
def tiny_pieces(monkeypatch):
    """Inflate a few bytes at a time, so rows and numbers straddle every piece boundary."""
    monkeypatch.setattr(fer_fast, "_PIECE", 97)


@pytest.mark.parametrize("form", ["fer2013", "icml"])
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_clean_files_decode_exactly(tmp_path, form, suffix, many_threads, tiny_pieces):
    rows = fer_rows(per_split=(3, 2, 2), seed=1)
    path = write_fer(tmp_path / f"faces{suffix}", rows, form=form)
    _check(_read(path), rows, path, form)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_crlf_and_no_final_newline(tmp_path, suffix, many_threads, tiny_pieces):
    rows = fer_rows()
    text = "\r\n".join(["emotion,pixels,Usage"] + [fer_line(*r) for r in rows])
    path = tmp_path / f"faces{suffix}"
    data = text.encode()
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    _check(_read(path), rows, path)


def test_multi_member_gzip_outgrows_its_size_hint(tmp_path, tiny_pieces):
    """The trailer of the last member gives only that member's size: buffers must grow."""
    rows = fer_rows(per_split=(4, 2, 2))
    lines = [fer_line(*r) + "\n" for r in rows]
    members = [b"emotion,pixels,Usage\n" + "".join(lines[:-1]).encode(), lines[-1].encode()]
    path = tmp_path / "faces.csv.gz"
    path.write_bytes(b"".join(gzip.compress(m) for m in members))
    _check(_read(path), rows, path)


def _dirty(rows, index: int, line: str) -> list[str]:
    lines = [fer_line(*r) for r in rows]
    lines[index] = line
    return lines


PIXELS = " ".join(["7"] * FER_PIXELS)
DIRTY_LINES = {
    "four digits": "3," + PIXELS.replace("7", "0007", 1) + ",Training",
    "above 255": "3," + PIXELS.replace("7", "256", 1) + ",Training",
    "one value short": "3," + PIXELS[2:] + ",Training",
    "one value more": "3," + PIXELS + " 7,Training",
    "two spaces": "3," + PIXELS.replace(" ", "  ", 1) + ",Training",
    "trailing space": "3," + PIXELS + " ,Training",
    "a tab": "3," + PIXELS.replace(" ", "\t", 1) + ",Training",
    "a minus sign": "3," + PIXELS.replace("7", "-7", 1) + ",Training",
    "emotion 7": "7," + PIXELS + ",Training",
    "emotion two digits": "03," + PIXELS + ",Training",
    "emotion missing": "," + PIXELS + ",Training",
    "usage unknown": "3," + PIXELS + ",Train",
    "usage lower case": "3," + PIXELS + ",training",
    "usage padded": "3," + PIXELS + ", Training",
    "quoted pixels": '3,"' + PIXELS + '",Training',
    "extra column": "3," + PIXELS + ",Training,x",
    "blank line": "",
    "lone carriage return": "3," + PIXELS + ",Training\r\r",
}


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize("case", sorted(DIRTY_LINES))
def test_any_unclean_row_is_refused(tmp_path, case, suffix, many_threads, tiny_pieces):
    rows = fer_rows()
    path = write_fer(tmp_path / f"faces{suffix}", _dirty(rows, 5, DIRTY_LINES[case]))
    assert _read(path) is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"emotion,pixels,Usage",
        b"emotion,Usage\n3,Training\n",
        "\ufeffemotion,pixels,Usage\n".encode(),
        b"\xff\xfe,pixels,Usage\n",
    ],
    ids=["empty", "header only", "other header", "byte order mark", "not ascii"],
)
def test_files_without_clean_rows_are_refused(tmp_path, content):
    path = tmp_path / "faces.csv"
    path.write_bytes(content)
    assert _read(path) is None


def test_broken_gzip_is_refused(tmp_path):
    good = gzip.compress(("emotion,pixels,Usage\n" + fer_line(*fer_rows()[0]) + "\n").encode())
    (tmp_path / "cut.csv.gz").write_bytes(good[: len(good) // 2])
    (tmp_path / "plain.csv.gz").write_bytes(b"emotion,pixels,Usage\n")
    assert _read(tmp_path / "cut.csv.gz") is None
    assert _read(tmp_path / "plain.csv.gz") is None


def test_read_fer_uses_the_compiled_path_for_clean_files(tmp_path, monkeypatch):
    rows = fer_rows()
    path = write_fer(tmp_path / "faces.csv", rows)

    def no_pandas(*args, **kwargs):
        raise AssertionError("the slow reader ran on a clean file")

    monkeypatch.setattr(fer, "_read_table", no_pandas)
    ds = read_fer(path)
    np.testing.assert_array_equal(ds.images.reshape(len(rows), -1), [r[1] for r in rows])


def test_both_readers_build_the_same_dataset(tmp_path, monkeypatch):
    path = write_fer(tmp_path / "faces.csv.gz", fer_rows(per_split=(3, 1, 2), seed=4), "icml")
    fast = read_fer(path)
    monkeypatch.setattr(fer, "_read_clean", lambda path, sha256: None)
    exact = read_fer(path)
    assert fast.digest == exact.digest
    assert fast.source == exact.source and fast.skipped == exact.skipped


def test_a_refused_file_gets_the_exact_readers_message(tmp_path):
    rows = fer_rows()
    path = write_fer(tmp_path / "faces.csv", _dirty(rows, 5, DIRTY_LINES["above 255"]))
    with pytest.raises(fer.DataError, match=r"line 7: pixel value 256 is out of range 0\.\.255"):
        read_fer(path)
