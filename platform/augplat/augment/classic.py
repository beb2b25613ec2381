"""Classic augmentation on whole batches of tensors, reproducible on any device.

How to use::

    aug = ClassicAugment("default", strength=1.0)      # a name, a mapping or a YAML file
    gen = torch.Generator().manual_seed(0)             # always a CPU generator
    batch = aug(batch, gen)                            # N×C×H×W floats in [0, 1], CPU or GPU

Every random decision is a few numbers per sample drawn from the CPU generator and then moved
to the batch's device, so a seed gives the same batch on CPU and GPU. Per-pixel randomness
(noise, dropout, the random fill of erasing) is not drawn pixel by pixel: one 31-bit seed per
sample is drawn and an integer hash of (seed, pixel index) is evaluated on the device; integer
arithmetic is exact everywhere, so those uniforms are bit-identical on CPU and GPU (gaussian
noise goes through ``erfinv`` and may differ in the last float bit). Nothing loops over samples.

Ops and their keys, in the fixed order they run (geometry, then photometric, then erasing):

==============  ==========================================================================
``hflip``       ``p``
``crop``        ``p``, ``scale`` [lo, hi] area fraction kept, ``ratio`` [lo, hi] crop aspect
                relative to the image's (1 keeps it); the crop is resized back to full size
``affine``      ``p``, ``degrees`` (±), ``translate`` (± fraction of size), ``scale`` [lo, hi]
                zoom, ``shear`` (± degrees, along x), ``padding`` border | zeros | reflection
``brightness``  ``p``, ``delta``: add U(-delta, delta)
``contrast``    ``p``, ``factor``: scale around the image mean by U(1-factor, 1+factor)
``blur``        ``p``, ``sigma`` [lo, hi] gaussian sigma in pixels
``noise``       ``p``, ``std`` additive gaussian noise
``dropout``     ``p``, ``rate`` fraction of pixels set to 0 (all channels of a pixel)
``erasing``     ``p``, ``area`` [lo, hi] fraction, ``ratio`` [lo, hi] rectangle width/height,
                ``value`` 0 or ``"random"`` (uniform noise fill)
==============  ==========================================================================

``crop`` then ``affine`` compose into one matrix per sample and one ``grid_sample`` call, so
the image is resampled at most once. Samples whose matrix is the identity keep their exact
input values (bilinear resampling at pixel centres is only accurate to ~1e-6).

``p`` is the per-sample probability of applying the op. ``strength`` scales magnitudes, never
probabilities: angles, shifts, shear, zoom and crop away from 1, deltas, std, sigma, dropout rate
and erased area; strength 0 drops every op (hflip has no magnitude, so it goes too).
Every op keeps values in [0, 1] (brightness, contrast and noise clamp).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F

from augplat.augment.policy import is_number, load_policy, scale_policy
from augplat.errors import ConfigError

__all__ = ["ClassicAugment"]

_MASK32 = 0xFFFFFFFF


class ClassicAugment:
    """A batch augmenter built from a policy.

    Args:
        policy: A name from :data:`POLICIES`, a ``{op: {param: value}}`` mapping, or a YAML file.
        strength: Multiplier on every magnitude (0 = identity, 1 = as written).
        hflip: False drops the policy's ``hflip`` op: the dataset says a mirror changes the
            label (digits), see :attr:`augplat.data.ImageDataset.hflip`.

    Attributes:
        policy: The validated policy, defaults filled in, before ``strength``.
        ops: The policy after ``strength``; this is what runs.
        name: The policy's name, file path, or ``"custom"``.
    """

    def __init__(
        self, policy: str | Mapping | Path = "default", strength: float = 1.0, hflip: bool = True
    ):
        if not is_number(strength) or strength < 0:
            raise ConfigError(f"augmentation strength must be a number >= 0, got {strength!r}")
        self.name = str(policy) if isinstance(policy, (str, Path)) else "custom"
        self.policy = load_policy(policy)
        self.strength = float(strength)
        self.ops = scale_policy(self.policy, self.strength)
        if not hflip:
            self.ops.pop("hflip", None)

    def __repr__(self) -> str:
        return f"ClassicAugment({self.name!r}, strength={self.strength}, ops={list(self.ops)})"

    @property
    def is_identity(self) -> bool:
        """True when no op can change a sample (no ops, or every ``p`` is 0)."""
        return all(params["p"] == 0 for params in self.ops.values())

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a batch; ``x`` is never modified in place (it may be returned as is).

        Args:
            x: Float batch ``N×C×H×W`` in [0, 1] on any device.
            generator: CPU generator all random numbers come from (default: torch's global one).

        Returns:
            The augmented batch, same shape, dtype and device.
        """
        if x.ndim != 4 or not x.is_floating_point():
            raise ValueError(f"expected a float N×C×H×W batch, got {tuple(x.shape)} {x.dtype}")
        gen = generator if generator is not None else torch.default_generator
        if gen.device.type != "cpu":
            raise ValueError("the generator must be a CPU torch.Generator")
        ops = self.ops
        if "hflip" in ops:
            x = _hflip(x, ops["hflip"], gen)
        if "crop" in ops or "affine" in ops:
            x = _geometry(x, ops.get("crop"), ops.get("affine"), gen)
        for name, apply in _PIXEL_OPS.items():
            if name in ops:
                x = apply(x, ops[name], gen)
        return x


