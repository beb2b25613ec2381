"""Classic batch augmentation: shapes, reproducibility, per-sample ops, geometry, policies."""

from __future__ import annotations

import math

import pytest
import torch

from augplat.augment import POLICIES, ClassicAugment, load_policy
from augplat.augment.policy import OPS, scale_policy
from augplat.errors import ConfigError


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _batch(n: int = 16, c: int = 1, h: int = 24, w: int = 24, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=_gen(seed))


def _blob(n: int, h: int, w: int, sx: float, sy: float) -> torch.Tensor:
    """A centred gaussian blob (sigma in pixels along x and y), repeated n times."""
    ys = torch.arange(h, dtype=torch.float64) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float64) - (w - 1) / 2
    img = torch.exp(-(xs[None, :] ** 2) / (2 * sx**2) - ys[:, None] ** 2 / (2 * sy**2))
    return img.expand(n, 1, h, w).clone()


def _same(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Bool (n,): which samples of two batches are bit-identical."""
    return (a == b).flatten(1).all(dim=1)


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mass, centroid (n, 2) and covariance eigenvalues (n, 2) of each single-channel image."""
    _, _, h, w = x.shape
    img = x[:, 0].double()
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    mass = img.sum(dim=(1, 2))
    cx, cy = (img * xs).sum((1, 2)) / mass, (img * ys).sum((1, 2)) / mass
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    cxx, cyy = (img * dx * dx).sum((1, 2)) / mass, (img * dy * dy).sum((1, 2)) / mass
    cxy = (img * dx * dy).sum((1, 2)) / mass
    cov = torch.stack([torch.stack([cxx, cxy], -1), torch.stack([cxy, cyy], -1)], -2)
    return mass, torch.stack([cx, cy], 1), torch.linalg.eigvalsh(cov)


# ----------------------------------------------------------------------- basics ----


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("channels", [1, 3])
def test_policies_preserve_shape_dtype_and_range(policy, channels):
    x = _batch(c=channels)
    out = ClassicAugment(policy)(x, _gen())
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_float64_batches_keep_their_dtype():
    x = _batch().double()
    out = ClassicAugment("strong")(x, _gen())
    assert out.dtype == torch.float64 and out.shape == x.shape


@pytest.mark.parametrize("policy", ["default", "strong", "albumentations"])
def test_same_seed_same_output_different_seed_different(policy):
    x, aug = _batch(), ClassicAugment(policy)
    assert torch.equal(aug(x, _gen(7)), aug(x, _gen(7)))
    assert not torch.equal(aug(x, _gen(7)), aug(x, _gen(8)))


def test_input_is_not_modified_in_place():
    x = _batch()
    before = x.clone()
    ClassicAugment("strong")(x, _gen())
    assert torch.equal(x, before)


@pytest.mark.parametrize(
    "aug",
    [
        ClassicAugment("none"),
        ClassicAugment("strong", strength=0),
        ClassicAugment({op: {"p": 0.0} for op in OPS}),
    ],
    ids=["none", "strength0", "p0"],
)
def test_identity_policies_return_the_input_exactly(aug):
    x = _batch(c=3)
    assert torch.equal(aug(x, _gen()), x)


def test_chosen_but_zero_magnitude_ops_return_the_input_exactly():
    zero = {
        "crop": {"p": 1, "scale": [1, 1], "ratio": [1, 1]},
        "affine": {"p": 1, "degrees": 0, "translate": 0, "scale": [1, 1], "shear": 0},
        "brightness": {"p": 1, "delta": 0},
        "contrast": {"p": 1, "factor": 0},
        "blur": {"p": 1, "sigma": [0, 0]},
        "noise": {"p": 1, "std": 0},
        "dropout": {"p": 1, "rate": 0},
        "erasing": {"p": 1, "area": [0, 0]},
    }
    x = _batch(h=48, w=40)  # 48 px is where identity grid_sample is off by ~1e-6
    assert torch.equal(ClassicAugment(zero)(x, _gen()), x)


# --------------------------------------------------------------------- geometry ----


def test_hflip_is_per_sample_and_exact():
    x = _batch(n=64)
    out = ClassicAugment({"hflip": {"p": 0.5}})(x, _gen(3))
    flipped = _same(out, x.flip(-1))
    kept = _same(out, x)
    assert bool((flipped ^ kept).all())  # every sample is exactly one of the two
    assert 10 < int(flipped.sum()) < 54


def test_hflip_p1_equals_flip():
    x = _batch(c=3)
    assert torch.equal(ClassicAugment({"hflip": {"p": 1}})(x, _gen()), x.flip(-1))


def test_rotation_only_rotates():
    # An elongated centred blob: rotation keeps mass, centre and the covariance eigenvalues
    # (scale or shear would change them) while turning its axes.
    x = _blob(32, 48, 48, sx=6.0, sy=2.5).float()
    aug = ClassicAugment({"affine": {"p": 1, "degrees": 90, "translate": 0, "scale": [1, 1]}})
    out = aug(x, _gen(1))
    mass0, centre0, eig0 = _moments(x)
    mass1, centre1, eig1 = _moments(out)
    torch.testing.assert_close(mass1, mass0, rtol=1e-2, atol=0)
    torch.testing.assert_close(centre1, centre0, rtol=0, atol=0.05)
    torch.testing.assert_close(eig1, eig0, rtol=3e-2, atol=0)
    assert float((out - x).abs().amax()) > 0.5  # it did turn


def test_rotation_of_round_blob_on_non_square_image_keeps_it_round():
    # Rotations are built in pixel units, so a circle stays a circle when H != W.
    x = _blob(8, 32, 64, sx=4.0, sy=4.0).float()
    aug = ClassicAugment({"affine": {"p": 1, "degrees": 180, "translate": 0, "scale": [1, 1]}})
    out = aug(x, _gen(2))
    assert float((out - x).abs().amax()) < 0.02


def test_translate_moves_the_centre_within_bounds():
    x = _blob(32, 40, 40, sx=3.0, sy=3.0).float()
    aug = ClassicAugment({"affine": {"p": 1, "degrees": 0, "translate": 0.1, "scale": [1, 1]}})
    _, centre0, _ = _moments(x)
    _, centre1, eig1 = _moments(aug(x, _gen()))
    shift = (centre1 - centre0).abs()
    assert float(shift.amax()) <= 4.0 + 0.05 and float(shift.amax()) > 1.0
    # Bilinear resampling at a fractional shift adds at most 0.25 px² of variance.
    assert float(eig1.amin()) >= 9.0 - 0.05 and float(eig1.amax()) <= 9.0 + 0.3


def test_crop_zooms_into_the_image():
    # A horizontal ramp: keeping a quarter of the area (half the width) halves its slope.
    w = 32
    ramp = ((torch.arange(w) + 0.5) / w).expand(4, 1, w, w).clone()
    aug = ClassicAugment({"crop": {"p": 1, "scale": [0.25, 0.25], "ratio": [1, 1]}})
    out = aug(ramp, _gen())
    slope = out[:, 0, :, 1:-1].diff(dim=-1)
    torch.testing.assert_close(slope, torch.full_like(slope, 0.5 / w), rtol=1e-3, atol=1e-5)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("padding", ["border", "zeros", "reflection"])
def test_padding_modes(padding):
    x = torch.ones(4, 1, 16, 16)
    aug = ClassicAugment({"affine": {"p": 1, "degrees": 45, "padding": padding}})
    out = aug(x, _gen())
    if padding == "zeros":
        assert float(out.min()) < 0.5  # corners come from outside the image
    else:
        torch.testing.assert_close(out, x)


# ------------------------------------------------------------------ photometric ----


def test_brightness_shifts_each_sample_by_one_delta():
    x = torch.full((32, 1, 8, 8), 0.5)
    out = ClassicAugment({"brightness": {"p": 1, "delta": 0.3}})(x, _gen())
    shift = (out - x).flatten(1)
    torch.testing.assert_close(shift, shift[:, :1].expand_as(shift))  # uniform per sample
    assert float(shift.abs().amax()) <= 0.3 + 1e-6
    assert (shift[:, 0] > 0.01).any() and (shift[:, 0] < -0.01).any()


def test_brightness_on_black_only_brightens():
    x = torch.zeros(32, 1, 8, 8)
    out = ClassicAugment({"brightness": {"p": 1, "delta": 0.3}})(x, _gen())
    assert float(out.min()) == 0.0 and float(out.mean()) > 0.02


def test_contrast_scales_spread_around_the_mean():
    x = 0.4 + 0.2 * _batch(n=32)  # in [0.4, 0.6]: no clamping at ±0.5 factor
    out = ClassicAugment({"contrast": {"p": 1, "factor": 0.5}})(x, _gen())
    torch.testing.assert_close(out.mean((1, 2, 3)), x.mean((1, 2, 3)), rtol=0, atol=1e-5)
    ratio = out.std((1, 2, 3)) / x.std((1, 2, 3))
    assert float(ratio.min()) >= 0.5 - 1e-4 and float(ratio.max()) <= 1.5 + 1e-4
    assert float(ratio.max() - ratio.min()) > 0.2


def test_noise_has_the_requested_std_and_is_shared_by_nothing():
    x = torch.full((8, 3, 32, 32), 0.5)
    out = ClassicAugment({"noise": {"p": 1, "std": 0.05}})(x, _gen())
    z = out - x
    assert abs(float(z.std()) - 0.05) < 0.003 and abs(float(z.mean())) < 0.003
    assert not torch.equal(z[0], z[1]) and not torch.equal(z[0, 0], z[0, 1])


def test_blur_smooths_only_chosen_samples():
    x = _batch(n=32)
    out = ClassicAugment({"blur": {"p": 0.5, "sigma": [0.5, 2.0]}})(x, _gen())
    same = _same(out, x)
    assert 4 < int(same.sum()) < 28
    assert bool((out[~same].std((1, 2, 3)) < x[~same].std((1, 2, 3)) * 0.8).all())
    flat = torch.full((4, 1, 8, 8), 0.3)
    blurred = ClassicAugment({"blur": {"p": 1, "sigma": [2, 3]}})(flat, _gen())
    torch.testing.assert_close(blurred, flat)


def test_dropout_rate_and_same_pixels_across_channels():
    x = 0.5 + 0.5 * _batch(n=16, c=3, h=32, w=32)  # strictly positive
    out = ClassicAugment({"dropout": {"p": 1, "rate": 0.1}})(x, _gen())
    dropped = out == 0
    assert abs(float(dropped.float().mean()) - 0.1) < 0.01
    assert torch.equal(dropped[:, 0], dropped[:, 1]) and torch.equal(dropped[:, 0], dropped[:, 2])


def test_erasing_area_within_bounds_and_rectangular():
    h = w = 48
    x = 0.5 + 0.5 * _batch(n=64, c=3, h=h, w=w)
    aug = ClassicAugment({"erasing": {"p": 1, "area": [0.1, 0.2], "ratio": [0.5, 2.0]}})
    mask = aug(x, _gen())[:, :1] == 0
    frac = mask.float().mean((1, 2, 3))
    assert float(frac.min()) >= 0.1 - 0.015 and float(frac.max()) <= 0.2 + 0.015
    rows, cols = mask.any(dim=3), mask.any(dim=2)
    assert torch.equal(mask, rows[..., :, None] & cols[..., None, :])  # a full rectangle


def test_erasing_random_fill_and_probability():
    x = torch.zeros(64, 1, 24, 24)
    aug = ClassicAugment({"erasing": {"p": 0.5, "area": [0.2, 0.3], "value": "random"}})
    out = aug(x, _gen())
    erased = (out > 0).flatten(1).any(1)
    assert 10 < int(erased.sum()) < 54
    assert float(out.max()) < 1.0 and float(out[erased].std()) > 0.1


def test_strength_scales_magnitudes_not_probabilities():
    policy = load_policy("strong")
    half, double = scale_policy(policy, 0.5), scale_policy(policy, 2.0)
    assert half["affine"]["degrees"] == policy["affine"]["degrees"] / 2
    assert half["affine"]["p"] == policy["affine"]["p"] == double["affine"]["p"]
    assert half["crop"]["scale"] == pytest.approx((0.8, 1.0))
    assert double["affine"]["scale"] == pytest.approx((0.7, 1.3))
    assert math.isclose(double["crop"]["ratio"][0], 0.8**2)
    assert scale_policy(policy, 0.0) == {}
    assert ClassicAugment("strong", strength=0).is_identity


def test_bad_strength_and_generator():
    with pytest.raises(ConfigError, match="strength"):
        ClassicAugment("default", strength=-1)
    with pytest.raises(ValueError, match="N×C×H×W"):
        ClassicAugment("default")(torch.rand(3, 8, 8), _gen())


# --------------------------------------------------------------------- policies ----


def test_load_policy_fills_defaults_in_run_order():
    policy = load_policy({"erasing": None, "hflip": {"p": 1}})
    assert list(policy) == ["hflip", "erasing"]
    assert policy["hflip"] == {"p": 1.0}
    assert policy["erasing"]["area"] == OPS["erasing"]["area"].default


def test_load_policy_from_yaml(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("hflip: {p: 1}\naffine:\n  degrees: 15\n  padding: reflection\n")
    policy = load_policy(path)
    assert policy["affine"]["degrees"] == 15.0 and policy["affine"]["padding"] == "reflection"
    assert load_policy(str(path)) == policy
    x = _batch()
    torch.testing.assert_close(ClassicAugment(path)(x, _gen()), ClassicAugment(policy)(x, _gen()))
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    assert load_policy(empty) == {}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("twirl: {p: 1}", r"unknown op 'twirl'"),
        ("affine: {angle: 5}", r"unknown key affine\.angle"),
        ("affine: {degrees: lots}", r"affine\.degrees must be a number"),
        ("hflip: {p: yes}", r"hflip\.p must be a number"),
        ("hflip: {p: 1.5}", r"hflip\.p must be a number in \[0\.0, 1\.0\]"),
        ("crop: {scale: [0.9, 0.5]}", r"crop\.scale must be \[low, high\]"),
        ("crop: {scale: 0.5}", r"crop\.scale must be \[low, high\]"),
        ("affine: {padding: mirror}", r"affine\.padding must be 'border' or"),
        ("erasing: {value: 1}", r"erasing\.value must be 0 or 'random'"),
        ("hflip: 0.5", r"hflip must be a mapping"),
        ("- hflip", r"expected a mapping"),
        ("hflip: [", r"cannot read augmentation policy file"),
    ],
)
def test_bad_policy_files_name_the_key_and_the_file(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_policy(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_unknown_policy_name_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown augmentation policy 'fancy'.*default"):
        load_policy("fancy")
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_policy(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(ConfigError, match=r"unknown op 'twirl'"):
        load_policy({"twirl": {}})


# ----------------------------------------------------------------------- device ----


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_gpu_agree_for_one_seed():
    x = _batch(n=32, c=3, h=48, w=48)
    aug = ClassicAugment({**POLICIES["strong"], "dropout": {"p": 0.5}})
    aug_random = ClassicAugment({"erasing": {"p": 1, "value": "random"}, "dropout": {"p": 1}})
    for a in (aug, aug_random):
        cpu = a(x, _gen(5))
        gpu = a(x.cuda(), _gen(5)).cpu()
        torch.testing.assert_close(gpu, cpu, rtol=0, atol=1e-4)
