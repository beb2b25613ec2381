"""Networks shared by the GAN methods, sized for images from 8 px (tests) to 256 px.

* :class:`ResnetGenerator` — CycleGAN's generator (c7s1-ngf, 2 stride-2 downsamplings, residual
  blocks, 2 upsamplings, c7s1 + tanh). With ``cond_dim`` it is StarGAN's generator: the condition
  vector is tiled over the image and concatenated to the input channels.
* :class:`PatchDiscriminator` — the 70×70 PatchGAN with its depth capped so that small images
  (16–48 px) still give a patch map of at least 2×2; optional StarGAN classification head.
* :class:`ConditionalGenerator` — noise + condition → image, DCGAN-style upsampling with
  class-conditional BatchNorm (the cGAN generator of Miyato & Koyama, 2018).
* :class:`ProjectionDiscriminator` — spectral-normalised convolutions with the projection
  conditioning ``out = psi(h) + <embed(c), h>`` (Miyato & Koyama, 2018).

Conditions are float vectors, not indices: a one-hot is a class, a convex mix is a point between
classes. ``Linear`` on a one-hot is an embedding lookup, so nothing is lost for hard labels.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """N(0, gain) weights, zero biases: pytorch-CycleGAN's ``normal`` init (torch's global RNG)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def halvings(size: int, floor: int = 4, limit: int = 8) -> int:
    """How often ``size`` halves exactly while staying ``>= floor`` (at most ``limit`` times)."""
    n = 0
    while n < limit and size % 2 == 0 and size // 2 >= floor:
        size //= 2
        n += 1
    return n


def patch_layers(size: int, limit: int = 3) -> int:
    """PatchGAN depth for ``size`` px: the standard 3, fewer when the patch map would vanish.

    Each stride-2 layer halves the map and the two final stride-1 4×4 convs take 1 px each, so
    depth n leaves ``size / 2**n - 2`` px; we keep at least 2 (16 px → 2 layers, 48 px → 3).
    """
    n = limit
    while n > 1 and size // 2**n - 2 < 2:
        n -= 1
    return n


class ResnetBlock(nn.Module):
    """Two reflect-padded 3×3 convs with instance norm and an identity shortcut."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            nn.InstanceNorm2d(dim, affine=True),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            nn.InstanceNorm2d(dim, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Image (+ optional condition) → image in [-1, 1].

    Args:
        in_channels: Image channels in.
        out_channels: Image channels out.
        image_size: Input side, used to cap the downsampling so the bottleneck stays ≥ 4 px.
        ngf: Width of the first layer (doubles per downsampling).
        n_blocks: Residual blocks at the bottleneck (6 for ≤ 128 px, 9 for 256 px in CycleGAN).
        cond_dim: Length of the condition vector tiled onto the input (0: unconditional).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        image_size: int,
        ngf: int = 64,
        n_blocks: int = 6,
        cond_dim: int = 0,
    ):
        super().__init__()
        self.cond_dim = cond_dim
        n_down = halvings(image_size, floor=4, limit=2)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels + cond_dim, ngf, 7),
            nn.InstanceNorm2d(ngf, affine=True),
            nn.ReLU(True),
        ]
        for i in range(n_down):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c, affine=True)]
            layers += [nn.ReLU(True)]
        width = ngf * 2**n_down
        layers += [ResnetBlock(width) for _ in range(n_blocks)]
        for i in reversed(range(n_down)):
            c = ngf * 2 ** (i + 1)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1)]
            layers += [nn.InstanceNorm2d(c // 2, affine=True), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_dim:
            tiled = cond.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            x = torch.cat([x, tiled], dim=1)
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a map of real/fake scores, one per overlapping patch.

    Args:
        in_channels: Image channels.
        image_size: Input side (picks the depth when ``n_layers`` is None; sizes the class head).
        ndf: Width of the first layer.
        n_layers: Stride-2 layers (3 = the 70×70 PatchGAN); None fits the image size.
        norm: ``instance`` (CycleGAN) or ``none`` (StarGAN, and any gradient-penalty loss).
        num_classes: Adds StarGAN's domain-classification head when > 0; forward then returns
            ``(patch_scores, class_logits)``.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        ndf: int = 64,
        n_layers: int | None = None,
        norm: str = "instance",
        num_classes: int = 0,
    ):
        super().__init__()
        n_layers = n_layers or patch_layers(image_size)

        def norm_layer(c: int) -> nn.Module:
            return nn.InstanceNorm2d(c, affine=True) if norm == "instance" else nn.Identity()

        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = ndf
        for i in range(1, n_layers):
            nxt = ndf * min(2**i, 8)
            layers += [nn.Conv2d(c, nxt, 4, 2, 1), norm_layer(nxt), nn.LeakyReLU(0.2, True)]
            c = nxt
        nxt = ndf * min(2**n_layers, 8)
        layers += [nn.Conv2d(c, nxt, 4, 1, 1), norm_layer(nxt), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.patch = nn.Conv2d(nxt, 1, 4, 1, 1)
        self.classify = None
        if num_classes:
            side = max(1, image_size // 2**n_layers - 1)  # feature map side before the heads
            self.classify = nn.Conv2d(nxt, num_classes, side)
        if norm == "instance":
            # N(0, 0.02) as CycleGAN; without normalisation it would shrink the signal layer by
            # layer, so the unnormalised (StarGAN) critic keeps PyTorch's default init, as StarGAN.
            init_weights(self)

    def forward(self, x: torch.Tensor):
        h = self.features(x)
        if self.classify is None:
            return self.patch(h)
        return self.patch(h), self.classify(h).flatten(1)


class CondBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are functions of the condition vector."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels)
        self.bias = nn.Linear(cond_dim, channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma = 1.0 + self.gain(cond)[:, :, None, None]
        return self.bn(x) * gamma + self.bias(cond)[:, :, None, None]


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour 2× upsampling of ``N×C×H×W`` as a broadcast view and one copy.

    Same values as ``F.interpolate(x, scale_factor=2, mode="nearest")``, about 4× faster on
    CPU (the interpolate kernel there is generic), and the same on GPU.
    """
    n, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)


