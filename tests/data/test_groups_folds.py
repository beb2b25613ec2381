"""Subject-aware splits and k-fold: no subject crosses splits, folds cover every image once."""

from __future__ import annotations

import numpy as np
import pytest

from augplat.data.dataset import SPLIT_CODES
from augplat.data.folder import SplitPlan, read_folder
from augplat.errors import DataError, UserError


def _subjects(root, subjects=12, frames=5, classes=("anger", "joy", "fear")):
    """A CK+-style pool: every subject has a few frames in each class (S007_003_00000012.png)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for s in range(subjects):
        for c, cls in enumerate(classes):
            for f in range(frames):
                d = root / cls
                d.mkdir(parents=True, exist_ok=True)
                pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
                Image.fromarray(pixels).save(d / f"S{s:03d}_{c:03d}_{f:08d}.png")
    return root


def _names(root):
    return sorted(p.name for p in root.rglob("*.png"))


def test_grouped_split_never_puts_a_subject_in_two_splits(tmp_path):
    root = _subjects(tmp_path / "ck")
    plan = SplitPlan(val_fraction=0.2, test_fraction=0.2, seed=3, group=r"^(S\d+)_")
    ds = read_folder(root, size=8, plan=plan)
    groups = ds.checks["groups"]
    assert groups["disjoint"] is True and groups["count"] == 12
    names = {s: set(groups["names"][s]) for s in ("train", "val", "test")}
    assert not names["train"] & names["val"] and not names["train"] & names["test"]
    assert not names["val"] & names["test"]
    assert all(names.values())  # every split has subjects
    assert sum(groups["per_split"].values()) == 12
    # Old code / random split: 12 subjects × 15 frames would put most subjects in every split.
    random_ds = read_folder(root, size=8, val_fraction=0.2, test_fraction=0.2, seed=3)
    assert "groups" not in random_ds.checks


def test_grouped_split_agrees_with_the_files(tmp_path):
    root = _subjects(tmp_path / "ck", subjects=10, frames=3)
    ds = read_folder(root, size=8, plan=SplitPlan(0.2, 0.2, 1, group=r"^(S\d+)_"))
    # Pool items come class by class, files sorted inside each class.
    paths = [p for c in ds.classes for p in sorted((root / c).glob("*.png"))]
    subject = np.array([p.name[:4] for p in paths])
    for s in np.unique(subject):
        assert len(np.unique(ds.split[subject == s])) == 1, s


def test_groups_from_a_csv_and_clear_errors(tmp_path):
    root = _subjects(tmp_path / "ck", subjects=6, frames=2)
    rows = ["filename,group"] + [f"{n},{n[:4]}" for n in _names(root)]
    (tmp_path / "g.csv").write_text("\n".join(rows) + "\n")
    ds = read_folder(root, size=8, plan=SplitPlan(0.2, 0.2, 0, groups_csv=tmp_path / "g.csv"))
    assert ds.checks["groups"]["disjoint"] and ds.checks["groups"]["count"] == 6
    with pytest.raises(DataError, match="does not match --group"):
        read_folder(root, size=8, plan=SplitPlan(group=r"^X(\d+)"))
    with pytest.raises(UserError, match="not a valid regular expression"):
        read_folder(root, size=8, plan=SplitPlan(group="("))


def test_folds_cover_every_image_once_and_keep_subjects_together(tmp_path):
    root = _subjects(tmp_path / "ck", subjects=10, frames=3)
    ds = read_folder(root, size=8, plan=SplitPlan(seed=0, group=r"^(S\d+)_", folds=5))
    assert ds.num_folds == 5 and ds.folds.shape == (len(ds.images),)
    assert sorted(np.unique(ds.folds).tolist()) == [0, 1, 2, 3, 4]
    assert ds.checks["groups"]["folds_disjoint"] is True
    tested = np.zeros(len(ds.images), dtype=int)
    for i in range(5):
        view = ds.fold_view(i)
        tested += view.split == SPLIT_CODES["test"]
        assert (view.split[ds.folds == i] == SPLIT_CODES["test"]).all()
        assert (view.split[ds.folds == (i + 1) % 5] == SPLIT_CODES["val"]).all()
        assert view.digest != ds.fold_view((i + 1) % 5).digest
    assert (tested == 1).all()  # every image tested exactly once over the folds
    with pytest.raises(DataError, match=r"folds 0\.\.4"):
        ds.fold_view(5)


def test_folds_survive_save_and_load(tmp_path):
    from augplat.data import load_dataset, prepare_folder

    root = _subjects(tmp_path / "ck", subjects=6, frames=2)
    prepare_folder(root, name="ck", size=8, plan=SplitPlan(folds=3, group=r"^(S\d+)_"))
    ds = load_dataset("ck")
    assert ds.num_folds == 3 and "groups" in ds.checks
    with pytest.raises(DataError, match="has no folds"):
        read_folder(root, size=8).fold_view(0)


def test_split_layout_carves_val_by_subject_and_flags_given_splits_that_cross(tmp_path):
    _subjects(tmp_path / "set" / "train", subjects=8, frames=3)
    _subjects(tmp_path / "set" / "test", subjects=2, frames=1)  # S000, S001 also in train/
    ds = read_folder(tmp_path / "set", size=8, plan=SplitPlan(0.25, 0.1, 0, group=r"^(S\d+)_"))
    groups = ds.checks["groups"]
    assert groups["disjoint"] is False and groups["crossing"] == ["S000", "S001"]
    assert not set(groups["names"]["val"]) & set(groups["names"]["train"])  # carved by subject
    assert groups["per_split"]["val"] >= 1 and ds.counts()["test"]["joy"] == 2
