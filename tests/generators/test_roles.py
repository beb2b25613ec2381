"""Every registered generator plays every role it declares, through the consumers that call it.

Parametrized over the registry (the trainable methods and the imported translator), so a new
method is tested in each of its roles for free: a training step, save/load, resume, augment,
expand, the test-time view and quality. The last test registers a method with a role
combination no built-in method has and runs it through the consumers, which know nothing of it.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from augplat.augment.generative import GanAugment
from augplat.classify.train_sets import check_test_mode, translated_test_set
from augplat.errors import ConfigError
from augplat.expand import choose_sources, strategy_for, synthesize
from augplat.generators import GAN_METHODS, trainable_methods
from augplat.generators.data import prepare_data
from augplat.generators.registry import load_saved, method_class
from augplat.generators.roles import Role, Roles
from augplat.generators.stargan import StarGAN
from augplat.generators.train import build, step_generator
from augplat.quality import synthetic
from tests.generators import prepare_tiny_data, tiny_config

METHODS = [
    *trainable_methods(),
    *(m for m in GAN_METHODS.names() if not GAN_METHODS.get(m).trainable),
]


class _Toy(nn.Module):
    """A tiny 1-channel image-to-image net in [0, 1] (what `augplat gan import` accepts)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))


def _digits():
    return prepare_data(tiny_config("cgan"), method_class("cgan"), "cpu")


def _generator(method: str, steps: int = 1):
    """``(gan, data)``: a trainable method after ``steps`` steps, or a toy imported translator."""
    prepare_tiny_data()
    if not GAN_METHODS.get(method).trainable:
        from augplat.generators import GanConfig, GanSpec

        torch.manual_seed(0)
        module = torch.jit.script(_Toy().eval())
        spec = GanSpec(channels=1, size=16, domains=("input", "toy"))
        cfg = GanConfig(method=method, data="", eval=False)
        return GAN_METHODS.get(method)(cfg, spec, "cpu", module=module), _digits()
    cfg, data, gan = build(tiny_config(method))
    for step in range(steps):
        g = step_generator(cfg.seed, step)
        gan.train_step(data.batch(torch.arange(step * 32, (step + 1) * 32), g), step, g)
    return gan, data


def _play(gan, role: Role, images, labels) -> torch.Tensor:
    """``role``'s output for the given images/labels, from a fixed seed."""
    k = max(1, len(gan.spec.classes))
    targets = (labels + 1) % k if role is Role.TRANSLATION else labels
    return gan.make(
        role,
        None if role is Role.SAMPLE else images,
        None if role is Role.STYLE else targets,
        generator=torch.Generator().manual_seed(3),
    )


@pytest.mark.parametrize("method", METHODS)
def test_every_offered_role_makes_images_and_survives_save_and_load(method, tmp_path):
    gan, data = _generator(method)
    images, labels, _ = data.fixed_inputs(6, seed=0)
    assert gan.roles.offered and gan.roles.quality, "a method must be usable and judged"
    assert gan.capabilities == gan.roles.calls
    gan.save(tmp_path / "gen")
    loaded = load_saved(tmp_path / "gen")
    assert type(loaded) is type(gan) and loaded.roles == gan.roles
    for role in gan.roles.offered:
        out = _play(gan, role, images, labels)
        assert out.shape == images.shape and out.dtype == torch.float32, role
        assert out.min() >= 0 and out.max() <= 1, role
        assert torch.equal(out, _play(loaded, role, images, labels)), role


@pytest.mark.parametrize("method", trainable_methods())
def test_a_step_after_restoring_the_training_state_equals_an_uninterrupted_one(method):
    gan, data = _generator(method, steps=3)
    buffer = io.BytesIO()  # through bytes, like a checkpoint: nothing shared with the live run
    torch.save(gan.training_state(), buffer)
    buffer.seek(0)
    _, _, resumed = build(tiny_config(method))
    resumed.load_training_state(torch.load(buffer, weights_only=False))
    losses = []
    for method_ in (gan, resumed):  # step 3: a generator update for every method (n_critic 2)
        g = step_generator(0, 3)
        out = method_.train_step(data.batch(torch.arange(96, 128), g), 3, g)
        losses.append({k: float(v) for k, v in out.items()})
        assert "loss_g" in losses[-1] and all(np.isfinite(v) for v in losses[-1].values())
    assert losses[0] == losses[1]
    images, labels, _ = data.fixed_inputs(4, seed=1)
    for role in gan.roles.offered:
        assert torch.equal(_play(gan, role, images, labels), _play(resumed, role, images, labels))


@pytest.mark.parametrize("method", METHODS)
def test_augment_role_replaces_samples_through_gan_augment(method):
    gan, data = _generator(method)
    role = gan.roles.augment
    if role is None:
        with pytest.raises(ConfigError, match="cannot augment"):
            GanAugment(gan)
        return
    assert role.keeps_label  # GanAugment keeps every sample's label
    images, labels, _ = data.fixed_inputs(8, seed=0)
    aug = GanAugment(gan, prob=1.0, strength=0.3)
    assert aug.mode == role.call
    out = aug(images, torch.Generator().manual_seed(1), labels=labels)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, images)
    assert torch.equal(out, aug(images, torch.Generator().manual_seed(1), labels=labels))
    if role.needs_label:
        with pytest.raises(ValueError, match="labels"):
            aug(images, torch.Generator().manual_seed(1))
    u8 = (images * 255).round().to(torch.uint8)
    bank = aug.build_bank(u8, labels, k=2, seed=0)
    assert bank.shape == (8, 1 if role.deterministic else 2, *images.shape[1:])


