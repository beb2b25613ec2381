"""ImageFolder reader: both layouts, colour handling, resizing, seeded stratified splits."""

from __future__ import annotations

import numpy as np
import pytest

from augplat.data.dataset import SPLIT_CODES
from augplat.data.folder import read_folder
from augplat.errors import DataError, UserError
from tests.data.conftest import write_image, write_tree


def test_split_layout_carves_missing_test_and_unions_classes(tmp_path):
    root = write_tree(
        tmp_path / "tree",
        "splits",
        {"train": {"cat": 10, "dog": 10}, "val": {"cat": 2, "dog": 1, "eel": 1}},
    )
    # eel has no train images: add some so that the class set is a real union
    for i in range(4):
        write_image(root / "train" / "eel" / f"e{i}.png", (24, 30), colour=False, seed=100 + i)

    ds = read_folder(root, size=16, test_fraction=0.25, seed=3)

    assert ds.classes == ["cat", "dog", "eel"]
    assert ds.shape == (3, 16, 16)  # some images are RGB: auto → 3 channels
    counts = ds.counts()
    assert counts["val"] == {"cat": 2, "dog": 1, "eel": 1}  # val/ exists: nothing carved
    assert counts["test"] == {"cat": 3, "dog": 3, "eel": 1}  # 25 % of train, per class
    assert counts["train"] == {"cat": 7, "dog": 7, "eel": 3}
    assert ds.source["layout"] == "splits" and len(ds.source["sha256"]) == 64


def test_pool_layout_is_split_by_seeded_stratified_fractions(tmp_path):
    root = write_tree(tmp_path / "pool", "pool", {"a": 20, "b": 10, "c": 10})

    ds = read_folder(root, size=12, val_fraction=0.2, test_fraction=0.1, seed=7)
    again = read_folder(root, size=12, val_fraction=0.2, test_fraction=0.1, seed=7)
    other = read_folder(root, size=12, val_fraction=0.2, test_fraction=0.1, seed=8)

    assert ds.counts() == {
        "train": {"a": 14, "b": 7, "c": 7},
        "val": {"a": 4, "b": 2, "c": 2},
        "test": {"a": 2, "b": 1, "c": 1},
    }
    np.testing.assert_array_equal(ds.split, again.split)
    assert ds.digest == again.digest
    assert not np.array_equal(ds.split, other.split)
    assert ds.source["layout"] == "pool"


@pytest.mark.parametrize(("channels", "expected"), [("auto", 1), (3, 3), ("1", 1)])
def test_grey_images_and_channel_choice(tmp_path, channels, expected):
    root = tmp_path / "grey"
    originals = [
        write_image(root / "x" / f"{i}.png", (10, 10), colour=False, seed=i) for i in range(3)
    ]
    write_image(root / "y" / "0.png", (10, 10), colour=False, seed=9)

    ds = read_folder(root, size=10, channels=channels, val_fraction=0, test_fraction=0)

    assert ds.shape == (expected, 10, 10)
    # size unchanged: pixels survive exactly, copied into every channel
    for c in range(expected):
        np.testing.assert_array_equal(ds.images[:3, c], originals)


def test_colour_to_grey_uses_luma_and_resize_squashes(tmp_path):
    root = tmp_path / "rgb"
    rgb = write_image(root / "x" / "0.png", (40, 20), colour=True, seed=1)
    write_image(root / "y" / "0.png", (8, 8), colour=True, seed=2)

    ds = read_folder(root, size=20, channels=1, val_fraction=0, test_fraction=0)

    from PIL import Image

    expected = Image.fromarray(rgb).resize((20, 20), Image.Resampling.BICUBIC).convert("L")
    assert ds.shape == (1, 20, 20)
    assert np.abs(ds.images[0, 0].astype(int) - np.asarray(expected, dtype=int)).max() <= 1


