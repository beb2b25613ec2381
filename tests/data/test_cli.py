"""`augplat data ...` end to end in real subprocesses: summaries, one-line errors, exit code 2,
and nothing left behind in the data home after a failure."""

from __future__ import annotations

import json

import pytest

from tests.data.conftest import fer_line, fer_rows, home_leftovers, write_fer, write_tree


def _one_line_error(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_prepare_digits_then_list_and_show(cli, isolated_home):
    proc = cli("data", "prepare", "digits", "--fraction", "0.1", "--size", "16", check=True)
    assert "prepared digits" in proc.stdout
    assert str(isolated_home / "datasets" / "digits") in proc.stdout.replace("\n", "")
    assert "train 127, val 269, test 269 images; 10 classes; 1×16×16" in proc.stdout
    assert "skipped 0 bad input(s)" in proc.stdout

    listing = cli("data", "list", check=True).stdout
    assert "digits" in listing and "1×16×16" in listing and "127" in listing

    shown = cli("data", "show", "digits", check=True).stdout
    assert "fraction=0.1" in shown and "distribution.png" in shown
    assert "│ 0     │ 12    │ 27  │ 27   │ 66    │" in shown


@pytest.mark.parametrize("form", ["fer2013", "icml"])
def test_prepare_fer_both_forms(cli, tmp_path, form):
    path = write_fer(tmp_path / "faces.csv.gz", fer_rows(), form=form)
    proc = cli("data", "prepare", "fer", "--csv", str(path), check=True)
    assert "prepared fer" in proc.stdout
    assert "train 14, val 7, test 7 images; 7 classes; 1×48×48" in proc.stdout
    assert "Disgust" in cli("data", "show", "fer", check=True).stdout


def test_prepare_folder_uses_the_folder_name(cli, tmp_path):
    root = write_tree(tmp_path / "pets", "pool")
    proc = cli("data", "prepare", "folder", str(root), "--size", "16", "--seed", "1", check=True)
    assert "prepared pets" in proc.stdout and "3×16×16" in proc.stdout


def _bad_row(index: int, **change):
    """A CSV whose data row ``index`` (line index + 2) is changed; returns the lines."""
    rows = fer_rows()
    emotion, pixels, usage = rows[index]
    values = {"emotion": emotion, "pixels": pixels, "usage": usage, **change}
    lines = [fer_line(*r) for r in rows]
    lines[index] = fer_line(values["emotion"], values["pixels"], values["usage"])
    return lines


BAD_CSVS = {
    "pixel count": (
        _bad_row(5, pixels=" ".join(["7"] * 2303)),
        "line 7: expected 2304 pixel values, found 2303",
    ),
    "non-numeric": (
        _bad_row(3, pixels=" ".join(["7"] * 2303 + ["x7"])),
        "line 5: pixel value 'x7' is not a number",
    ),
    "out of range": (
        _bad_row(0, pixels=" ".join(["300"] * 2304)),
        "line 2: pixel value 300 is out of range 0..255",
    ),
    "label": (_bad_row(10, emotion=7), "line 12: emotion '7' is not one of 0..6"),
    "usage": (
        _bad_row(2, usage="Validation"),
        "line 4: Usage 'Validation' is not Training, PublicTest or PrivateTest",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CSVS))
def test_bad_fer_rows_fail_with_the_line_and_leave_nothing(cli, tmp_path, isolated_home, case):
    lines, problem = BAD_CSVS[case]
    path = write_fer(tmp_path / "fer2013.csv", lines)

    message = _one_line_error(cli("data", "prepare", "fer", "--csv", str(path)))

    assert message.startswith(f"error: {path}: {problem}")
    assert "--skip-bad" in message
    assert home_leftovers(isolated_home) == []


def test_skip_bad_skips_and_records_rows(cli, tmp_path):
    lines = _bad_row(5, pixels="1 2 3")
    lines[8] = fer_line(9, fer_rows()[8][1], "Training")
    path = write_fer(tmp_path / "fer2013.csv", lines)

    proc = cli("data", "prepare", "fer", "--csv", str(path), "--skip-bad", check=True)

    assert "skipped 2 bad input(s)" in proc.stdout
    manifest = json.loads(_manifest_text("fer"))
    assert manifest["skipped"] == {
        "count": 2,
        "examples": [
            "line 7: expected 2304 pixel values, found 3",
            "line 10: emotion '9' is not one of 0..6",
        ],
    }
    assert manifest["num_images"] == len(fer_rows()) - 2
    assert "line 10: emotion '9'" in cli("data", "show", "fer", check=True).stdout


def _manifest_text(name: str) -> str:
    from augplat.data import dataset_dir

    return (dataset_dir(name) / "manifest.json").read_text()


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("emotion,Usage", "missing column(s) pixels"),
        ("emotion,pixels,Usage,subject", "unexpected column(s) subject"),
    ],
)
def test_bad_columns(cli, tmp_path, isolated_home, header, problem):
    path = write_fer(tmp_path / "fer2013.csv", [], header=header)
    message = _one_line_error(cli("data", "prepare", "fer", "--csv", str(path), "--skip-bad"))
    assert message.startswith(f"error: {path}: {problem}")
    assert home_leftovers(isolated_home) == []


def test_missing_csv_and_empty_class(cli, tmp_path, isolated_home):
    missing = tmp_path / "nowhere.csv"
    message = _one_line_error(cli("data", "prepare", "fer", "--csv", str(missing)))
    assert message == f"error: {missing}: no such file"

    rows = [r for r in fer_rows() if not (r[0] == 5 and r[2] == "Training")]
    path = write_fer(tmp_path / "fer2013.csv", rows)
    message = _one_line_error(cli("data", "prepare", "fer", "--csv", str(path), "--skip-bad"))
    assert message.startswith(f"error: {path}: class 'Surprise' (emotion 5) has no images")
    assert home_leftovers(isolated_home) == []


def test_unreadable_image_fails_then_skip_bad_records_it(cli, tmp_path, isolated_home):
    root = write_tree(tmp_path / "pets", "pool")
    broken = root / "dog" / "zz-broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")

    message = _one_line_error(cli("data", "prepare", "folder", str(root)))
    assert message.startswith(f"error: {broken}: cannot read image")
    assert home_leftovers(isolated_home) == []

    proc = cli("data", "prepare", "folder", str(root), "--skip-bad", check=True)
    assert "skipped 1 bad input(s)" in proc.stdout
    assert json.loads(_manifest_text("pets"))["skipped"]["count"] == 1


def test_folder_class_without_train_images(cli, tmp_path, isolated_home):
    root = write_tree(tmp_path / "t", "splits", {"train": {"a": 2}, "test": {"a": 1, "b": 1}})
    message = _one_line_error(cli("data", "prepare", "folder", str(root), "--name", "t"))
    assert message == f"error: {root}: class 'b' has no images in the train split"
    assert home_leftovers(isolated_home) == []


def test_bad_name_and_unknown_dataset(cli, isolated_home):
    message = _one_line_error(cli("data", "prepare", "digits", "--name", "../escape"))
    assert "invalid dataset name '../escape'" in message
    message = _one_line_error(cli("data", "show", "fer"))
    assert "augplat data prepare fer --csv PATH" in message
    assert home_leftovers(isolated_home) == []
