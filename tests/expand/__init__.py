"""Helpers for the expansion and GAN-augmentation tests: tiny data and real generator runs.

Three generator runs are made once per session in a private MLflow store (a sqlite file plus
artifacts): ``stargan`` and ``cgan`` trained for two steps on 16 px digits, and ``marker``, an
imported TorchScript translator (the ``augplat gan import`` path) that paints every pixel
:data:`MARKER`, so a test can tell a generated image from a real one. Each test gets a copy of
the sqlite file in its own working directory (the default store), so its runs stay its own.
"""

from __future__ import annotations

from pathlib import Path

from tests.generators import prepare_tiny_data

MARKER = 0.25  # exact in binary: survives the translator's [-1, 1] round trip bit for bit
_STORE: dict = {}


def generator_runs() -> dict[str, str]:
    """Tiny datasets in this test's home and the generator runs in its store: ``{name: id}``."""
    import shutil

    prepare_tiny_data()
    if not _STORE:
        _STORE.update(_build_store())
    shutil.copy(_STORE["db"], Path.cwd() / "mlflow.db")
    return dict(_STORE["runs"])


def _marker_script(path: Path) -> Path:
    import torch
    from torch import nn

    class Marker(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.full_like(x, 0.25)

    torch.jit.script(Marker()).save(str(path))
    return path


def _build_store() -> dict:
    import atexit
    import os
    import shutil
    import tempfile

    from augplat.generators import import_translator, train_gan
    from tests.generators import tiny_config

    root = Path(tempfile.mkdtemp(prefix="augplat-expand-tests-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: put it back like AUGPLAT_HOME.
    saved = {k: os.environ.get(k) for k in ("AUGPLAT_HOME", "MLFLOW_TRACKING_URI")}
    previous_cwd = Path.cwd()
    os.environ["AUGPLAT_HOME"] = str(root / "home")
    os.chdir(root)
    try:
        prepare_tiny_data()
        runs = {
            method: train_gan(tiny_config(method, max_steps=2, preview_images=2)).run_id
            for method in ("stargan", "cgan")
        }
        script = _marker_script(root / "marker.pt")
        runs["marker"] = import_translator(script, "marker", channels=1, size=16)
        return {"db": root / "mlflow.db", "runs": runs}
    finally:
        os.chdir(previous_cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def client():
    """An ``MlflowClient`` on this test's default store."""
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")


def runs_of_kind(kind: str) -> list:
    """Runs tagged ``augplat.kind=kind`` in this test's store (none when there is no store)."""
    if not (Path.cwd() / "mlflow.db").exists():
        return []
    c = client()
    experiments = [e.experiment_id for e in c.search_experiments()]
    if not experiments:
        return []
    return c.search_runs(experiments, filter_string=f"tags.`augplat.kind` = '{kind}'")


def train_tiny(**changes):
    """``train_classifier`` on the digits with a 1-epoch simplecnn and nothing logged at the end
    (no test evaluation, checkpoints upload or model) unless ``changes`` asks for it."""
    from augplat.classify.config import TrainConfig
    from augplat.classify.finetune import train_classifier

    values = {
        "data": "digits",
        "model": "simplecnn",
        "epochs": 1,
        "batch_size": 32,
        "device": "cpu",
        "log_model": False,
        "log_checkpoints": False,
        "test_eval": False,
        **changes,
    }
    return train_classifier(TrainConfig(**values))
