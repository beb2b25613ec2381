"""Ensemble rules on hand-computed cases: sum, max, vote (majority; ties by summed probability)."""

from __future__ import annotations

import numpy as np
import pytest

from augplat.classify import classification_report
from augplat.classify.ensemble import RULES, combine, softmax
from augplat.classify.ensemble_run import EnsembleConfig
from augplat.errors import ConfigError


def logits(probs) -> np.ndarray:
    """Logits whose softmax is exactly ``probs`` (rows sum to 1)."""
    return np.log(np.asarray(probs, dtype=np.float64))


# Three members, two samples, three classes.
A = [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]]
B = [[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]]
C = [[0.2, 0.7, 0.1], [0.1, 0.2, 0.7]]


def test_softmax_of_log_probabilities_and_huge_logits():
    np.testing.assert_allclose(softmax(logits(A)), A, atol=1e-12)
    big = softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    np.testing.assert_allclose(big, [[0.5, 0.5, 0.0]], atol=1e-12)


def test_sum_rule_adds_probabilities():
    scores = combine([logits(A), logits(B), logits(C)], "sum")
    np.testing.assert_allclose(scores, [[0.9, 1.5, 0.6], [0.6, 1.0, 1.4]], atol=1e-12)
    assert scores.argmax(1).tolist() == [1, 2]


def test_max_rule_takes_the_largest_probability_per_class():
    scores = combine([logits(A), logits(B), logits(C)], "max")
    np.testing.assert_allclose(scores, [[0.6, 0.7, 0.4], [0.3, 0.5, 0.7]], atol=1e-12)


def test_vote_counts_argmaxes_and_keeps_sum_as_fraction():
    # sample 0: A votes 0, B and C vote 1; sample 1: A votes 1, B and C vote 2
    scores = combine([logits(A), logits(B), logits(C)], "vote")
    expected = [[1 + 0.9 / 4, 2 + 1.5 / 4, 0.6 / 4], [0.6 / 4, 1 + 1.0 / 4, 2 + 1.4 / 4]]
    np.testing.assert_allclose(scores, expected, atol=1e-12)


def test_vote_majority_beats_one_confident_member():
    mild = [[0.35, 0.4, 0.25]]
    sure = [[0.9, 0.05, 0.05]]
    members = [logits(mild), logits(mild), logits(sure)]
    assert combine(members, "sum").argmax(1).tolist() == [0]  # 1.6 vs 0.85
    assert combine(members, "max").argmax(1).tolist() == [0]
    assert combine(members, "vote").argmax(1).tolist() == [1]  # two votes to one


def test_vote_tie_goes_to_the_larger_summed_probability():
    # both samples: one vote each for classes 0 and 1
    g = [[0.55, 0.4, 0.05], [0.9, 0.05, 0.05]]
    h = [[0.3, 0.65, 0.05], [0.45, 0.5, 0.05]]
    scores = combine([logits(g), logits(h)], "vote")
    np.testing.assert_allclose(
        scores, [[1 + 0.85 / 3, 1 + 1.05 / 3, 0.1 / 3], [1 + 1.35 / 3, 1 + 0.55 / 3, 0.1 / 3]]
    )
    assert scores.argmax(1).tolist() == [1, 0]


def test_vote_ranks_by_votes_first_for_top_k():
    mild, sure = [[0.35, 0.4, 0.25]], [[0.05, 0.05, 0.9]]
    members = [logits(mild), logits(mild), logits(sure)]
    scores = combine(members, "vote")
    # votes: class 1 two, class 2 one, class 0 none; summed probabilities would rank 2 first
    assert np.argsort(-scores[0]).tolist() == [1, 2, 0]
    assert np.argsort(-combine(members, "sum")[0]).tolist() == [2, 1, 0]
    report = classification_report(scores, np.array([2]), ["a", "b", "c"])
    assert report["top1"] == 0.0 and report["top2"] == 1.0


@pytest.mark.parametrize("rule", RULES)
def test_identical_members_predict_like_one_member(rule):
    one = logits(A)
    assert combine([one, one, one], rule).argmax(1).tolist() == one.argmax(1).tolist()


def test_bad_input():
    with pytest.raises(ConfigError, match="median"):
        combine([logits(A), logits(B)], "median")
    with pytest.raises(ValueError, match="shape"):
        combine([logits(A), logits(A)[:1]], "sum")
    with pytest.raises(ValueError, match="at least one"):
        combine([], "sum")


@pytest.mark.parametrize(
    ("runs", "rule", "fragment"),
    [
        (("a",), "sum", "at least 2"),
        (("a", "b", "a"), "sum", "more than once: a"),
        (("a", "b"), "mean", "unknown --rule"),
    ],
)
def test_config_check(runs, rule, fragment):
    with pytest.raises(ConfigError, match=fragment):
        EnsembleConfig(runs=runs, rule=rule).check()
