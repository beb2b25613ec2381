"""Exact and near-duplicates within and across splits: reported, and removed with --dedupe."""

from __future__ import annotations

import json

import numpy as np

from augplat.data.duplicates import dhash, find_duplicates
from augplat.data.folder import SplitPlan, read_folder


def _smooth(seed: int, size: int = 32) -> np.ndarray:
    """A face-like smooth grey image (random low-frequency blobs), H×W uint8."""
    from PIL import Image

    small = np.random.default_rng(seed).integers(0, 256, (6, 6), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))


def _tree(root, n=30):
    """Pool of 2 classes with an exact copy and a slightly changed copy of two images."""
    from PIL import Image

    for i in range(n):
        d = root / ("a" if i % 2 else "b")
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_smooth(i)).save(d / f"{i:03d}.png")
    Image.fromarray(_smooth(1)).save(root / "a" / "copy.png")  # pixel-identical twin
    changed = np.clip(_smooth(3).astype(int) + 6, 0, 255).astype(np.uint8)  # brighter copy
    Image.fromarray(changed).save(root / "a" / "changed.jpg", quality=90)
    return root


def test_slightly_changed_copy_is_near_but_unrelated_images_are_not():
    a = _smooth(3)[None, None]
    b = np.clip(a.astype(int) + 6, 0, 255).astype(np.uint8)
    c = _smooth(4)[None, None]
    ha, hb, hc = dhash(np.concatenate([a, b, c]))
    assert bin(int(ha) ^ int(hb)).count("1") <= 2
    assert bin(int(ha) ^ int(hc)).count("1") > 10


def test_duplicates_across_splits_exact_and_changed_are_reported():
    images = np.stack([_smooth(i) for i in range(6)])[:, None]
    brighter = np.clip(images[1:2].astype(int) + 5, 0, 255).astype(np.uint8)
    images = np.concatenate([images, images[:1], brighter])
    split = np.array([0, 0, 0, 1, 2, 2, 2, 1], dtype=np.int8)  # twins of 0 and 1 in test/val
    report, near = find_duplicates(images, split, ["train", "val", "test"])
    assert report["exact"]["groups"] == 1 and report["exact"]["cross_groups"] == 1
    assert report["exact"]["leaking"] == 1  # the test copy of a train image
    assert report["near"]["groups"] == 2 and report["near"]["cross_groups"] == 2
    assert report["near"]["leaking"] == 2
    assert near[0] == near[6] and near[1] == near[7] and near[0] != near[1]


def test_folder_manifest_reports_and_dedupe_removes_from_val_test_only(tmp_path):
    root = _tree(tmp_path / "set")
    plan = SplitPlan(val_fraction=0.3, test_fraction=0.3, seed=0)
    ds = read_folder(root, size=32, plan=plan)
    dup = ds.checks["duplicates"]
    assert dup["exact"]["groups"] == 1 and dup["near"]["groups"] >= 2
    assert dup["removed"] == 0  # default: report only
    names = [p for pair in dup["near"]["examples"] for p in pair]
    leaking = dup["near"]["leaking"]
    assert leaking >= 1  # the exact twin landed in val and test

    deduped = read_folder(root, size=32, plan=SplitPlan(0.3, 0.3, 0, dedupe=True))
    assert deduped.checks["duplicates"]["removed"] == leaking
    assert len(deduped.images) == len(ds.images) - leaking
    assert ds.counts()["train"] == deduped.counts()["train"]  # train is never touched
    again = find_duplicates(deduped.images, deduped.split, ["train", "val", "test"])[0]
    assert again["near"]["leaking"] == 0 and again["near"]["cross_groups"] == 0
    assert all("(" in n for n in names)  # examples name the file and its split


def test_prepared_manifest_has_duplicates(tmp_path):
    from augplat.data import prepare_folder
    from augplat.data.store import dataset_dir

    prepare_folder(_tree(tmp_path / "set"), name="set", size=32)
    manifest = json.loads((dataset_dir("set") / "manifest.json").read_text())
    assert manifest["duplicates"]["exact"]["groups"] == 1
    assert manifest["duplicates"]["threshold"] == 4


def test_near_copies_counts_generated_images_that_reproduce_held_out_ones():
    from augplat.data.duplicates import near_copies

    held_out = np.stack([_smooth(i) for i in range(5)])[:, None]
    twin = np.clip(held_out[2:3].astype(int) + 4, 0, 255).astype(np.uint8)  # a test image's twin
    generated = np.concatenate([np.stack([_smooth(100 + i) for i in range(6)])[:, None], twin])
    assert near_copies(generated, held_out) == 1
    assert near_copies(generated[:6], held_out) == 0
    assert near_copies(np.repeat(generated, 3, axis=1), held_out) == 1  # RGB vs grey
