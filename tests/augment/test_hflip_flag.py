"""A prepared dataset says whether a horizontal mirror keeps labels; classic policies obey."""

from __future__ import annotations

import json

import torch

from augplat.augment import ClassicAugment
from augplat.classify.config import TrainConfig
from augplat.data import load_dataset, prepare_digits, prepare_folder
from augplat.data.store import dataset_dir
from tests.data.conftest import write_tree


def test_digits_are_never_mirrored_by_the_default_policy():
    # Old code: the default policy flipped digits with p 0.5 (a mirrored 7 is not a 7).
    from augplat.classify.setup import build_setup

    prepare_digits(fraction=0.1, size=8)
    assert load_dataset("digits").hflip is False
    cfg = TrainConfig(data="digits", model="simplecnn", aug="classic", aug_policy="default")
    s = build_setup(cfg)
    assert "hflip" not in s.augment.ops and "crop" in s.augment.ops


def test_hflip_false_drops_only_the_flip():
    x = torch.rand(64, 1, 8, 8)
    only_flip = ClassicAugment({"hflip": {"p": 1.0}}, hflip=False)
    assert torch.equal(only_flip(x, torch.Generator().manual_seed(0)), x)
    assert not torch.equal(ClassicAugment({"hflip": {"p": 1.0}})(x), x)


def test_folders_flip_unless_told_and_the_manifest_says_so(tmp_path):
    root = write_tree(tmp_path / "faces", "pool", {"a": 4, "b": 4})
    prepare_folder(root, name="faces", size=8)
    prepare_folder(root, name="signs", size=8, hflip=False)
    assert load_dataset("faces").hflip is True
    assert load_dataset("signs").hflip is False
    manifest = json.loads((dataset_dir("signs") / "manifest.json").read_text())
    assert manifest["hflip"] is False
