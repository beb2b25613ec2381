"""Combining rules for classifier ensembles, in NumPy only (no torch, no MLflow).

How to use::

    scores = combine([logits_a, logits_b, logits_c], "vote")   # each N×K logits
    pred = scores.argmax(1)                                      # the ensemble's prediction
    report = classification_report(scores, labels, classes)     # top-k ranks by the scores

The rules (Kittler et al., "On combining classifiers", 1998), on softmax probabilities:

- ``sum``: the sum of the members' probabilities per class (same ranking as their mean).
- ``max``: the largest probability any member gives a class.
- ``vote``: each member votes for its argmax; the most votes win, ties between classes with
  equally many votes go to the larger summed probability (then to the lower class index, as
  ``argmax`` does). The score is ``votes + summed / (M + 1)``: the fraction is below 1, so it
  only orders classes with equal votes, and top-k ranks by votes first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from augplat.errors import ConfigError

__all__ = ["RULES", "combine", "softmax"]

RULES = ("sum", "max", "vote")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shifted by the row maximum so large logits cannot overflow."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _stack(logits: Sequence[np.ndarray]) -> np.ndarray:
    """``M×N×K`` array of the members' logits, checked to agree in shape."""
    if len(logits) == 0:
        raise ValueError("an ensemble needs at least one member")
    arrays = [np.asarray(x, dtype=np.float64) for x in logits]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 2:
        raise ValueError(f"members' logits must all be N×K of one shape, got {sorted(shapes)}")
    return np.stack(arrays)


def combine(logits: Sequence[np.ndarray], rule: str) -> np.ndarray:
    """The ensemble's ``N×K`` class scores; their argmax is its prediction.

    Args:
        logits: One ``N×K`` logit array per member, rows aligned (same samples, same order).
        rule: ``sum``, ``max`` or ``vote``.

    Raises:
        ConfigError: Unknown rule.
        ValueError: No members, or members whose shapes differ.
    """
    if rule not in RULES:
        raise ConfigError(f"unknown ensemble rule {rule!r} (choose from {', '.join(RULES)})")
    probs = np.stack([softmax(x) for x in _stack(logits)])  # M×N×K
    if rule == "sum":
        return probs.sum(axis=0)
    if rule == "max":
        return probs.max(axis=0)
    members, _, classes = probs.shape
    votes = np.zeros(probs.shape[1:], dtype=np.float64)
    for member_probs in probs:
        # argmax of probabilities = argmax of logits; ties to the lower index like argmax
        votes += np.eye(classes)[member_probs.argmax(axis=1)]
    return votes + probs.sum(axis=0) / (members + 1)
