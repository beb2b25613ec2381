"""`augplat data prepare folder` for lab face sets: TIFFs, subjects, folds, duplicates, CSVs."""

from __future__ import annotations

import json

import numpy as np

from augplat.data.store import dataset_dir


def _lab_set(root):
    """A JAFFE-like set of palette TIFFs, subject in the name (KA.AN1.39.tiff)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for s in ("KA", "KL", "KM", "KR", "MK", "NA"):
        for cls in ("AN", "HA"):
            for k in range(3):
                (root / cls).mkdir(parents=True, exist_ok=True)
                pixels = rng.integers(0, 256, (16, 16), dtype=np.uint8)
                Image.fromarray(pixels).convert("P").save(root / cls / f"{s}.{cls}{k}.tiff")
    return root


def test_prepare_lab_tiffs_with_subjects_folds_and_no_hflip(cli, tmp_path):
    root = _lab_set(tmp_path / "jaffe")
    proc = cli(
        "data", "prepare", "folder", str(root), "--size", "16", "--group", r"^([A-Z]+)\.",
        "--folds", "3", "--no-hflip", check=True,
    )  # fmt: skip
    out = proc.stdout
    assert "groups: 6" in out and "disjoint across splits" in out
    assert "folds: 3" in out and "hflip keeps labels: no" in out
    assert "duplicates: 0 exact group(s)" in out
    manifest = json.loads((dataset_dir("jaffe") / "manifest.json").read_text())
    assert manifest["folds"] == 3 and manifest["groups"]["disjoint"] is True
    assert manifest["source"]["options"]["group"] == r"^([A-Z]+)\."
    shown = cli("data", "show", "jaffe", check=True).stdout
    assert "groups: 6" in shown


def test_prepare_from_a_label_csv_with_train_split_and_dedupe_line(cli, tmp_path):
    from PIL import Image

    root = tmp_path / "affect"
    root.mkdir()
    rows = ["label,filename"]
    rng = np.random.default_rng(1)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / f"{i}.webp")
        rows.append(f"{'happy' if i % 2 else 'sad'},{i}.webp")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    proc = cli(
        "data", "prepare", "folder", str(root), "--labels", str(tmp_path / "labels.csv"),
        "--train-split", "0.6", "--size", "8", check=True,
    )  # fmt: skip
    assert "train 12, val 4, test 4 images; 2 classes" in proc.stdout
    bad = cli("data", "prepare", "folder", str(root), "--labels", str(tmp_path / "nope.csv"))
    assert bad.returncode == 2 and "nope.csv: no such file" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
