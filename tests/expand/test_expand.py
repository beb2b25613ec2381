"""`augplat expand`: exact counts, lineage, untouched val/test, flags; bad input exits 2, clean."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from augplat.data import dataset_dir, load_dataset
from augplat.expand import ExpandConfig, expand_dataset, load_synthetic_flags, plan_additions
from tests.expand import MARKER, client, generator_runs, runs_of_kind


def _train_counts(ds) -> np.ndarray:
    return np.bincount(ds.arrays("train")[1], minlength=ds.num_classes)


def _check_untouched(src, out) -> None:
    """Real images first, byte for byte and in order; val and test identical; flags right."""
    n = len(src.images)
    for key in ("images", "labels", "split"):
        assert getattr(out, key)[:n].tobytes() == getattr(src, key)[:n].tobytes(), key
    for split in ("val", "test"):
        for a, b in zip(out.arrays(split), src.arrays(split), strict=True):
            assert a.tobytes() == b.tobytes(), split
    flags = load_synthetic_flags(out.name)
    assert flags.dtype == bool and len(flags) == len(out.images)
    assert not flags[:n].any() and flags[n:].all()
    assert (out.split[flags] == 0).all()  # synthetic images are train images only
    assert not load_synthetic_flags(src.name).any()


def test_plan_additions():
    per_class, target = plan_additions(np.array([3, 7, 5]), 4, None)
    assert per_class.tolist() == [4, 4, 4] and target is None
    add, target = plan_additions(np.array([3, 7, 5]), None, None)
    assert add.tolist() == [4, 0, 2] and target == 7
    add, target = plan_additions(np.array([10, 7]), None, 1.1)  # 11.000000000000002 → 11
    assert add.tolist() == [1, 4] and target == 11


def test_balance_with_stargan_counts_lineage_run_and_determinism():
    runs = generator_runs()
    src = load_dataset("digits")
    cfg = ExpandConfig(data="digits", generator=runs["stargan"], balance=True, multiplier=1.5)
    result = expand_dataset(cfg)
    out = load_dataset("digits-expanded")
    before = _train_counts(src)
    target = math.ceil(before.max() * 1.5)
    assert (_train_counts(out) == target).all()
    added = target - before
    _check_untouched(src, out)
    # StarGAN moves images of OTHER classes to the target class.
    origin = np.load(dataset_dir(out.name) / "synthetic_source.npy")
    syn = load_synthetic_flags(out.name)
    assert (origin[~syn] == -1).all() and (src.labels[origin[syn]] != out.labels[syn]).all()

    meta = json.loads((dataset_dir(out.name) / "manifest.json").read_text())
    lineage = meta["source"]
    assert lineage["reader"] == "expand" and lineage["mode"] == "balance"
    assert lineage["generator_run"] == runs["stargan"] and lineage["gan_method"] == "stargan"
    assert lineage["source_dataset"] == "digits" and lineage["source_digest"] == src.digest
    assert lineage["seed"] == 0 and lineage["multiplier"] == 1.5
    assert lineage["target_per_class"] == target and lineage["strategy"] == "translate-other"
    assert lineage["synthetic"]["total"] == int(added.sum()) == int(syn.sum())
    assert lineage["synthetic"]["per_class"] == dict(zip(src.classes, added.tolist(), strict=True))
    assert lineage["expand_run"] == result.run_id
    assert (dataset_dir(out.name) / "distribution.png").is_file()

    run = client().get_run(result.run_id)
    tags = run.data.tags
    assert run.info.status == "FINISHED" and tags["augplat.kind"] == "expand"
    assert tags["augplat.generator"] == runs["stargan"]
    assert tags["augplat.source_digest"] == src.digest
    assert tags["augplat.dataset_digest"] == out.digest
    inputs = {
        i.tags[0].value: (i.dataset.name, i.dataset.digest) for i in run.inputs.dataset_inputs
    }
    assert inputs["expansion"] == (out.name, out.digest)
    assert inputs["source"] == ("digits", src.digest)
    assert run.data.params["mode"] == "balance" and run.data.params["multiplier"] == "1.5"
    assert run.data.metrics["num_synthetic"] == added.sum()
    assert run.data.metrics["synthetic_near_val_test"] >= 0  # checked against val/test
    names = {a.path for a in client().list_artifacts(result.run_id, "expansion")}
    assert names == {
        f"expansion/{n}"
        for n in ("distribution_before.png", "distribution_after.png", "synthetic_samples.png")
    }

    again = expand_dataset(cfg.model_copy(update={"name": "again"}))
    assert again.dataset.digest == out.digest  # deterministic for a seed
    other = expand_dataset(cfg.model_copy(update={"name": "other", "seed": 1}))
    assert other.dataset.digest != out.digest


def test_per_class_with_cgan_samples_exactly_n_new_images():
    runs = generator_runs()
    src = load_dataset("digits")
    cfg = ExpandConfig(data="digits", generator=runs["cgan"], per_class=3, name="plus3")
    result = expand_dataset(cfg)
    out = load_dataset("plus3")
    assert (_train_counts(out) - _train_counts(src) == 3).all()
    assert result.strategy == "generate" and result.added == dict.fromkeys(src.classes, 3)
    _check_untouched(src, out)
    assert (np.load(dataset_dir("plus3") / "synthetic_source.npy") == -1).all()
    assert out.source["mode"] == "per-class" and out.source["per_class"] == 3


def test_domain_translator_makes_style_copies_of_the_same_class():
    runs = generator_runs()
    src = load_dataset("digits")
    result = expand_dataset(
        ExpandConfig(generator="marker", data="digits", per_class=2, name="styled")
    )
    out = load_dataset("styled")
    syn = load_synthetic_flags("styled")
    assert result.strategy == "style" and out.source["generator_run"] == runs["marker"]
    assert (out.images[syn] == round(MARKER * 255)).all()
    origin = np.load(dataset_dir("styled") / "synthetic_source.npy")[syn]
    assert (src.labels[origin] == out.labels[syn]).all()  # copies of the same class


def test_classic_balancing_through_the_cli(cli):
    generator_runs()  # the tiny data, and a ready store (creating one costs seconds)
    src = load_dataset("digits")
    proc = cli(
        "expand", "--classic", "--policy", "light", "--balance", "--data", "digits",
        "--name", "balanced", check=True,
    )  # fmt: skip
    assert "dataset=balanced" in proc.stdout
    out = load_dataset("balanced")
    assert (_train_counts(out) == _train_counts(src).max()).all()
    _check_untouched(src, out)
    syn = load_synthetic_flags("balanced")
    origin = np.load(dataset_dir("balanced") / "synthetic_source.npy")[syn]
    assert (src.labels[origin] == out.labels[syn]).all()
    lineage = out.source
    assert lineage["mode"] == "balance" and lineage["policy"] == "light"
    assert lineage["generator_run"] is None and lineage["strategy"] == "classic"
    (run,) = runs_of_kind("expand")
    assert run.data.tags["augplat.source_digest"] == src.digest


BAD = [
    (["--generator", "{stargan}", "--data", "digits"], "--per-class N or --balance"),
    (["--generator", "{stargan}", "--data", "digits", "--balance", "--per-class", "2"], "exactly"),
    (["--generator", "{stargan}", "--data", "digits", "--per-class", "0"], "--per-class"),
    (["--generator", "{stargan}", "--data", "digits", "--balance", "--multiplier", "0.5"], "--mul"),
    (["--generator", "{stargan}", "--data", "nodata", "--balance"], "unknown dataset 'nodata'"),
    (["--generator", "nope", "--data", "digits", "--balance"], "no GAN run"),
    (["--generator", "{cgan}", "--data", "digits8", "--balance"], "1×8×8"),
]


@pytest.mark.parametrize(("args", "fragment"), BAD)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, args, fragment):
    runs = generator_runs()
    before = sorted(p.name for p in Path(dataset_dir("digits")).parent.iterdir())
    proc = cli("expand", *(a.format(**runs) for a in args))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert sorted(p.name for p in Path(dataset_dir("digits")).parent.iterdir()) == before
    assert runs_of_kind("expand") == []
