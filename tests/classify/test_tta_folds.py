"""Classic test-time augmentation and fold runs (``--tta``, ``--fold I``, ``--folds K``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from augplat.classify.tta import predict_tta, tta_views
from augplat.errors import ConfigError


class _LeftRight(torch.nn.Module):
    """Logits = (mean of the left half, mean of the right half): a mirror swaps them."""

    def forward(self, x):
        w = x.shape[-1] // 2
        return torch.stack([x[..., :w].mean((1, 2, 3)), x[..., w:].mean((1, 2, 3))], 1) * 10


def test_hflip_tta_averages_an_image_and_its_mirror():
    images = torch.zeros(3, 1, 8, 8, dtype=torch.uint8)
    images[:, :, :, :4] = 255  # bright left half: plain prediction is class 0, confidently
    plain = predict_tta(_LeftRight(), images, "none", batch_size=2)
    mirrored = predict_tta(_LeftRight(), images, "hflip", batch_size=2)
    assert (np.exp(plain)[:, 0] > 0.99).all()
    np.testing.assert_allclose(np.exp(mirrored), 0.5, atol=1e-6)  # symmetric after averaging


def test_tencrop_has_ten_views_five_without_mirrors_and_resizes_back():
    assert len(tta_views("tencrop")) == 10 and len(tta_views("tencrop", hflip=False)) == 5
    x = torch.arange(256.0).reshape(1, 1, 16, 16)
    crops = [view(x) for view in tta_views("tencrop")]
    assert all(c.shape == x.shape for c in crops)
    assert len({float(c.sum()) for c in crops[:5]}) == 5  # corners and centre differ
    with pytest.raises(ConfigError, match="change label"):
        tta_views("hflip", hflip=False)


def _fold_set(root):
    from PIL import Image

    rng = np.random.default_rng(0)
    for s in range(6):
        for cls in ("a", "b"):
            for f in range(4):
                (root / cls).mkdir(parents=True, exist_ok=True)
                shade = 40 if cls == "a" else 200
                pixels = np.clip(rng.normal(shade, 30, (12, 12)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / cls / f"S{s}_{f}.png")
    return root


def _tiny(**changes):
    from augplat.classify.config import TrainConfig

    values = {"data": "lab", "model": "simplecnn", "epochs": 1, "batch_size": 16,
              "device": "cpu", "log_model": False, "log_checkpoints": False, **changes}  # fmt: skip
    return TrainConfig(**values)


def _runs(result_ids):
    from mlflow.tracking import MlflowClient

    from augplat.tracking import resolve_tracking_uri

    client = MlflowClient(resolve_tracking_uri(None))
    return [client.get_run(r) for r in result_ids]


@pytest.mark.slow  # the first MLflow store of a process takes ~20 s to create
def test_a_fold_run_tests_its_fold_and_logs_fold_and_tta_metrics(tmp_path):
    from augplat.classify.finetune import train_classifier
    from augplat.data import load_dataset, prepare_folder
    from augplat.data.folder import SplitPlan

    prepare_folder(_fold_set(tmp_path / "lab"), name="lab", size=12,
                   plan=SplitPlan(folds=3, group=r"^(S\d+)_"))  # fmt: skip
    result = train_classifier(_tiny(fold=1, tta="tencrop"))
    (run,) = _runs([result.run_id])
    assert run.data.params["fold"] == "1" and run.data.tags["augplat.fold"] == "1"
    assert run.data.params["tta"] == "tencrop"
    metrics = run.data.metrics
    assert {"test_top1", "test_tta_top1", "test_tta_macro_f1", "test_tta_loss"} <= set(metrics)
    ds = load_dataset("lab")
    assert int(run.data.params["num_test"]) == int((ds.folds == 1).sum())
    assert int(run.data.params["num_val"]) == int((ds.folds == 2).sum())


def test_folds_run_every_fold_as_one_group(tmp_path):
    from augplat.classify.repeats import train_folds
    from augplat.data import prepare_folder
    from augplat.data.folder import SplitPlan

    prepare_folder(_fold_set(tmp_path / "lab"), name="lab", size=12,
                   plan=SplitPlan(folds=3, group=r"^(S\d+)_"))  # fmt: skip
    with pytest.raises(ConfigError, match="has 3 folds"):
        train_folds(_tiny(test_eval=False), 4)
    results = train_folds(_tiny(test_eval=False), 3)
    runs = _runs([r.run_id for r in results])
    assert [r.data.params["fold"] for r in runs] == ["0", "1", "2"]
    assert len({r.data.tags["augplat.fold_group"] for r in runs}) == 1
    assert [r.data.tags["augplat.fold_index"] for r in runs] == ["0", "1", "2"]
