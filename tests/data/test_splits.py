"""Seeded stratified splits and subsamples."""

from __future__ import annotations

import numpy as np
import pytest

from augplat.data.dataset import SPLIT_CODES
from augplat.data.splits import check_fractions, stratified_split, stratified_subsample
from augplat.errors import UserError


def test_split_is_stratified_seeded_and_keeps_a_train_image_per_class():
    labels = np.repeat([0, 1, 2, 3], [100, 40, 3, 1])
    codes = stratified_split(labels, 0.2, 0.1, seed=5)

    for cls, n in ((0, 100), (1, 40)):
        member = codes[labels == cls]
        assert (member == SPLIT_CODES["val"]).sum() == round(n * 0.2)
        assert (member == SPLIT_CODES["test"]).sum() == round(n * 0.1)
    for cls in (2, 3):
        assert (codes[labels == cls] == SPLIT_CODES["train"]).sum() >= 1
    np.testing.assert_array_equal(codes, stratified_split(labels, 0.2, 0.1, seed=5))
    assert not np.array_equal(codes, stratified_split(labels, 0.2, 0.1, seed=6))


def test_two_images_with_large_fractions_still_train_on_one():
    codes = stratified_split(np.array([0, 0]), 0.45, 0.45, seed=0)
    assert sorted(codes.tolist()) == [SPLIT_CODES["train"], SPLIT_CODES["test"]]


def test_subsample_keeps_share_per_class_and_at_least_one():
    labels = np.repeat([0, 1, 2], [50, 20, 2])
    keep = stratified_subsample(labels, 0.1, seed=1)
    assert np.bincount(labels[keep]).tolist() == [5, 2, 1]
    assert len(np.unique(keep)) == len(keep)
    np.testing.assert_array_equal(keep, stratified_subsample(labels, 0.1, seed=1))
    np.testing.assert_array_equal(stratified_subsample(labels, 1.0), np.arange(len(labels)))


@pytest.mark.parametrize(("val", "test"), [(-0.1, 0.1), (1.0, 0.0), (0.5, 0.5)])
def test_bad_fractions(val, test):
    with pytest.raises(UserError):
        check_fractions(val, test)
