"""Metrics: hand-computed small cases, degenerate classes, and agreement with sklearn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from augplat.classify import classification_report
from augplat.classify.metrics import confusion_matrix, macro_f1, topk_accuracy

# Four samples, three classes. Predictions (argmax): 0, 1, 1, 2; labels: 0, 1, 2, 2.
SCORES = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.6, 0.3],
        [0.2, 0.5, 0.3],
        [0.1, 0.3, 0.6],
    ]
)
LABELS = np.array([0, 1, 2, 2])


def test_hand_computed_report():
    report = classification_report(SCORES, LABELS, ["a", "b", "c"])
    assert report["top1"] == pytest.approx(0.75)
    assert report["top2"] == pytest.approx(1.0)
    assert "top5" not in report  # k >= K is trivially 1.0
    assert report["num_samples"] == 4
    np.testing.assert_array_equal(report["confusion"], [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    assert report["confusion"].dtype == np.int64
    a, b, c = report["per_class"]
    assert a == {"class": "a", "support": 1, "accuracy": 1.0, "precision": 1.0, "f1": 1.0}
    assert b["precision"] == pytest.approx(0.5) and b["f1"] == pytest.approx(2 / 3)
    assert c["accuracy"] == pytest.approx(0.5) and c["f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


def test_topk_keys_follow_the_number_of_classes():
    two = classification_report(SCORES[:, :2], np.array([0, 1, 1, 1]), ["a", "b"])
    assert set(k for k in two if k.startswith("top")) == {"top1"}
    six = classification_report(np.eye(6), np.arange(6), list("abcdef"))
    assert set(k for k in six if k.startswith("top")) == {"top1", "top2", "top5"}


def test_topk_accuracy_and_ties_go_to_the_lower_index():
    assert topk_accuracy(SCORES, LABELS, 1) == pytest.approx(0.75)
    assert topk_accuracy(SCORES, LABELS, 2) == pytest.approx(1.0)
    tied = np.array([[0.5, 0.5, 0.0]])
    assert topk_accuracy(tied, np.array([0]), 1) == 1.0
    assert topk_accuracy(tied, np.array([1]), 1) == 0.0


def test_zero_support_and_zero_prediction_classes_give_no_warning_and_nan_only_if_absent():
    # Class 1 is never predicted; class 2 never occurs but is predicted once.
    scores = np.array([[5.0, 0, 0], [5.0, 0, 0], [0, 0, 5.0], [5.0, 0, 0]])
    labels = np.array([0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = classification_report(scores, labels, ["x", "y", "z"])
    x, y, z = report["per_class"]
    assert y["precision"] == 0.0 and y["f1"] == 0.0 and y["accuracy"] == 0.0
    # absent from the labels: its accuracy was not measured (NaN), not "always wrong" (0)
    assert z["support"] == 0 and np.isnan(z["accuracy"]) and z["f1"] == 0.0
    assert x["precision"] == pytest.approx(2 / 3) and x["f1"] == pytest.approx(0.8)
    assert report["macro_f1"] == pytest.approx((0.8 + 0.0) / 2)  # z has no support: left out
    values = [
        v
        for row in report["per_class"]
        for k, v in row.items()
        if isinstance(v, float) and not (row["support"] == 0 and k == "accuracy")
    ]
    assert not np.isnan(values).any()


def test_per_class_accuracy_of_a_class_absent_from_the_split_is_nan_in_logged_metrics():
    from augplat.classify.report import split_metrics

    scores = np.array([[5.0, 0, 0], [0, 5.0, 0]])
    metrics, _ = split_metrics(scores, np.array([0, 1]), ["x", "y", "z"], "test")
    assert metrics["test_acc_x"] == 1.0 and metrics["test_acc_y"] == 1.0
    assert np.isnan(metrics["test_acc_z"])


def test_empty_and_all_empty_inputs():
    assert macro_f1(np.zeros((3, 3), dtype=np.int64)) == 0.0
    report = classification_report(np.zeros((0, 3)), np.zeros(0, dtype=np.int64), ["a", "b", "c"])
    assert report["top1"] == 0.0 and report["num_samples"] == 0 and report["macro_f1"] == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_sklearn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    k, n = 7, 300
    labels = rng.integers(0, k - 1, n)  # the last class never occurs
    scores = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[labels]
    pred = scores.argmax(axis=1)
    report = classification_report(scores, labels, [f"c{i}" for i in range(k)])
    present = np.unique(labels)
    assert report["top1"] == pytest.approx(skm.accuracy_score(labels, pred))
    for top in (2, 5):
        expected = skm.top_k_accuracy_score(labels, scores, k=top, labels=np.arange(k))
        assert report[f"top{top}"] == pytest.approx(expected)
    expected_f1 = skm.f1_score(labels, pred, average="macro", labels=present, zero_division=0)
    assert report["macro_f1"] == pytest.approx(expected_f1)
    np.testing.assert_array_equal(
        report["confusion"], skm.confusion_matrix(labels, pred, labels=np.arange(k))
    )
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        labels, pred, labels=np.arange(k), zero_division=0
    )
    rows = report["per_class"]
    np.testing.assert_allclose([r["precision"] for r in rows], precision)
    recall = np.where(support > 0, recall, np.nan)  # an absent class: not measured
    np.testing.assert_allclose([r["accuracy"] for r in rows], recall)
    np.testing.assert_allclose([r["f1"] for r in rows], f1)
    np.testing.assert_array_equal([r["support"] for r in rows], support)


def test_confusion_matrix_and_input_checks():
    np.testing.assert_array_equal(
        confusion_matrix(np.array([0, 2, 2]), np.array([0, 1, 2]), 3),
        [[1, 0, 0], [0, 0, 1], [0, 0, 1]],
    )
    with pytest.raises(ValueError, match="class names"):
        classification_report(SCORES, LABELS, ["a", "b"])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        classification_report(SCORES, np.array([0, 1, 2, 3]), ["a", "b", "c"])
    with pytest.raises(ValueError, match="N×K scores"):
        topk_accuracy(SCORES[0], LABELS, 1)
