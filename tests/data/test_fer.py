"""FER2013 reader: both CSV forms, plain and gzip, exact pixels, line-numbered errors, cache."""

from __future__ import annotations

import numpy as np
import pytest

import augplat.data.fer as fer
from augplat.data import prepare_fer
from augplat.data.dataset import SPLIT_CODES
from augplat.data.fer import FER_CLASSES, parse_pixels, read_fer
from augplat.errors import DataError
from augplat.runtime.home import cache_dir
from tests.data.conftest import fer_line, fer_rows, write_fer


def _reference(strings, expected):
    """The slow per-row way, as ground truth."""
    return np.stack([np.array(s.split(), dtype=np.int64) for s in strings]).reshape(-1, expected)


@pytest.mark.parametrize("form", ["fer2013", "icml"])
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_both_forms_plain_and_gzip_parse_exactly(tmp_path, form, suffix):
    rows = fer_rows()
    path = write_fer(tmp_path / f"data{suffix}", rows, form=form)

    ds = read_fer(path)

    assert ds.images.shape == (len(rows), 1, 48, 48) and ds.images.dtype == np.uint8
    assert ds.classes == list(FER_CLASSES)
    np.testing.assert_array_equal(ds.images.reshape(len(rows), -1), [r[1] for r in rows])
    np.testing.assert_array_equal(ds.labels, [r[0] for r in rows])
    usage_code = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
    np.testing.assert_array_equal(ds.split, [SPLIT_CODES[usage_code[r[2]]] for r in rows])
    assert ds.source["format"] == ("fer2013" if form == "fer2013" else "icml_face_data")
    assert ds.skipped == {"count": 0, "examples": []}


def test_parse_pixels_matches_per_row_split_across_blocks_and_threads(monkeypatch):
    monkeypatch.setattr(fer, "_BLOCK_BYTES", 64)  # many tiny blocks, several workers
    rng = np.random.default_rng(1)
    values = rng.integers(0, 256, (700, 5))
    values[::7] = rng.integers(0, 10, (100, 5))  # one-digit runs
    strings = [" ".join(map(str, row)) for row in values]
    strings[3] = "  " + strings[3].replace(" ", "   ") + " "  # extra spaces are fine
    strings[5] = strings[5].replace(" ", "\t")  # tabs: slow path, still valid
    strings[8] = " ".join(f"{v:03d}" for v in values[8])  # leading zeros

    out, problems = parse_pixels(strings, expected=5)

    assert problems == {}
    np.testing.assert_array_equal(out, values)
    np.testing.assert_array_equal(out, _reference(strings, 5))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1 2 3 4", "expected 5 pixel values, found 4"),
        ("1 2 3 4 5 6", "expected 5 pixel values, found 6"),
        ("", "expected 5 pixel values, found 0"),
        ("1 2 x 4 5", "pixel value 'x' is not a number"),
        ("1 2 3.5 4 5", "pixel value '3.5' is not a number"),
        ("1 2 -3 4 5", "pixel value '-3' is not a number"),
        ("1 2 ３ 4 5", "pixel value '３' is not a number"),
        ("1 2 256 4 5", "pixel value 256 is out of range 0..255"),
        ("1 2 1000 4 5", "pixel value 1000 is out of range 0..255"),
    ],
)
def test_parse_pixels_finds_the_bad_row_among_good_ones(monkeypatch, text, problem):
    monkeypatch.setattr(fer, "_BLOCK_BYTES", 100)
    good = ["0 1 2 3 255"] * 40
    strings = [*good[:17], text, *good[17:]]

    out, problems = parse_pixels(strings, expected=5)

    assert problems == {17: problem}
    assert (out[17] == 0).all()
    np.testing.assert_array_equal(np.delete(out, 17, axis=0), [[0, 1, 2, 3, 255]] * 40)


def test_parse_pixels_empty_input():
    out, problems = parse_pixels([], expected=4)
    assert out.shape == (0, 4) and problems == {}


def test_bad_row_error_names_file_and_csv_line(tmp_path):
    rows = fer_rows()
    lines = [fer_line(*r) for r in rows]
    lines[4] = fer_line(3, "1 2 3", "Training")  # data row 5 = line 6 (header is line 1)
    lines[9] = fer_line(9, rows[9][1], "Training")
    path = write_fer(tmp_path / "fer2013.csv", lines)

    with pytest.raises(DataError) as err:
        read_fer(path)

    message = str(err.value)
    assert message.startswith(f"{path}: line 6: expected 2304 pixel values, found 3")
    assert "1 more bad row" in message and "--skip-bad" in message


