"""Quality metrics say what they measured: KID subset clipping, StarGAN label fidelity."""

from __future__ import annotations

import numpy as np

from augplat.generators.roles import Role, RolePlayer, Roles
from augplat.quality.metrics import KID_SUBSET, evaluate, kid, kid_subset_size
from tests.generators.test_quality import digits_data  # noqa: F401


class _CopyTranslator(RolePlayer):
    """A class translator (StarGAN's roles) that ignores its target: every output is its input.

    Moving an image "to" its own class trivially keeps the label; to any other class it fails.
    Its same-label variations (the input itself) keep the label.
    """

    name = "copy"
    roles = Roles(
        augment=Role.VARIATION, expand=Role.TRANSLATION, quality=(Role.TRANSLATION, Role.VARIATION)
    )

    def translate(self, images, targets=None, *, generator=None, batch_size=256):
        return images.clone()

    def variations(self, images, labels, strength=0.3, *, generator=None, batch_size=256):
        return images.clone()


def test_stargan_label_fidelity_and_kid_clipping_are_stated(digits_data, caplog):  # noqa: F811
    n_val = len(digits_data.val[1])
    assert n_val < 300 < KID_SUBSET
    with caplog.at_level("WARNING", logger="augplat"):
        result = evaluate(_CopyTranslator(), digits_data, n_samples=300)
    # only translations to ANOTHER class count: a copy never gets there
    assert result["label_fidelity"] < 0.05
    # what augmentation uses (same-label variations) keeps the label: the judge's accuracy
    assert result["label_fidelity_variations"] > 0.7
    details = result["details"]
    assert "another class" in details["label_fidelity_note"]
    assert "variations" in details["label_fidelity_variations_note"]
    # the real val set is smaller than a KID subset: clipped to it, and said so
    assert result["kid_clf_subset_size"] == n_val == kid_subset_size(n_val, 300)
    assert f"clipped to {n_val} images" in details["kid_note"]
    assert str(KID_SUBSET) in details["kid_note"]
    assert any("clipped" in r.getMessage() for r in caplog.records)


def test_kid_subset_size():
    assert kid_subset_size(5000, 3000) == KID_SUBSET
    assert kid_subset_size(270, 3000) == 270
    assert kid_subset_size(5000, 40, subset_size=100) == 40
    assert np.isnan(kid(np.zeros((1, 2)), np.zeros((5, 2)))[0])  # fewer than 2: undefined
