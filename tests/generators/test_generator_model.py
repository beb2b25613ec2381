"""Every generator (trained or imported) is an MLflow model: metadata, roles served by a pyfunc
loaded in a fresh process, and one model per run however often the run is resumed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from augplat.errors import UserError
from augplat.generators import load_generator, serving, train_gan
from augplat.generators.roles import Role
from tests.generators import prepare_tiny_data, tiny_config

# Loads each model by URI and serves every requested role; nothing of augplat imported first.
FRESH_PROCESS = r"""
import json, sys
import numpy as np
assert "augplat" not in sys.modules
import mlflow
jobs = json.load(open(sys.argv[1]))
models = {}
for i, job in enumerate(jobs):
    if job["uri"] not in models:
        models[job["uri"]] = mlflow.pyfunc.load_model(job["uri"])
    inputs = dict(np.load(job["inputs"]))
    out = models[job["uri"]].predict(inputs, params={"role": job["role"], "seed": 7})
    np.save(job["out"], out)
"""


def _client():
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")


def _models(run_id: str) -> list:
    client = _client()
    experiment = client.get_run(run_id).info.experiment_id
    return client.search_logged_models([experiment], filter_string=f"source_run_id = '{run_id}'")


def _import_toy(tmp_path: Path) -> str:
    from torch import nn

    from augplat.generators import import_translator

    torch.manual_seed(0)
    toy = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid()).eval()
    torch.jit.script(toy).save(str(tmp_path / "toy.pt"))
    return import_translator(tmp_path / "toy.pt", "toy", channels=3, size=16)


def _inputs(gan, role: str) -> tuple[np.ndarray, np.ndarray]:
    c, s = gan.spec.channels, gan.spec.size
    images = torch.rand(4, c, s, s, generator=torch.Generator().manual_seed(0)).numpy()
    labels = np.arange(4, dtype=np.int64) % max(1, len(gan.spec.classes))
    if role == "sample":
        images = np.zeros((0, c, s, s), np.float32)
    return images, labels


def _expected(gan, role: str, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = gan.make(
        Role(role),
        torch.from_numpy(images) if role != "sample" else None,
        torch.from_numpy(labels),
        strength=serving.DEFAULT_STRENGTH,
        generator=torch.Generator().manual_seed(7),
    )
    return out.float().cpu().numpy()


def test_every_generator_is_a_pyfunc_model_serving_its_roles(tmp_path):
    import mlflow

    prepare_tiny_data()
    runs = {
        m: train_gan(tiny_config(m, max_steps=2)).run_id for m in ("cgan", "stargan", "cyclegan")
    }
    runs["imported"] = _import_toy(tmp_path)
    jobs, expected = [], []
    for method, run_id in runs.items():
        (model,) = _models(run_id)
        assert model.name == serving.MODEL_NAME and str(model.status) == "READY"
        meta = mlflow.models.get_model_info(model.model_uri).metadata
        gan = load_generator(run_id)
        assert meta["augplat_method"] == method
        assert set(meta["roles"]) == {r.value for r in gan.roles.offered}
        assert meta["roles"][0] == gan.roles.augment.value  # predict's default role
        assert meta["condition_semantics"] == json.loads(json.dumps(gan.condition_semantics))
        assert meta["image_shape"] == [gan.spec.channels, gan.spec.size, gan.spec.size]
        digest = _client().get_run(run_id).data.tags.get("augplat.train_hashes_digest")
        assert meta["training_data"]["train_hashes_digest"] == digest
        assert (digest is None) == (method == "imported")
        for role in meta["roles"]:
            images, labels = _inputs(gan, role)
            np.savez(tmp_path / f"{method}-{role}.npz", images=images, labels=labels)
            stem = str(tmp_path / f"{method}-{role}")
            jobs.append(
                {
                    "uri": model.model_uri,
                    "role": role,
                    "inputs": f"{stem}.npz",
                    "out": f"{stem}.npy",
                }
            )
            expected.append(_expected(gan, role, images, labels))
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{Path.cwd() / 'mlflow.db'}"}
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(tmp_path / "jobs.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {j["role"] for j in jobs} == {"variation", "translation", "style", "sample"}
    for job, want in zip(jobs, expected, strict=True):
        got = np.load(job["out"])
        assert got.dtype == np.float32 and got.shape == (4, *want.shape[1:]), job
        assert got.min() >= 0 and got.max() <= 1, job
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=str(job))


def test_a_resumed_run_keeps_one_model_and_bad_roles_are_refused():
    import mlflow

    from augplat import tracking
    from augplat.runtime.home import runs_dir

    prepare_tiny_data()
    run_id = train_gan(tiny_config("cgan", max_steps=2)).run_id
    assert train_gan(tiny_config("cgan"), resume=run_id).run_id == run_id  # finished: a no-op
    gan = load_generator(run_id)
    logger = tracking.connect().logger(run_id)
    assert serving.log_model(logger, gan, runs_dir() / run_id / "generator") is False
    (model,) = _models(run_id)
    assert model.name == serving.MODEL_NAME
    # What the model loads knows its run and training images (provenance checks still work).
    loaded = mlflow.pyfunc.load_model(model.model_uri).unwrap_python_model().method
    assert loaded.provenance.run_id == run_id
    assert loaded.provenance.hashes == gan.provenance.hashes and loaded.provenance.hashes
    images, labels = _inputs(gan, "variation")
    with pytest.raises(UserError, match="serves sample, variation, not role 'translation'"):
        serving.predict(gan, {"images": images, "labels": labels}, {"role": "translation"})
    with pytest.raises(UserError, match="'variation' needs labels"):
        serving.predict(gan, {"images": images, "labels": labels[:0]}, {"role": "variation"})
    default = serving.predict(gan, {"images": images, "labels": labels}, {"seed": 7})
    np.testing.assert_allclose(default, _expected(gan, "sample", images, labels), atol=1e-6)


def test_a_study_pins_a_registered_generator_to_its_run():
    import yaml

    from augplat.generators.lookup import find_run
    from augplat.study.generator import ensure_generator
    from augplat.study.spec import StudySpec
    from augplat.tracking import connect

    prepare_tiny_data()
    run_id = train_gan(tiny_config("cgan", max_steps=2)).run_id
    assert serving.register(run_id, "digits-cgan", "champion") == (run_id, "1")
    assert find_run(connect(), "models:/digits-cgan/1").info.run_id == run_id
    spec = StudySpec.model_validate(
        yaml.safe_load(
            """
            name: pinned
            train: {data: digits, generator: "models:/digits-cgan@champion"}
            space: {aug: {type: categorical, choices: [classic, gan]}}
            """
        )
    )
    # Resolved once: every cell uses this run even if the alias moves during the study.
    assert ensure_generator(spec) == run_id and spec.train["generator"] == run_id
    with pytest.raises(UserError, match="no model models:/digits-cgan@gone"):
        find_run(connect(), "models:/digits-cgan@gone")
