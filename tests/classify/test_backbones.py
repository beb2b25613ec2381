"""Backbone registry and create_model: every registered backbone is smoke-tested here."""

from __future__ import annotations

import pytest
import torch
import torchvision

from augplat.classify import BACKBONES, Classifier, create_model
from augplat.errors import ConfigError, UserError
from augplat.runtime.registry import Registry

NAMES = BACKBONES.names()
# Small enough to write a fake ImageNet checkpoint quickly, one per stem-conv family.
CACHEABLE = ["resnet18", "densenet121", "mobilenet_v3_small", "efficientnet_b0"]


def _trainable(model: torch.nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def _stem(model: Classifier, name: str) -> torch.nn.Conv2d:
    return model.backbone.get_submodule(BACKBONES.get(name).stem_conv)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache; returns its checkpoints directory."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def _fake_imagenet(name: str, hub_dir) -> dict:
    """Save a fresh torchvision state dict where the ImageNet checkpoint is expected."""
    path, _ = BACKBONES.get(name).imagenet_checkpoint()
    assert path.parent == hub_dir
    torch.manual_seed(99)
    state = torchvision.models.get_model(BACKBONES.get(name).torchvision_name).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


# ------------------------------------------------------------ every backbone ----


@pytest.mark.parametrize("name", NAMES)
def test_small_stem_gray_forward_embed_and_freeze(name):
    torch.manual_seed(0)
    model = create_model(name, 3, in_channels=1, image_size=32, freeze_backbone=True).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        logits, features = model(x), model.embed(x)
    assert logits.shape == (2, 3) and features.shape == (2, model.feature_dim)
    assert torch.isfinite(logits).all()
    assert (model.num_classes, model.in_channels) == (3, 1)
    assert model.build_args["stem"] == "small"
    assert _trainable(model) == {"head.weight", "head.bias"}


@pytest.mark.parametrize("name", NAMES)
def test_standard_stem_rgb_forward_at_32px(name):
    # torchvision's stem downsamples 32× in total: the map must reach 1×1, not 0×0.
    torch.manual_seed(0)
    model = create_model(name, 5, in_channels=3, stem="standard").eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    assert model.build_args["stem"] == "standard"
    assert len(_trainable(model)) == len(list(model.parameters()))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_init(name):
    torch.manual_seed(123)
    first = create_model(name, 4).state_dict()
    torch.manual_seed(123)
    second = create_model(name, 4).state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "simplecnn"])
def test_imagenet_weights_offline_error_names_the_expected_file(name, hub):
    with pytest.raises(UserError) as info:
        create_model(name, 7, weights="imagenet")
    message = str(info.value)
    expected, _ = BACKBONES.get(name).imagenet_checkpoint()
    assert str(expected) in message and str(hub) in message
    assert "--weights none" in message and "--weights PATH" in message and "\n" not in message


def test_simplecnn_has_no_imagenet_weights():
    with pytest.raises(ConfigError, match="simplecnn has no ImageNet weights"):
        create_model("simplecnn", 7, weights="imagenet")


# ------------------------------------------------------------- details ----


@pytest.mark.parametrize("name", CACHEABLE)
def test_imagenet_weights_from_cache_sum_rgb_kernels_for_gray(name, hub):
    state = _fake_imagenet(name, hub)
    spec = BACKBONES.get(name)
    model = create_model(name, 7, in_channels=1, stem="standard", weights="imagenet")
    rgb = state[spec.stem_conv + ".weight"]
    torch.testing.assert_close(_stem(model, name).weight, rgb.sum(dim=1, keepdim=True))
    loaded = model.backbone.state_dict()
    deep = [k for k in state if k.endswith("weight") and k in loaded][-1]
    assert torch.equal(loaded[deep], state[deep])
    torch.testing.assert_close(model.mean.flatten(), torch.tensor([0.449]), atol=1e-3, rtol=0)
    rgb_model = create_model(name, 7, in_channels=3, stem="standard", weights="imagenet")
    assert torch.equal(_stem(rgb_model, name).weight, rgb)


def test_small_stem_with_imagenet_weights(hub):
    _fake_imagenet("mobilenet_v3_small", hub)
    _fake_imagenet("resnet18", hub)
    # MobileNet keeps its 3×3 kernel (stride 1 now), so the pretrained kernels carry over.
    mobile = create_model("mobilenet_v3_small", 7, weights="imagenet", freeze_backbone=True)
    assert _stem(mobile, "mobilenet_v3_small").stride == (1, 1)
    assert _trainable(mobile) == {"head.weight", "head.bias"}
    # ResNet's small stem is a new 3×3 conv: random, so it stays trainable when frozen.
    resnet = create_model("resnet18", 7, weights="imagenet", freeze_backbone=True)
    assert _stem(resnet, "resnet18").kernel_size == (3, 3)
    assert _trainable(resnet) == {"backbone.conv1.weight", "head.weight", "head.bias"}


