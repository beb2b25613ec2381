"""Training and test modes: --train-on, --test-mode, the contrastive-center loss, --seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from augplat.classify.config import TrainConfig, build_config
from augplat.classify.losses import ContrastiveCenterLoss, TrainLoss
from augplat.classify.train_sets import combine_test_logits
from augplat.errors import ConfigError
from tests.expand import MARKER, client, generator_runs, runs_of_kind, train_tiny

QUANTISED_MARKER = round(MARKER * 255) / 255  # the synthetic set is stored as uint8


def _train(**changes):
    return train_tiny(**changes)


def _n_train(name: str = "digits") -> int:
    from augplat.data import load_dataset

    return len(load_dataset(name).indices("train"))


def _is_marker(x: torch.Tensor) -> torch.Tensor:
    return (x == QUANTISED_MARKER).flatten(1).all(1)


# ------------------------------------------------------------------------ train_on ----


def test_synthetic_trains_on_generated_images_only(model_inputs):
    runs = generator_runs()
    # A translator is deterministic: asking it for 2 variants per image stores one.
    result = _train(aug="none", train_on="synthetic", generator="marker", synthetic_variants=2)
    seen = torch.cat(model_inputs)
    n = _n_train()
    # Shuffled batches drop a trailing single sample (BatchNorm): allow that one.
    assert len(seen) in (n, n - 1) and _is_marker(seen).all()
    run = client().get_run(result.run_id)
    assert run.data.params["synthetic_images"] == str(n)
    assert run.data.params["original_images"] == str(n)
    assert run.data.params["synthetic_near_val_test"] == "0"  # markers copy no val/test image
    assert run.data.tags["augplat.train_on"] == "synthetic"
    # A noise generator makes K fresh same-label samples per image.
    model_inputs.clear()
    result = _train(aug="none", train_on="synthetic", generator=runs["cgan"], synthetic_variants=2)
    assert client().get_run(result.run_id).data.params["synthetic_images"] == str(2 * n)
    assert sum(len(x) for x in model_inputs) in (2 * n, 2 * n - 1)


def test_united_trains_on_originals_plus_every_generated_image(model_inputs):
    generator_runs()
    _train(aug="none", train_on="united", generator="marker")
    seen = torch.cat(model_inputs)
    n = _n_train()
    marked = int(_is_marker(seen).sum())
    assert len(seen) in (2 * n, 2 * n - 1)
    assert marked in (n, n - 1) and len(seen) - marked in (n, n - 1)


def test_expanded_trains_on_the_expanded_split_and_checks_lineage(model_inputs):
    from augplat.data import load_dataset
    from augplat.expand import ExpandConfig, expand_dataset

    runs = generator_runs()
    expand_dataset(ExpandConfig(data="digits", generator=runs["cgan"], per_class=3))
    result = _train(aug="none", train_on="expanded", expanded="digits-expanded")
    n_expanded = _n_train("digits-expanded")
    assert n_expanded == _n_train() + 3 * 10
    assert sum(len(x) for x in model_inputs) in (n_expanded, n_expanded - 1)
    run = client().get_run(result.run_id)
    assert run.data.tags["augplat.expanded_dataset"] == "digits-expanded"
    assert run.data.params["dataset_digest"] == load_dataset("digits").digest  # val/test
    # An expansion of another dataset is refused before any run starts.
    expand_dataset(ExpandConfig(data="digits_inv", generator="marker", per_class=1))
    before = len(runs_of_kind("train"))
    with pytest.raises(ConfigError, match="was not made from dataset 'digits'"):
        _train(aug="none", train_on="expanded", expanded="digits_inv-expanded")
    assert len(runs_of_kind("train")) == before


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"train_on": "synthetic"}, "train_on 'synthetic' needs a generator"),
        ({"train_on": "expanded"}, "needs --expanded"),
        ({"expanded": "x"}, "only used with train_on 'expanded'"),
        ({"train_on": "united", "aug": "gan", "generator": "g"}, "already trains on generated"),
        ({"test_mode": "both"}, "test_mode 'both' needs a generator"),
    ],
)
def test_inconsistent_modes_are_config_errors(changes, fragment):
    with pytest.raises(ConfigError, match=fragment):
        build_config(TrainConfig, None, changes)


# ----------------------------------------------------------------------- test_mode ----


def test_combine_test_logits_by_hand():
    regular = np.array([[2.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    generated = np.array([[0.0, 2.0], [math.log(3.0), 0.0]], dtype=np.float32)
    assert combine_test_logits(regular, generated, "regular") is regular
    assert combine_test_logits(regular, generated, "gan") is generated
    both = np.exp(combine_test_logits(regular, generated, "both"))
    s = 1 / (1 + math.exp(-2))  # softmax of (2, 0)
    expected = [[(s + 1 - s) / 2, (1 - s + s) / 2], [(0.5 + 0.75) / 2, (0.5 + 0.25) / 2]]
    np.testing.assert_allclose(both, expected, rtol=1e-5)


def test_test_mode_gan_evaluates_the_translated_test_set():
    generator_runs()
    result = _train(aug="none", generator="marker", test_mode="gan", test_eval=True)
    metrics = client().get_run(result.run_id).data.metrics
    # Every translated test image is the same constant image: one prediction for all, so
    # top-1 is exactly the share of the predicted class in the test split.
    from augplat.data import load_dataset

    labels = load_dataset("digits").arrays("test")[1]
    shares = np.bincount(labels, minlength=10) / len(labels)
    assert metrics["test_top1"] == pytest.approx(metrics["test_gan_only_top1"])
    assert any(metrics["test_top1"] == pytest.approx(s) for s in shares)
    assert 0 <= metrics["test_regular_top1"] <= 1
    both = _train(aug="none", generator="marker", test_mode="both", test_eval=True)
    assert "test_regular_top1" in client().get_run(both.run_id).data.metrics


def test_test_mode_needs_a_label_free_translator():
    runs = generator_runs()
    with pytest.raises(ConfigError, match="label-free translator"):
        _train(aug="none", generator=runs["stargan"], test_mode="gan")


# ------------------------------------------------------------ contrastive-center loss ----


def test_contrastive_center_loss_by_hand():
    loss = ContrastiveCenterLoss(num_classes=3, feature_dim=2, delta=1.0)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]]))
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    y = torch.tensor([0, 1])
    # sample 0: own 1; others (2²) + (1+16) = 21 → 1/22; sample 1: own 0 → 0.
    assert loss(x, y).item() == pytest.approx(0.5 * (1 / 22 + 0) / 2)
    x.requires_grad_(True)
    loss(x, y).backward()
    assert loss.centers.grad is not None and loss.centers.grad.abs().sum() > 0


def test_train_loss_adds_lambda_times_ccl_and_reports_it():
    torch.manual_seed(0)
    plain, regularised = TrainLoss(), TrainLoss(ccl_lambda=0.5, num_classes=3, feature_dim=4)
    logits, feats, y = torch.randn(6, 3), torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    term = regularised.ccl(feats, y).detach()
    assert regularised(logits, y, feats).item() == pytest.approx(
        float(plain(logits, y)) + 0.5 * float(term)
    )
    assert regularised.pop_stats() == {"train_ccl_loss": pytest.approx(float(term))}
    assert plain.pop_stats() == {} and not plain.needs_features
    with pytest.raises(ValueError, match="features"):
        regularised(logits, y)


def test_ccl_run_logs_the_term_and_checkpoints_the_centres():
    from augplat.runtime import checkpoints as checkpoint

    generator_runs()
    result = _train(aug="none", ccl_lambda=0.55, optimizer="adagrad", lr=0.01, epochs=2)
    metrics = client().get_run(result.run_id).data.metrics
    assert metrics["train_ccl_loss"] > 0
    state = checkpoint.load(checkpoint.run_dir(result.run_id) / checkpoint.LAST)
    centres = state["loss"]["ccl.centers"]
    assert centres.shape[0] == 10  # one centre per class
    # The centres are the optimizer's last parameter and got gradients (Adagrad's sum moved).
    last = max(state["optimizer"]["param_groups"][0]["params"])
    grad_sq_sum = state["optimizer"]["state"][last]["sum"]
    assert grad_sq_sum.shape == centres.shape and float(grad_sq_sum.abs().sum()) > 0


# -------------------------------------------------------------------------- seeds ----


def test_seeds_trains_a_tagged_group_with_consecutive_seeds(cli):
    generator_runs()
    proc = cli(
        "train", "--data", "digits", "--model", "simplecnn", "--epochs", "1", "--batch-size",
        "64", "--no-log-model", "--seed", "3", "--seeds", "2", check=True,
    )  # fmt: skip
    runs = runs_of_kind("train")
    assert len(runs) == 2
    assert {r.data.params["seed"] for r in runs} == {"3", "4"}
    assert len({r.data.tags["augplat.seed_group"] for r in runs}) == 1
    assert "test_top1: " in proc.stdout and "±" in proc.stdout
    bad = cli("train", "--seeds", "2", "--resume", "abc")
    assert bad.returncode == 2 and "do not combine" in bad.stderr