# ---------------------------------------------------------------- random numbers (CPU) ----


def _chosen(gen: torch.Generator, n: int, p: float) -> torch.Tensor:
    """Bool (n,) on CPU: which samples get the op."""
    return torch.rand(n, generator=gen, dtype=torch.float64) < p


def _uniform(gen: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    """Float64 (n,) on CPU, uniform in [lo, hi)."""
    return lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)


def _seeds(gen: torch.Generator, n: int) -> torch.Tensor:
    """One 31-bit seed per sample for the on-device pixel hash."""
    return torch.randint(0, 2**31, (n,), generator=gen, dtype=torch.int64)


def _per_sample(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Move (n,) CPU values to ``x``'s device and dtype, shaped to broadcast over C×H×W."""
    return values.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)


def _mix32(v: torch.Tensor) -> torch.Tensor:
    # A 32-bit integer hash (bijective, good avalanche); the multiplier is < 2**31 so the
    # products stay inside int64 and the result is exact on every device.
    v = ((v >> 16) ^ v) * 0x45D9F3B & _MASK32
    v = ((v >> 16) ^ v) * 0x45D9F3B & _MASK32
    return (v >> 16) ^ v


def _pixel_bits(seeds: torch.Tensor, shape: tuple[int, ...], device) -> torch.Tensor:
    """Int64 hash values in [0, 2**32) of shape ``(len(seeds), *shape)``, one per pixel."""
    index = _mix32(torch.arange(math.prod(shape), device=device, dtype=torch.int64))
    key = _mix32(seeds.to(device))
    return _mix32(key[:, None] ^ index[None, :]).view(len(seeds), *shape)


def _pixel_uniform(seeds: torch.Tensor, shape: tuple[int, ...], device) -> torch.Tensor:
    """Float32 uniforms in (0, 1), exact (24-bit) and identical on every device."""
    return ((_pixel_bits(seeds, shape, device) >> 8).float() + 0.5) / 2**24


def _pixel_normal(seeds: torch.Tensor, shape: tuple[int, ...], device) -> torch.Tensor:
    """Float32 standard normals via the inverse CDF of exact uniforms in (-1, 1)."""
    odd = (_pixel_bits(seeds, shape, device) >> 9) * 2 + 1 - 2**23
    return math.sqrt(2.0) * torch.erfinv(odd.float() / 2**23)


