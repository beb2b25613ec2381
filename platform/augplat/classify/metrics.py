"""Evaluation metrics from scores and labels, in NumPy only (no torch, no sklearn).

How to use::

    report = classification_report(logits, labels, classes)   # logits: N×K array
    report["top1"], report["macro_f1"], report["confusion"]

Choices that differ between libraries, made explicit:

- A class with no samples in ``labels`` has per-class accuracy (recall) NaN: it was not
  measured, and a 0 would read as "always wrong" (and drag any average over runs to 0).
  A class with no predictions has precision 0; F1 is 2·TP / (2·TP + FP + FN), which is 0 (not
  NaN) whenever TP is 0.
- Macro-F1 averages over the classes that occur in ``labels`` (support > 0). A class absent
  from an evaluation split says nothing about the model, so it neither drags the mean to 0
  nor counts as perfect. This equals sklearn's ``f1_score(average="macro", labels=present)``.
- Ties in top-k go to the lower class index (a stable sort), matching ``argmax`` for top-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["classification_report", "confusion_matrix", "macro_f1", "topk_accuracy"]

TOPK = (1, 2, 5)


def _ranked(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores per row, best first, ties to the lower index."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` highest scores.

    Args:
        scores: ``N×K`` logits or probabilities.
        labels: ``N`` integer labels in ``[0, K)``.
        k: How many top guesses count.
    """
    scores, labels = _check(scores, labels)
    if len(labels) == 0:
        return 0.0
    hits = (_ranked(scores, k) == labels[:, None]).any(axis=1)
    return float(hits.mean())


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``K×K`` int64 counts; rows are true classes, columns predicted classes."""
    pred, labels = np.asarray(pred, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    if pred.shape != labels.shape:
        raise ValueError(f"pred and labels differ in shape: {pred.shape} vs {labels.shape}")
    flat = labels * num_classes + pred
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _per_class(confusion: np.ndarray) -> tuple[np.ndarray, ...]:
    """Support, recall, precision and F1 per class, zeros where undefined (see
    :func:`classification_report` for the NaN accuracy of an absent class)."""
    confusion = np.asarray(confusion, dtype=np.int64)
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    fn, fp = support - tp, predicted - tp

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)

    f1 = ratio(2 * tp, 2 * tp + fp + fn)
    return support, ratio(tp, support), ratio(tp, predicted), f1


def macro_f1(confusion: np.ndarray) -> float:
    """Mean F1 over classes with support > 0 (0.0 when no class has samples)."""
    support, _, _, f1 = _per_class(confusion)
    present = support > 0
    return float(f1[present].mean()) if present.any() else 0.0


def classification_report(
    scores: np.ndarray, labels: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Top-k accuracies, macro-F1, per-class figures and the confusion matrix.

    Args:
        scores: ``N×K`` logits or probabilities (any monotone score works).
        labels: ``N`` integer labels in ``[0, K)``.
        classes: ``K`` class names, index = label.

    Returns:
        ``top1`` plus ``top2``/``top5`` where k < K (for k >= K they are trivially 1.0),
        ``macro_f1``, ``per_class`` (dicts with class, support, accuracy (= recall; NaN for a
        class with no samples), precision, f1), ``confusion`` (K×K int64, rows true) and
        ``num_samples``.
    """
    scores, labels = _check(scores, labels)
    num_classes = scores.shape[1]
    if len(classes) != num_classes:
        raise ValueError(f"{len(classes)} class names for {num_classes} score columns")
    report: dict[str, Any] = {
        f"top{k}": topk_accuracy(scores, labels, k) for k in TOPK if k == 1 or k < num_classes
    }
    confusion = confusion_matrix(_ranked(scores, 1)[:, 0], labels, num_classes)
    support, recall, precision, f1 = _per_class(confusion)
    report["macro_f1"] = macro_f1(confusion)
    report["per_class"] = [
        {
            "class": str(name),
            "support": int(support[i]),
            "accuracy": float(recall[i]) if support[i] > 0 else float("nan"),
            "precision": float(precision[i]),
            "f1": float(f1[i]),
        }
        for i, name in enumerate(classes)
    ]
    report["confusion"] = confusion
    report["num_samples"] = len(labels)
    return report


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 2 or labels.shape != (scores.shape[0],):
        raise ValueError(f"expected N×K scores and N labels, got {scores.shape} and {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(
            f"labels must be in [0, {scores.shape[1]}), got {labels.min()}..{labels.max()}"
        )
    return scores, labels
