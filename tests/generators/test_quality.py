"""Label fidelity, CAS and FID/KID end to end on constructed "generators" of known quality."""

from __future__ import annotations

import pytest
import torch

from augplat.errors import UserError
from augplat.generators.data import prepare_data
from augplat.generators.registry import method_class
from augplat.generators.roles import Role, RolePlayer, Roles
from augplat.quality.metrics import check_classifier_run, evaluate
from tests.generators import prepare_tiny_data, tiny_config


class _ConstructedGenerator(RolePlayer):
    """A noise generator (sample role): real train images of the asked label, or pure noise."""

    name, roles = "constructed", Roles(quality=(Role.SAMPLE,))

    def __init__(self, data, perfect: bool):
        self.data, self.perfect = data, perfect

    def generate(self, n, labels, *, generator=None, batch_size=256):
        if not self.perfect:
            return torch.rand(n, 1, 16, 16, generator=generator)
        images, own = self.data.images, self.data.labels
        picks = [
            torch.nonzero(own == int(y)).flatten()[torch.randint(0, 10, (1,), generator=generator)]
            for y in labels
        ]
        return images[torch.cat(picks)].float() / 255


@pytest.fixture
def digits_data():
    prepare_tiny_data()
    return prepare_data(tiny_config("cgan"), method_class("cgan"), "cpu")


def test_metrics_separate_a_perfect_generator_from_noise(digits_data):
    from augplat.runtime.home import cache_dir

    good = evaluate(_ConstructedGenerator(digits_data, True), digits_data, n_samples=200)
    bad = evaluate(_ConstructedGenerator(digits_data, False), digits_data, n_samples=200)
    assert good["details"]["classifier"].startswith("smallcnn:")
    assert good["details"]["cas_tested_on"].startswith("real val")
    assert good["clf_val_acc"] > 0.7  # the judge itself is competent
    assert good["label_fidelity"] > 0.9 and bad["label_fidelity"] < 0.4
    assert good["cas_val_acc"] > 0.6 and bad["cas_val_acc"] < 0.4
    assert good["fid_clf"] < bad["fid_clf"] and good["kid_clf"] < bad["kid_clf"]
    assert good["fid_clf"] < 3 * good["fid_clf_baseline"] + 1.0  # real vs real is the scale
    cached = list((cache_dir() / "gan-eval").glob("smallcnn-*.pt"))
    assert len(cached) == 1  # the judge was trained once and reused by the second evaluation
    assert bad["details"]["classifier"] == good["details"]["classifier"]


def test_a_train_run_can_be_the_judge(digits_data):
    from augplat.classify.config import TrainConfig
    from augplat.classify.finetune import train_classifier

    cfg = TrainConfig(
        data="digits", model="mobilenet_v3_small", epochs=1, batch_size=64, log_model=False
    )
    run_id = train_classifier(cfg).run_id
    result = evaluate(
        _ConstructedGenerator(digits_data, True), digits_data, n_samples=40, classifier=run_id
    )
    assert result["details"]["classifier"] == f"run:{run_id}"
    assert {"fid_clf", "kid_clf", "label_fidelity", "cas_val_acc"} <= set(result)
    with pytest.raises(UserError, match="7"):
        check_classifier_run(run_id, num_classes=7)
    with pytest.raises(UserError, match="no such MLflow run"):
        check_classifier_run("0123456789abcdef0123456789abcdef", num_classes=10)