class _UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.norm = CondBatchNorm2d(c_in, cond_dim)
        self.conv = nn.Conv2d(c_in, c_out, 3, 1, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.conv(upsample2x(torch.relu(self.norm(x, cond))))


class ConditionalGenerator(nn.Module):
    """(noise, condition) → image in [-1, 1].

    Args:
        z_dim: Noise dimension.
        cond_dim: Condition length (number of classes).
        out_channels: Image channels.
        image_size: Output side; generated from a ``s0 × s0`` seed, ``s0 ≥ 4``, by doublings.
        ngf: Width of the last block (earlier blocks double it, up to 8×).
    """

    def __init__(self, z_dim: int, cond_dim: int, out_channels: int, image_size: int, ngf: int):
        super().__init__()
        self.z_dim, self.cond_dim = z_dim, cond_dim
        n_up = halvings(image_size, floor=4)
        self.s0 = image_size // 2**n_up
        widths = [ngf * min(2**i, 8) for i in reversed(range(n_up + 1))]
        self.c0 = widths[0]
        self.stem = nn.Linear(z_dim + cond_dim, self.c0 * self.s0 * self.s0)
        self.blocks = nn.ModuleList(_UpBlock(a, b, cond_dim) for a, b in itertools.pairwise(widths))
        self.out_norm = CondBatchNorm2d(widths[-1], cond_dim)
        self.out = nn.Conv2d(widths[-1], out_channels, 3, 1, 1)
        init_weights(self)
        for m in self.modules():  # conditional gains start at "no modulation"
            if isinstance(m, CondBatchNorm2d):
                nn.init.zeros_(m.gain.weight)
                nn.init.zeros_(m.bias.weight)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        cond = cond.to(z.dtype)
        h = self.stem(torch.cat([z, cond], dim=1)).view(-1, self.c0, self.s0, self.s0)
        for block in self.blocks:
            h = block(h, cond)
        return torch.tanh(self.out(torch.relu(self.out_norm(h, cond))))


class ProjectionDiscriminator(nn.Module):
    """Spectral-norm CNN critic with class projection; returns one score per image.

    Args:
        in_channels: Image channels.
        cond_dim: Condition length (number of classes).
        image_size: Input side (downsampled by 2 while ≥ 8 px).
        ndf: Width of the first block (doubling per downsampling, up to 8×).
    """

    def __init__(self, in_channels: int, cond_dim: int, image_size: int, ndf: int = 64):
        super().__init__()
        n_down = halvings(image_size, floor=4, limit=4)
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(n_down + 1):
            nxt = ndf * min(2**i, 8)
            layers += [spectral_norm(nn.Conv2d(c, nxt, 3, 1, 1)), nn.LeakyReLU(0.1, True)]
            if i < n_down:
                layers += [spectral_norm(nn.Conv2d(nxt, nxt, 4, 2, 1)), nn.LeakyReLU(0.1, True)]
            c = nxt
        self.features = nn.Sequential(*layers)
        self.linear = spectral_norm(nn.Linear(c, 1))
        self.embed = spectral_norm(nn.Linear(cond_dim, c, bias=False))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.features(x).sum(dim=(2, 3))  # global sum pooling, as in SN-GAN
        projection = (self.embed(cond.to(h.dtype)) * h).sum(dim=1, keepdim=True)
        return (self.linear(h) + projection).flatten()