def test_legacy_densenet_checkpoint_keys_are_renamed(hub):
    # The real file predates num_batches_tracked and spells "norm1" as "norm.1".
    state = _fake_imagenet("densenet121", hub)
    legacy = {
        k.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2."): v
        for k, v in state.items()
        if not k.endswith("num_batches_tracked")
    }
    assert legacy.keys() != state.keys()
    path, _ = BACKBONES.get("densenet121").imagenet_checkpoint()
    torch.save(legacy, path)
    model = create_model("densenet121", 7, in_channels=3, stem="standard", weights="imagenet")
    key = "features.denseblock1.denselayer1.norm1.weight"
    assert torch.equal(model.backbone.state_dict()[key], state[key])


def test_path_weights_round_trip(tmp_path):
    torch.manual_seed(1)
    model = create_model("resnet18", 4, mean=0.3, std=0.2)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "epoch": 3}, path)
    torch.manual_seed(2)
    again = create_model("resnet18", 4, weights=path)
    x = torch.rand(2, 1, 32, 32)
    model.eval(), again.eval()
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    assert float(again.mean) == pytest.approx(0.3) and float(again.std) == pytest.approx(0.2)


def test_path_weights_plain_torchvision_state_dict(tmp_path):
    torch.manual_seed(5)
    state = torchvision.models.resnet18(num_classes=10).state_dict()  # head size is ignored
    path = tmp_path / "tv.pth"
    torch.save(state, path)
    model = create_model("resnet18", 4, in_channels=3, stem="standard", weights=str(path))
    assert torch.equal(model.backbone.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.backbone.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


def test_bad_weight_files_raise_user_errors_naming_the_file(tmp_path):
    wrong_arch = tmp_path / "r18.pt"
    torch.save(torchvision.models.resnet18().state_dict(), wrong_arch)
    with pytest.raises(UserError, match=r"r18\.pt does not match resnet34: missing keys"):
        create_model("resnet34", 4, in_channels=3, weights=wrong_arch)
    wrong_head = tmp_path / "head.pt"
    torch.save({"model": create_model("resnet18", 3).state_dict()}, wrong_head)
    with pytest.raises(UserError, match=r"head\.pt does not match .*size mismatch"):
        create_model("resnet18", 4, weights=wrong_head)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match=r"cannot read weights file .*garbage\.pth"):
        create_model("resnet18", 4, weights=garbage)
    with pytest.raises(UserError, match=r"weights file not found: .*missing\.pt"):
        create_model("resnet18", 4, weights=tmp_path / "missing.pt")


def test_normalisation_is_part_of_the_model():
    torch.manual_seed(0)
    model = create_model("resnet18", 3, in_channels=3, mean=[0.1, 0.2, 0.3], std=0.25).eval()
    x = torch.rand(2, 3, 32, 32)
    mean = torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model.head(model.backbone((x - mean) / 0.25))
        torch.testing.assert_close(model(x), expected)
    assert model.mean.shape == (1, 3, 1, 1) and "mean" in model.state_dict()


def test_auto_stem_follows_image_size():
    assert create_model("resnet18", 2, image_size=64).build_args["stem"] == "small"
    standard = create_model("resnet18", 2, image_size=96)
    assert standard.build_args["stem"] == "standard"
    assert standard.backbone.conv1.kernel_size == (7, 7)


def test_config_errors():
    with pytest.raises(ConfigError, match=r"unknown backbone 'resnet9' \(available: .*resnet18"):
        create_model("resnet9", 3)
    with pytest.raises(ConfigError, match="unknown stem"):
        create_model("resnet18", 3, stem="tiny")
    with pytest.raises(ConfigError, match="num_classes must be a positive integer"):
        create_model("resnet18", 0)
    with pytest.raises(ConfigError, match="mean needs 1 or 3 values"):
        create_model("resnet18", 3, in_channels=3, mean=[0.5, 0.5])


def test_registry_contract():
    reg: Registry[int] = Registry("widget")
    reg.register("b")(2)
    reg.register("a")(1)
    assert reg.names() == ["a", "b"] and list(reg) == ["a", "b"] and len(reg) == 2
    assert "a" in reg and "c" not in reg and reg.get("b") == 2
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(3)
    with pytest.raises(ConfigError, match=r"unknown widget 'c' \(available: a, b\)"):
        reg.get("c")
    assert set(NAMES) >= {
        "resnet18", "resnet34", "resnet50", "densenet121", "densenet201",
        "vgg16", "mobilenet_v3_small", "efficientnet_b0",
    }  # fmt: skip