def _subset(x: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor | None:
    """Device indices of the chosen samples, or None when there are none (op skipped)."""
    if not bool(chosen.any()):
        return None
    return chosen.nonzero().squeeze(1).to(x.device)


def _put(x: torch.Tensor, index: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A copy of ``x`` with the samples at ``index`` replaced by ``values``."""
    return x.index_copy(0, index, values.to(x.dtype))


# ---------------------------------------------------------------------------- geometry ----


def _hflip(x: torch.Tensor, params: dict, gen: torch.Generator) -> torch.Tensor:
    chosen = _chosen(gen, len(x), params["p"])
    index = _subset(x, chosen)
    return x if index is None else _put(x, index, x[index].flip(-1))


def _crop_matrices(params: dict, gen: torch.Generator, n: int) -> torch.Tensor:
    """(n, 3, 3) maps from output to input coordinates (both centred, in half-sizes)."""
    chosen = _chosen(gen, n, params["p"])
    area = _uniform(gen, n, *params["scale"])
    log_lo, log_hi = (math.log(r) for r in params["ratio"])
    ratio = torch.exp(_uniform(gen, n, log_lo, log_hi))
    shift = _uniform(gen, 2 * n, -1.0, 1.0).view(2, n)
    # Fractions of width and height kept; the crop always lies inside the image.
    fw = torch.sqrt(area * ratio).clamp(max=1.0)
    fh = torch.sqrt(area / ratio).clamp(max=1.0)
    fw, fh = torch.where(chosen, fw, 1.0), torch.where(chosen, fh, 1.0)
    mat = torch.zeros(n, 3, 3, dtype=torch.float64)
    mat[:, 0, 0], mat[:, 1, 1], mat[:, 2, 2] = fw, fh, 1.0
    mat[:, 0, 2] = torch.where(chosen, shift[0] * (1 - fw), 0.0)
    mat[:, 1, 2] = torch.where(chosen, shift[1] * (1 - fh), 0.0)
    return mat


def _affine_matrices(params: dict, gen: torch.Generator, n: int, h: int, w: int) -> torch.Tensor:
    """(n, 3, 3) inverse affine maps (output → input) in centred pixel units."""
    chosen = _chosen(gen, n, params["p"])
    angle = torch.deg2rad(_uniform(gen, n, -params["degrees"], params["degrees"]))
    shift = _uniform(gen, 2 * n, -params["translate"], params["translate"]).view(2, n)
    zoom = _uniform(gen, n, *params["scale"])
    shear = torch.deg2rad(_uniform(gen, n, -params["shear"], params["shear"]))
    angle, shear = torch.where(chosen, angle, 0.0), torch.where(chosen, shear, 0.0)
    zoom = torch.where(chosen, zoom, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Forward map = translate · rotate · shear · zoom, about the image centre.
    fwd = torch.zeros(n, 3, 3, dtype=torch.float64)
    fwd[:, 0, 0], fwd[:, 0, 1] = zoom * cos, zoom * (cos * torch.tan(shear) - sin)
    fwd[:, 1, 0], fwd[:, 1, 1] = zoom * sin, zoom * (sin * torch.tan(shear) + cos)
    fwd[:, 0, 2] = torch.where(chosen, shift[0] * w, 0.0)
    fwd[:, 1, 2] = torch.where(chosen, shift[1] * h, 0.0)
    fwd[:, 2, 2] = 1.0
    return torch.linalg.inv(fwd)


def _geometry(x: torch.Tensor, crop: dict | None, affine: dict | None, gen) -> torch.Tensor:
    """Crop then affine, composed into one ``grid_sample`` over the samples that move."""
    n, c, h, w = x.shape
    # Work in pixel units centred on the image (so rotations stay rotations on non-square
    # images), then convert to affine_grid's [-1, 1] units: to_norm · M · to_pixels.
    to_pixels = torch.diag(torch.tensor([w / 2, h / 2, 1.0], dtype=torch.float64))
    to_norm = torch.diag(torch.tensor([2 / w, 2 / h, 1.0], dtype=torch.float64))
    inv = torch.eye(3, dtype=torch.float64).expand(n, 3, 3)
    if crop is not None:
        inv = to_pixels @ _crop_matrices(crop, gen, n) @ to_norm
    if affine is not None:
        inv = inv @ _affine_matrices(affine, gen, n, h, w)
    theta = (to_norm @ inv @ to_pixels)[:, :2]
    moved = (theta - torch.eye(3, dtype=torch.float64)[:2]).abs().amax(dim=(1, 2)) > 1e-12
    index = _subset(x, moved)
    if index is None:
        return x
    theta = theta[moved].to(device=x.device, dtype=torch.float32)
    grid = F.affine_grid(theta, [len(index), c, h, w], align_corners=False)
    padding = affine["padding"] if affine is not None else "border"
    warped = F.grid_sample(
        x[index].float(), grid, mode="bilinear", padding_mode=padding, align_corners=False
    )
    return _put(x, index, warped)


# ------------------------------------------------------------------------- photometric ----


def _brightness(x: torch.Tensor, params: dict, gen: torch.Generator) -> torch.Tensor:
    chosen = _chosen(gen, len(x), params["p"])
    delta = _uniform(gen, len(x), -params["delta"], params["delta"])
    if not bool(chosen.any()):
        return x
    return (x + _per_sample(torch.where(chosen, delta, 0.0), x)).clamp(0.0, 1.0)


def _contrast(x: torch.Tensor, params: dict, gen: torch.Generator) -> torch.Tensor:
    chosen = _chosen(gen, len(x), params["p"])
    factor = _uniform(gen, len(x), 1 - params["factor"], 1 + params["factor"])
    if not bool(chosen.any()):
        return x
    factor = _per_sample(torch.where(chosen, factor, 1.0), x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    # x·f + m·(1-f) rather than (x-m)·f + m: with f == 1 it gives x back bit for bit.
    return (x * factor + mean * (1 - factor)).clamp(0.0, 1.0)


def _blur(x: torch.Tensor, params: dict, gen: torch.Generator) -> torch.Tensor:
    chosen = _chosen(gen, len(x), params["p"])
    sigma = _uniform(gen, len(x), *params["sigma"])
    index = _subset(x, chosen & (sigma > 0))
    if index is None:
        return x
    sub = x[index]
    k, c, h, w = sub.shape
    radius = max(1, math.ceil(3 * params["sigma"][1]))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    sig = sigma[chosen & (sigma > 0)].clamp(min=1e-3)
    kernel = torch.exp(-(taps[None, :] ** 2) / (2 * sig[:, None] ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).to(device=x.device, dtype=torch.float32)
    # One separable pass per axis: every (sample, channel) plane is its own conv group.
    kernel = kernel.repeat_interleave(c, dim=0)
    planes = F.pad(sub.float().reshape(1, k * c, h, w), [radius] * 4, mode="replicate")
    planes = F.conv2d(planes, kernel.view(k * c, 1, 1, -1), groups=k * c)
    planes = F.conv2d(planes, kernel.view(k * c, 1, -1, 1), groups=k * c)
    return _put(x, index, planes.view(k, c, h, w))


def _noise(x: torch.Tensor, params: dict, gen: torch.Generator) -> torch.Tensor:
    chosen = _chosen(gen, len(x), params["p"])
    seeds = _seeds(gen, len(x))
    index = _subset(x, chosen)
    if index is None or params["std"] == 0:
        return x
    z = _pixel_normal(seeds[chosen], tuple(x.shape[1:]), x.device)
    return _put(x, index, (x[index] + params["std"] * z.to(x.dtype)).clamp(0.0, 1.0))


def _dropout(x: torch.Tensor, params: dict, gen: torch.Generator) -> torch.Tensor:
    chosen = _chosen(gen, len(x), params["p"])
    seeds = _seeds(gen, len(x))
    index = _subset(x, chosen)
    if index is None:
        return x
    drop = _pixel_uniform(seeds[chosen], (1, *x.shape[2:]), x.device) < params["rate"]
    return _put(x, index, x[index].masked_fill(drop, 0.0))


def _erasing(x: torch.Tensor, params: dict, gen: torch.Generator) -> torch.Tensor:
    n, c, h, w = x.shape
    chosen = _chosen(gen, n, params["p"])
    area = _uniform(gen, n, *params["area"]) * h * w
    log_lo, log_hi = (math.log(r) for r in params["ratio"])
    ratio = torch.exp(_uniform(gen, n, log_lo, log_hi))
    where = torch.rand(2, n, generator=gen, dtype=torch.float64)
    seeds = _seeds(gen, n)
    eh = torch.sqrt(area / ratio).round().clamp(0, h).long()
    ew = torch.sqrt(area * ratio).round().clamp(0, w).long()
    eh, ew = torch.where(chosen, eh, 0), torch.where(chosen, ew, 0)
    top = (where[0] * (h - eh + 1)).floor().long()
    left = (where[1] * (w - ew + 1)).floor().long()
    erased = eh * ew > 0
    if not bool(erased.any()):
        return x
    # Rectangles as coordinate comparisons: (n,1,h,1) rows & (n,1,1,w) columns.
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, 1, w)
    top, left, eh, ew = (t.to(x.device).view(n, 1, 1, 1) for t in (top, left, eh, ew))
    mask = (rows >= top) & (rows < top + eh) & (cols >= left) & (cols < left + ew)
    if params["value"] != "random":
        return x.masked_fill(mask, float(params["value"]))
    # Hash noise only for the samples that get a rectangle: it is the costly part.
    index = _subset(x, erased)
    fill = _pixel_uniform(seeds[erased], (c, h, w), x.device).to(x.dtype)
    return _put(x, index, torch.where(mask[index], fill, x[index]))


_PIXEL_OPS = {
    "brightness": _brightness,
    "contrast": _contrast,
    "blur": _blur,
    "noise": _noise,
    "dropout": _dropout,
    "erasing": _erasing,
}
