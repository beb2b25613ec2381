"""Building blocks: networks fit small images, losses, DiffAugment, ADA, pool, EMA, config."""

from __future__ import annotations

import pytest
import torch

from augplat.classify.config import build_config
from augplat.errors import ConfigError
from augplat.generators import losses
from augplat.generators.config import GanConfig, fingerprint, resolve_defaults
from augplat.generators.diffaugment import AdaptiveP, diff_augment, parse_policy
from augplat.generators.ema import EMA
from augplat.generators.networks import (
    ConditionalGenerator,
    PatchDiscriminator,
    ProjectionDiscriminator,
    ResnetGenerator,
    patch_layers,
)
from augplat.generators.pool import ImagePool


@pytest.mark.parametrize("size", [8, 16, 28, 32, 48])
def test_networks_fit_small_images(size):
    x = torch.rand(3, 1, size, size) * 2 - 1
    cond = torch.eye(4)[[0, 1, 3]]
    gen = ResnetGenerator(1, 1, size, ngf=8, n_blocks=1, cond_dim=4)
    assert gen(x, cond).shape == x.shape
    patch, logits = PatchDiscriminator(1, size, ndf=8, norm="none", num_classes=4)(x)
    assert patch.shape[-1] >= 2 and patch.shape[-2] >= 2 and logits.shape == (3, 4)
    out = ConditionalGenerator(16, 4, 3, size, ngf=8)(torch.randn(3, 16), cond)
    assert out.shape == (3, 3, size, size) and out.abs().max() <= 1
    assert ProjectionDiscriminator(1, 4, size, ndf=8)(x, cond).shape == (3,)


def test_patch_depth_is_standard_for_large_images_and_shrinks_for_tiny_ones():
    assert patch_layers(256) == 3 and patch_layers(48) == 3
    assert patch_layers(16) == 2 and patch_layers(8) == 1


def test_losses_have_the_textbook_values():
    ones, zeros = torch.ones(4), torch.zeros(4)
    assert losses.d_loss("lsgan", ones, zeros) == 0
    assert losses.g_loss("lsgan", ones) == 0
    assert losses.d_loss("hinge", ones, -ones) == 0
    assert losses.d_loss("hinge", zeros, zeros) == 2
    assert losses.d_loss("wgangp", ones, zeros) == -1
    assert losses.g_loss("wgangp", 3 * ones) == -3
    with pytest.raises(ValueError):
        losses.d_loss("nope", ones, zeros)


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    real, fake = torch.rand(5, 1, 4, 4), torch.rand(5, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    # f(x) = sum(x) / 4 has gradient norm sqrt(16)/4 = 1 everywhere.
    gp = losses.gradient_penalty(lambda t: t.flatten(1).sum(1) / 4, real, fake, g)
    assert gp.item() == pytest.approx(0.0, abs=1e-10)
    gp2 = losses.gradient_penalty(lambda t: t.flatten(1).sum(1), real, fake, g)
    assert gp2.item() == pytest.approx(9.0)


def test_soft_cross_entropy_matches_hard_labels_on_one_hots():
    logits = torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    hard = losses.soft_cross_entropy(logits, labels)
    soft = losses.soft_cross_entropy(logits, torch.eye(3)[labels])
    assert torch.allclose(hard, soft)


def test_diffaugment_is_differentiable_seeded_and_off_at_p0():
    x = (torch.rand(6, 3, 16, 16) * 2 - 1).requires_grad_(True)
    policy = parse_policy("color,translation,cutout")
    a = diff_augment(x, policy, torch.Generator().manual_seed(1))
    b = diff_augment(x, policy, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(diff_augment(x, policy, torch.Generator(), p=0.0), x)
    # cutout zeroes a quarter of each image (half the side squared), clipped at the border
    holes = diff_augment(torch.ones(64, 1, 16, 16), ("cutout",), torch.Generator()) == 0
    assert 0 < holes.float().mean() <= 0.25


def test_translation_moves_content_by_whole_pixels():
    x = torch.zeros(32, 1, 16, 16)
    x[:, :, 8, 8] = 1
    out = diff_augment(x, ("translation",), torch.Generator().manual_seed(0))
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.ones(32))  # a shift of ≤2 px keeps the dot
    assert (out.flatten(1).argmax(1) != x.flatten(1).argmax(1)).any()


def test_unknown_diffaugment_op_is_a_config_error():
    with pytest.raises(ConfigError, match="--diffaug"):
        build_config(GanConfig, overrides={"diffaug": "color,zoom"})


def test_ada_raises_p_when_d_is_overconfident_and_lowers_it_otherwise():
    ada = AdaptiveP(target=0.6, interval=2, kimg=0.001, p=0.5)
    for _ in range(2):
        ada.accumulate(torch.ones(8))  # r_t = 1 > 0.6: overfitting
    assert ada.p > 0.5 and ada.last_rt == 1.0
    high = ada.p
    for _ in range(2):
        ada.accumulate(-torch.ones(8))
    assert ada.p < high
    clone = AdaptiveP()
    clone.load_state_dict(ada.state_dict())
    assert clone.state_dict() == ada.state_dict()


def test_image_pool_fills_then_swaps_and_round_trips():
    pool = ImagePool(4)
    g = torch.Generator().manual_seed(0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first, g), first)  # filling: returned as is
    out = pool.query(first + 10, g)
    assert out.shape == first.shape and len(pool.images) == 4
    restored = ImagePool(0)
    restored.load_state_dict(pool.state_dict())
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    new = torch.full((4, 1, 1, 1), 99.0)
    assert torch.equal(pool.query(new, g1), restored.query(new, g2))
    assert torch.equal(ImagePool(0).query(new, g), new)


