"""Pipeline definitions and step keys, without launching anything."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from augplat.errors import ConfigError
from augplat.pipeline import load_pipeline_spec, reuse

ROOT = Path(__file__).resolve().parents[2]


def test_named_pipeline_loads_and_set_overrides_params():
    spec, path = load_pipeline_spec("digits", {"gan.epochs": "3", "expand.seed": "1"})
    assert path == ROOT / "pipelines" / "digits.yaml"
    assert spec.name == "digits" and spec.experiment_name == "pipeline-digits"
    assert spec.steps.gan.params["epochs"] == "3" and spec.steps.gan.params["method"] == "cgan"
    assert spec.steps.expand.params["seed"] == "1"


def test_pipelines_are_found_in_the_environment_folder(tmp_path, monkeypatch):
    (tmp_path / "mine.yml").write_text((ROOT / "pipelines" / "digits.yaml").read_text())
    monkeypatch.setenv("AUGPLAT_PIPELINES", str(tmp_path))
    assert load_pipeline_spec("mine")[0].name == "mine"
    with pytest.raises(ConfigError, match=r"known: .*digits.*fer.*mine"):
        load_pipeline_spec("nothing")


def test_floats_are_normalised_and_keys_follow_every_input():
    declared = {"fraction": {"type": "float"}, "seed": {"type": "string"}}
    assert reuse.normalise({"fraction": "0.20", "seed": 1}, declared) == reuse.normalise(
        {"fraction": 0.2, "seed": "1"}, declared
    )
    base = ("gan", "tree-1", {"epochs": "1"}, {"ngf": 8}, {"data": "r1"}, {})
    key = reuse.step_key(*base)
    assert key == reuse.step_key(*base) and len(key) == 32
    for index, changed in [
        (1, "tree-2"),
        (2, {"epochs": "2"}),
        (3, {"ngf": 16}),
        (4, {"data": "r2"}),
        (5, {"path": "abc"}),
    ]:
        other = list(base)
        other[index] = changed
        assert reuse.step_key(*other) != key, index


def test_configs_are_content_addressed(isolated_home):
    first = reuse.write_config({"b": 1, "a": [1, 2]})
    assert first == reuse.write_config({"a": [1, 2], "b": 1})
    assert first.parent == isolated_home / "pipelines" / "configs"
    assert reuse.write_config({"b": 2}) != first


def _run(tags: dict[str, str], run_id: str = "r1"):
    return SimpleNamespace(info=SimpleNamespace(run_id=run_id), data=SimpleNamespace(tags=tags))


def test_outputs_come_from_run_tags_and_must_still_exist():
    from augplat.data import prepare_digits

    ds = prepare_digits(name="tiny", fraction=0.1, size=8)
    tags = {"augplat.dataset": "tiny", "augplat.dataset_digest": ds.digest}
    assert reuse.outputs_of("prepare", _run(tags)) == {"dataset": "tiny", "digest": ds.digest}
    stale = {**tags, "augplat.dataset_digest": "0" * 16}
    assert reuse.outputs_of("expand", _run(stale)) is None  # overwritten since
    assert reuse.outputs_of("prepare", _run({"augplat.dataset": "gone", **stale})) is None
    gan = {"augplat.kind": "gan", "augplat.gan_complete": "true", "augplat.dataset": "tiny"}
    assert reuse.outputs_of("gan", _run(gan, "g1"))["generator"] == "g1"
    assert reuse.outputs_of("gan", _run({**gan, "augplat.gan_complete": "false"})) is None
    study = {"augplat.kind": "study", "augplat.study": "s"}
    assert reuse.outputs_of("study", _run(study)) == {"study": "s"}
    assert json.dumps(reuse.outputs_of("compare", _run({}))) == "{}"
