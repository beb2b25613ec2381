"""The named-dataset store: prepare → save, resolve names and paths, list, atomicity."""

from __future__ import annotations

import json

import numpy as np
import pytest

import augplat.data.store as store
from augplat.data import (
    ImageDataset,
    dataset_dir,
    list_datasets,
    load_dataset,
    prepare_digits,
    prepare_fer,
    prepare_folder,
)
from augplat.errors import DataError, UserError
from augplat.runtime.fsutil import file_sha256
from augplat.runtime.home import datasets_dir
from tests.data.conftest import home_leftovers, write_tree


def test_prepare_fer_saves_manifest_plot_and_source(fer_csv):
    path, _ = fer_csv
    ds = prepare_fer(path, name="faces")

    directory = dataset_dir("faces")
    assert (directory / "distribution.png").stat().st_size > 0
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["source"] == {
        "reader": "fer",
        "format": "fer2013",
        "path": str(path.resolve()),
        "sha256": file_sha256(path),
        "options": {"skip_bad": False},
    }
    assert manifest["counts"]["train"]["Happy"] == 2
    assert manifest["skipped"] == {"count": 0, "examples": []}
    loaded = load_dataset("faces")
    np.testing.assert_array_equal(loaded.images, ds.images)
    assert loaded.digest == ds.digest


def test_load_by_path_and_list(tmp_path):
    prepare_digits(name="tiny", fraction=0.05, size=8)
    prepare_folder(write_tree(tmp_path / "pets", "pool"), size=8)
    (datasets_dir() / ".tiny.abc.tmp").mkdir()  # an unrelated temp dir is not a dataset

    assert [m["name"] for m in list_datasets()] == ["pets", "tiny"]
    assert list_datasets()[1]["path"] == str(dataset_dir("tiny"))
    assert load_dataset(dataset_dir("pets")).name == "pets"
    assert load_dataset(str(dataset_dir("tiny"))).shape == (1, 8, 8)


def test_digits_is_prepared_on_first_use_only(monkeypatch):
    ds = load_dataset("digits")
    assert ds.name == "digits" and (dataset_dir("digits") / "manifest.json").is_file()

    monkeypatch.setattr(store, "prepare_digits", lambda *a, **k: pytest.fail("prepared again"))
    assert load_dataset("digits").digest == ds.digest


def test_fer_not_prepared_says_how_to_get_it():
    with pytest.raises(DataError) as err:
        load_dataset("fer")
    message = str(err.value)
    for part in ("fer2013.csv", "icml_face_data.csv", "Kaggle", "augplat data prepare fer --csv"):
        assert part in message
    assert "\n" not in message


def test_unknown_name_lists_prepared_names_and_how_to_prepare():
    prepare_digits(name="small", fraction=0.05, size=8)
    with pytest.raises(
        DataError, match=r"unknown dataset 'cats' \(prepared: small\).*prepare fold"
    ):
        load_dataset("cats")
    with pytest.raises(DataError, match="no such dataset directory"):
        load_dataset("./not/here")


@pytest.mark.parametrize("name", ["a b", "../up", ".hidden", "", "x/y", "-dash"])
def test_names_must_be_simple(name):
    with pytest.raises(UserError, match="invalid dataset name"):
        prepare_digits(name=name)


def test_folder_name_defaults_to_its_basename_and_must_be_valid(tmp_path):
    assert prepare_folder(write_tree(tmp_path / "my-pets", "pool"), size=8).name == "my-pets"
    with pytest.raises(UserError, match="pass --name"):
        prepare_folder(write_tree(tmp_path / "my pets", "pool"), size=8)


def test_a_failure_while_saving_leaves_nothing_behind(monkeypatch, isolated_home):
    def broken_plot(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("augplat.runtime.plots.class_distribution", broken_plot)
    with pytest.raises(RuntimeError, match="disk full"):
        prepare_digits(size=8)
    assert home_leftovers(isolated_home) == []


def test_preparing_again_replaces_the_dataset(tmp_path):
    prepare_digits(name="d", size=8, fraction=0.05)
    ds = prepare_digits(name="d", size=8, fraction=0.1)
    assert ImageDataset.load(dataset_dir("d")).digest == ds.digest
    assert sorted(p.name for p in datasets_dir().iterdir()) == ["d"]