def test_ema_tracks_the_live_weights_with_warmup():
    live = torch.nn.Linear(2, 1)
    ema = EMA(live, 0.999)
    assert ema.effective_decay(0) == pytest.approx(0.1)
    with torch.no_grad():
        live.weight.fill_(1.0)
    ema.update(live, 0)
    w = ema.shadow.weight
    assert torch.all((w > 0) & (w <= 1.0))


def test_config_defaults_fingerprint_and_lr_schedule():
    cfg = GanConfig(method="stargan", epochs=2, decay_epochs=2)
    resolved = resolve_defaults(cfg, {"gan_loss": "wgangp", "lr": 1e-4, "batch_size": 16})
    assert resolved.gan_loss == "wgangp" and resolved.lr_d == 1e-4
    assert [resolved.lr_factor(e) for e in (1, 2, 3, 4)] == pytest.approx([1, 1, 2 / 3, 1 / 3])
    a = fingerprint(resolved, {"a": "d1"})
    assert a == fingerprint(
        resolved.model_copy(update={"device": "cpu", "eval": False}), {"a": "d1"}
    )
    assert a != fingerprint(resolved.model_copy(update={"lr": 2e-4}), {"a": "d1"})
    assert a != fingerprint(resolved, {"a": "d2"})
    assert GanConfig(classes="happy, sad").classes == ["happy", "sad"]


def test_unknown_config_key_names_key_and_file(tmp_path):
    bad = tmp_path / "gan.yaml"
    bad.write_text("method: cgan\nngff: 8\n")
    with pytest.raises(ConfigError, match="ngff") as info:
        build_config(GanConfig, bad)
    assert str(bad) in str(info.value)


def test_upsample2x_equals_nearest_interpolation_and_keeps_gradients():
    import torch.nn.functional as F

    from augplat.generators.networks import upsample2x

    x = torch.randn(3, 4, 5, 7, requires_grad=True)
    out = upsample2x(x)
    assert torch.equal(out, F.interpolate(x, scale_factor=2, mode="nearest"))
    out.sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, 4.0))  # each input feeds four outputs