def test_skip_bad_drops_and_counts_rows_with_their_lines(tmp_path):
    rows = fer_rows(per_split=(3, 1, 1))
    lines = [fer_line(*r) for r in rows]
    lines[0] = fer_line(7, rows[0][1], rows[0][2])  # line 2: emotion out of range
    lines.insert(3, "")  # blank line 5: ignored, but it still counts for numbering
    lines[6] = fer_line(rows[5][0], rows[5][1], "Validation")  # line 8: unknown Usage
    lines[8] = lines[8] + ",extra"  # line 10: a fourth field
    path = write_fer(tmp_path / "fer2013.csv", lines)

    ds = read_fer(path, skip_bad=True)

    assert ds.skipped["count"] == 3
    assert ds.skipped["examples"] == [
        "line 2: emotion '7' is not one of 0..6",
        "line 8: Usage 'Validation' is not Training, PublicTest or PrivateTest",
        "line 10: expected 3 fields, found 4",
    ]
    kept = [r for i, r in enumerate(rows) if i not in (0, 5, 7)]
    np.testing.assert_array_equal(ds.images.reshape(len(kept), -1), [r[1] for r in kept])
    np.testing.assert_array_equal(ds.labels, [r[0] for r in kept])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("emotion,pixels", "missing column(s) Usage"),
        ("emotion,pixels,Usage,extra", "unexpected column(s) extra"),
        ("label,pixels,Usage", "missing column(s) emotion; unexpected column(s) label"),
    ],
)
def test_column_problems_name_the_columns(tmp_path, header, expected):
    path = write_fer(tmp_path / "x.csv", [], header=header)
    with pytest.raises(DataError) as err:
        read_fer(path)
    assert str(err.value).startswith(f"{path}: {expected} (expected the header")


def test_empty_class_is_structural_even_with_skip_bad(tmp_path):
    rows = [r for r in fer_rows() if not (r[0] == 1 and r[2] == "Training")]
    path = write_fer(tmp_path / "fer2013.csv", rows)
    with pytest.raises(
        DataError, match=r"class 'Disgust' \(emotion 1\) has no images in the train"
    ):
        read_fer(path, skip_bad=True)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_fer(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: file is empty"):
        read_fer(tmp_path / "empty.csv")


def _cache_entries():
    return sorted(p for p in cache_dir().iterdir() if p.is_dir())


def test_second_prepare_reuses_the_cached_parse(fer_csv, monkeypatch):
    path, _ = fer_csv
    first = prepare_fer(path)
    entries = _cache_entries()
    assert len(entries) == 1
    stamp = (entries[0] / "images.npy").stat().st_mtime_ns

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed again despite the cache")

    monkeypatch.setattr(fer, "read_fer", no_parse)
    second = prepare_fer(path, name="fer-again")

    np.testing.assert_array_equal(second.images, first.images)
    assert second.digest == first.digest and second.name == "fer-again"
    assert second.source["sha256"] == first.source["sha256"]
    assert _cache_entries() == entries
    assert (entries[0] / "images.npy").stat().st_mtime_ns == stamp


def test_a_changed_file_is_parsed_again_even_at_the_same_size(tmp_path):
    rows = fer_rows()
    path = write_fer(tmp_path / "fer2013.csv", rows)
    first = prepare_fer(path)
    text = path.read_text()
    changed = text.replace(",1 ", ",2 ", 1) if ",1 " in text else text.replace(" 1 ", " 2 ", 1)
    assert changed != text and len(changed) == len(text)
    path.write_text(changed)

    second = prepare_fer(path)

    assert second.source["sha256"] != first.source["sha256"]
    assert not np.array_equal(second.images, first.images)
    assert len(_cache_entries()) == 2


def test_the_same_bytes_at_another_path_share_the_cache_entry(fer_csv, tmp_path):
    path, _ = fer_csv
    first = prepare_fer(path)
    copy = tmp_path / "copy" / "fer2013.csv"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())

    second = prepare_fer(copy, name="fer-copy")

    assert second.source["sha256"] == first.source["sha256"]
    assert second.source["path"] == str(copy.resolve())
    assert len(_cache_entries()) == 1


def test_cache_key_includes_skip_bad(fer_csv):
    path, _ = fer_csv
    prepare_fer(path)
    prepare_fer(path, skip_bad=True)
    assert len(_cache_entries()) == 2


def test_windows_line_endings_and_byte_order_mark(tmp_path):
    rows = fer_rows()
    lines = ["emotion,pixels,Usage"] + [fer_line(*r) for r in rows]
    path = tmp_path / "fer2013.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))

    ds = read_fer(path)

    np.testing.assert_array_equal(ds.images.reshape(len(rows), -1), [r[1] for r in rows])
