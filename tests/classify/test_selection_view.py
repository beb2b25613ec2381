"""Validation is measured as the test is: same loss, same (translated) view of the images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.expand import client, generator_runs, train_tiny


@pytest.fixture
def models(monkeypatch) -> list:
    """Every classifier the run builds (the last one is the run's model)."""
    from augplat.classify import backbones

    built: list = []
    real = backbones.create_model

    def create(*args, **kwargs):
        model = real(*args, **kwargs)
        built.append(model)
        return model

    monkeypatch.setattr(backbones, "create_model", create)
    return built


def test_test_mode_gan_selects_on_translated_validation():
    """The marker translator paints every image one constant: on translated validation images
    the model predicts one class for all, so val_acc is that class's share and macro-F1 is
    that class's F1 over the classes; the plain view is logged as val_regular_acc."""
    from augplat.data import load_dataset

    generator_runs()
    result = train_tiny(aug="none", generator="marker", test_mode="gan", epochs=2)
    labels = load_dataset("digits").arrays("val")[1]
    counts = np.bincount(labels, minlength=10)
    n = len(labels)
    for row in result.history:
        shares = counts / n
        c = int(np.argmin(np.abs(shares - row["val_acc"])))
        assert row["val_acc"] == pytest.approx(shares[c])
        f1 = 2 * counts[c] / (2 * counts[c] + (n - counts[c]))
        assert row["val_macro_f1"] == pytest.approx(f1 / 10)
        assert 0 <= row["val_regular_acc"] <= 1
    history = client().get_metric_history(result.run_id, "val_regular_acc")
    assert len(history) == 2


def test_val_loss_is_plain_cross_entropy_like_test_loss(models):
    from augplat.classify.engine import predict
    from augplat.data import load_dataset

    generator_runs()
    result = train_tiny(aug="none", label_smoothing=0.5, test_eval=True, epochs=1)
    model = models[-1]
    ds = load_dataset("digits")
    for split, logged in (("val", result.history[0]["val_loss"]), ("test", None)):
        images, labels = (torch.from_numpy(a) for a in ds.arrays(split))
        logits = torch.from_numpy(predict(model, images, batch_size=512))
        plain = float(torch.nn.functional.cross_entropy(logits, labels))
        smoothed = float(torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.5))
        assert abs(plain - smoothed) > 1e-3  # the two really differ here
        if logged is None:
            logged = client().get_run(result.run_id).data.metrics["test_loss"]
        assert logged == pytest.approx(plain, rel=1e-5)