@pytest.mark.parametrize("method", METHODS)
def test_expand_role_makes_images_of_the_target_classes(method):
    gan, data = _generator(method)
    if gan.roles.expand is None:
        with pytest.raises(ConfigError, match="cannot expand"):
            strategy_for(gan)
        return
    strategy = strategy_for(gan)
    train_x, train_y = data.images.cpu().numpy(), data.labels.cpu().numpy()
    classes = [str(d) for d in range(10)]
    add = np.array([2, 0, 3] + [0] * 7)
    targets, sources = choose_sources(train_y, add, strategy, classes, seed=0)
    assert targets.tolist() == [0, 0, 2, 2, 2]
    source = gan.roles.expand.source
    if source is None:
        assert (sources == -1).all()
    else:
        same = train_y[sources] == targets
        assert same.all() if source == "same" else not same.any()
    cfg = SimpleNamespace(seed=0, batch_size=4)
    made = synthesize(gan, strategy, train_x, targets, sources, cfg, "cpu")
    assert made.shape == (5, *train_x.shape[1:]) and made.dtype == np.uint8
    assert np.array_equal(made, synthesize(gan, strategy, train_x, targets, sources, cfg, "cpu"))


@pytest.mark.parametrize("method", METHODS)
def test_test_time_role_or_a_refusal(method):
    gan, data = _generator(method)
    aug = GanAugment(gan) if gan.roles.augment else SimpleNamespace(gan=gan, mode="none")
    cfg = SimpleNamespace(test_mode="gan")
    if gan.roles.test_time is None:
        with pytest.raises(ConfigError, match="label"):
            check_test_mode(cfg, aug)
        return
    check_test_mode(cfg, aug)
    u8 = data.images[:10].cpu()
    view = translated_test_set(aug, u8, seed=0)
    assert view.shape == u8.shape and view.dtype == torch.uint8
    assert torch.equal(view, translated_test_set(aug, u8, seed=0))
    assert not torch.equal(view, u8)


@pytest.mark.parametrize("method", METHODS)
def test_quality_roles_make_the_judged_sets(method):
    gan, data = _generator(method)
    syn = synthetic.synthesize(gan, data, 12, seed=0)
    assert syn["role"] is gan.roles.quality[0]
    assert syn["fake"].shape == (12, *data.images.shape[1:]) and len(syn["labels"]) == 12
    assert syn["fake"].min() >= 0 and syn["fake"].max() <= 1
    if syn["role"].source is not None:
        assert len(syn["sources"]) == 12
    for role in gan.roles.quality[1:]:
        fake, labels, note = synthetic.judged_set(gan, role, data, 12, seed=0)
        assert fake.shape == syn["fake"].shape and len(labels) == 12 and note


@pytest.mark.parametrize(
    ("roles", "fragment"),
    [
        (Roles(augment=Role.TRANSLATION), "augmentation keeps labels"),
        (Roles(test_time=Role.SAMPLE), "test-time view"),
        (Roles(test_time=Role.TRANSLATION), "test-time view"),
        (Roles(quality=(Role.SAMPLE, Role.SAMPLE)), "twice"),
    ],
)
def test_a_role_no_consumer_could_use_is_refused_when_the_class_is_defined(roles, fragment):
    from augplat.generators import GanMethod

    with pytest.raises(TypeError, match=fragment):
        type("Broken", (GanMethod,), {"name": "broken", "roles": roles})


# ----------------------------------------------------- a new role combination ----


class _VaryingStarGAN(StarGAN):
    """StarGAN networks with roles no built-in method has: expansion by same-class variations,
    quality judged on variations first and translations second."""

    name = "stargan-vary"
    roles = Roles(
        augment=Role.VARIATION,
        expand=Role.VARIATION,
        quality=(Role.VARIATION, Role.TRANSLATION),
    )


@pytest.fixture
def varying_method():
    GAN_METHODS.register(_VaryingStarGAN.name)(_VaryingStarGAN)
    try:
        yield _VaryingStarGAN.name
    finally:
        GAN_METHODS._entries.pop(_VaryingStarGAN.name)  # other tests see the built-ins only


def test_a_new_role_combination_works_through_untouched_consumers(varying_method):
    from augplat.expand import ExpandConfig, expand_dataset
    from augplat.generators import load_generator, train_gan
    from augplat.quality import evaluate

    prepare_tiny_data()
    run = train_gan(tiny_config(varying_method, max_steps=2, preview_images=2))
    gan = load_generator(run.run_id)
    assert type(gan) is _VaryingStarGAN and gan.capabilities == {"variations", "translate"}
    images, labels, _ = prepare_data(gan.cfg, type(gan), "cpu").fixed_inputs(8, seed=0)
    aug = GanAugment(gan, prob=1.0)
    assert aug.mode == "variations"
    assert aug(images, torch.Generator().manual_seed(0), labels=labels).shape == images.shape
    result = expand_dataset(ExpandConfig(generator=run.run_id, data="digits", per_class=2))
    assert result.strategy == "variation" and sum(result.added.values()) == 20
    ds = result.dataset
    assert ds.source["strategy"] == "variation" and ds.source["gan_method"] == varying_method
    origin = np.load(result.path / "synthetic_source.npy")[-20:]
    assert (ds.labels[origin] == ds.labels[-20:]).all()  # varied copies of their own class
    metrics = evaluate(gan, _digits(), n_samples=40)
    assert "variations" in metrics["details"]["synthetic"]
    assert 0 <= metrics["label_fidelity"] <= 1 and 0 <= metrics["label_fidelity_translations"] <= 1
    assert "translations" in metrics["details"]["label_fidelity_translations_note"]
