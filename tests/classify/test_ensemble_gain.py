"""The ensemble's gain over its best member picks that member on validation, never on test."""

from __future__ import annotations

import numpy as np
import pytest

from augplat.classify import ensemble_run
from augplat.classify.ensemble_run import EnsembleConfig, _evaluate
from augplat.data import ImageDataset


def _logits(pred: np.ndarray, k: int = 2) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[pred] * 4.0


def test_best_member_is_chosen_on_val_and_judged_on_test(monkeypatch):
    # 10 val and 10 test images of 2 classes; member 0 is best on val, member 1 best on test.
    val_y = np.array([0, 1] * 5)
    test_y = np.array([0, 1] * 5)
    images = np.zeros((20, 1, 2, 2), np.uint8)
    ds = ImageDataset(
        images,
        np.concatenate([val_y, test_y]),
        np.repeat([1, 2], 10).astype(np.int8),
        ["a", "b"],
        name="toy",
    )

    def wrong(y: np.ndarray, n: int) -> np.ndarray:
        out = y.copy()
        out[:n] = 1 - out[:n]
        return out

    preds = [
        {"val": wrong(val_y, 1), "test": wrong(test_y, 4)},  # val 0.9, test 0.6
        {"val": wrong(val_y, 3), "test": wrong(test_y, 0)},  # val 0.7, test 1.0
        {"val": wrong(val_y, 2), "test": wrong(test_y, 2)},  # val 0.8, test 0.8
    ]
    members = [ensemble_run._Member(f"run{i}", f"m{i}", "0", {}, {}) for i in range(len(preds))]
    calls = iter(preds)

    def fake_logits(member, ds, images, device, batch_size):
        p = next(calls)
        return {split: _logits(p[split]) for split in ("val", "test")}

    monkeypatch.setattr(ensemble_run, "_member_logits", fake_logits)
    metrics, _, rows = _evaluate(EnsembleConfig(runs=("a", "b", "c"), device="cpu"), members, ds)
    assert [r["val_top1"] for r in rows] == pytest.approx([0.9, 0.7, 0.8])
    assert [r["test_top1"] for r in rows] == pytest.approx([0.6, 1.0, 0.8])
    assert metrics["best_member"] == 0  # by val
    assert metrics["test_gain_over_best_member"] == pytest.approx(metrics["test_top1"] - 0.6)
    assert metrics["val_gain_over_best_member"] == pytest.approx(metrics["val_top1"] - 0.9)