def test_hidden_files_and_other_suffixes_are_ignored(tmp_path):
    root = write_tree(tmp_path / "t", "pool", {"a": 2, "b": 2}, colour_every=0)
    (root / "a" / "notes.txt").write_text("not an image")
    write_image(root / "a" / ".hidden.png", (8, 8), colour=False, seed=0)
    write_image(root / "b" / "nested" / "deep.PNG", (8, 8), colour=False, seed=0)

    ds = read_folder(root, size=8, val_fraction=0, test_fraction=0)

    assert ds.counts()["train"] == {"a": 2, "b": 3}


def test_unreadable_image_names_the_file_and_skip_bad_counts_it(tmp_path):
    root = write_tree(tmp_path / "t", "pool", {"a": 3, "b": 3})
    broken = root / "b" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")

    with pytest.raises(DataError, match=rf"^{broken}: cannot read image"):
        read_folder(root)
    ds = read_folder(root, skip_bad=True)

    assert ds.skipped["count"] == 1
    assert ds.skipped["examples"][0].startswith(f"{broken}: cannot read image")
    assert ds.counts()["train"]["b"] + ds.counts()["val"]["b"] + ds.counts()["test"]["b"] == 3


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda r: None, "no such directory"),
        (lambda r: r.mkdir(), "no class folders"),
        (lambda r: (r / "val" / "a").mkdir(parents=True), "has val/ but no train/ folder"),
        (
            lambda r: [(r / d / "a").mkdir(parents=True) for d in ("train", "valid")],
            "unexpected folder valid/",
        ),
        (lambda r: (r / "a").mkdir(parents=True), "no image files"),
    ],
)
def test_malformed_trees(tmp_path, build, message):
    root = tmp_path / "root"
    build(root)
    with pytest.raises(DataError, match=message):
        read_folder(root)


def test_class_without_train_images_is_named(tmp_path):
    root = write_tree(tmp_path / "t", "splits", {"train": {"a": 3}, "val": {"a": 1, "b": 2}})
    with pytest.raises(DataError, match=r"class 'b' has no images in the train split"):
        read_folder(root, skip_bad=True)


@pytest.mark.parametrize(
    "kwargs",
    [{"size": 2}, {"channels": 2}, {"val_fraction": 0.6, "test_fraction": 0.4}],
)
def test_bad_options(tmp_path, kwargs):
    root = write_tree(tmp_path / "t", "pool", {"a": 2})
    with pytest.raises(UserError):
        read_folder(root, **kwargs)


def test_split_codes_cover_only_train_when_all_folders_exist(tmp_path):
    root = write_tree(
        tmp_path / "t",
        "splits",
        {"train": {"a": 2, "b": 2}, "val": {"a": 1, "b": 1}, "test": {"a": 1, "b": 1}},
    )
    ds = read_folder(root, size=8)
    assert sorted(np.unique(ds.split).tolist()) == sorted(SPLIT_CODES.values())
    assert ds.counts()["train"] == {"a": 2, "b": 2}


def test_every_supported_suffix_loads_without_warnings(tmp_path):
    import warnings

    from PIL import Image

    rng = np.random.default_rng(0)
    for i, suffix in enumerate((".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")):
        for cls in ("a", "b"):
            img = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
            if suffix == ".gif":
                img.convert("P").save(tmp_path / cls / f"{i}{suffix}", transparency=0)
            else:
                (tmp_path / cls).mkdir(exist_ok=True)
                img.save(tmp_path / cls / f"{i}{suffix}")
    # A palette PNG with per-entry transparency: Pillow warns unless it goes through RGBA.
    palette = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).convert("P")
    palette.save(tmp_path / "a" / "palette.png", transparency=bytes([0, 255] * 128))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = read_folder(tmp_path, size=12, val_fraction=0, test_fraction=0)

    assert ds.counts()["train"] == {"a": 7, "b": 6}
    assert ds.shape == (3, 12, 12)
