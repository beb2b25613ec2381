"""DiffAugment (Zhao et al., 2020): differentiable augmentation of every discriminator input.

Augmenting only the reals teaches the generator to produce augmented-looking images; augmenting
reals and fakes alike, with ops gradients flow through, keeps the discriminator from memorising a
small training set while the generator still learns the clean distribution. Ops (as in the
reference implementation, on images in [-1, 1]):

* ``color`` — brightness shift U(-0.5, 0.5), saturation ×U(0, 2), contrast ×U(0.5, 1.5);
* ``translation`` — integer shift up to 1/8 of the side, zero padded;
* ``cutout`` — a zeroed square of half the side at a random position.

Each op hits each image with probability ``p`` (1 = plain DiffAugment); ADA-style adaptation
moves ``p`` (see :class:`AdaptiveP`). Parameters are drawn per image from an explicit CPU
generator, so runs are reproducible on any device.
"""

from __future__ import annotations

import torch

OPS = ("color", "translation", "cutout")


def parse_policy(text: str | None) -> tuple[str, ...]:
    """``"color,translation"`` → ``("color", "translation")``; ``""``/``none`` → ``()``."""
    names = [t.strip() for t in (text or "").split(",") if t.strip() and t.strip() != "none"]
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"unknown DiffAugment op {unknown[0]!r} (choose from {', '.join(OPS)})")
    return tuple(dict.fromkeys(names))


def _uniform(gen: torch.Generator, n: int, lo: float, hi: float, x: torch.Tensor) -> torch.Tensor:
    return (lo + (hi - lo) * torch.rand(n, generator=gen)).to(x.device, x.dtype).view(-1, 1, 1, 1)


def _chosen(gen: torch.Generator, n: int, p: float, x: torch.Tensor) -> torch.Tensor:
    return (torch.rand(n, generator=gen) < p).to(x.device, x.dtype).view(-1, 1, 1, 1)


def color(x: torch.Tensor, gen: torch.Generator, p: float = 1.0) -> torch.Tensor:
    """Random brightness, saturation and contrast; unchosen images get neutral factors."""
    n = x.shape[0]
    on = _chosen(gen, n, p, x)
    x = x + (_uniform(gen, n, -0.5, 0.5, x)) * on
    mean_c = x.mean(dim=1, keepdim=True)  # no-op for one channel: gray has no saturation
    x = (x - mean_c) * (1 + (_uniform(gen, n, 0.0, 2.0, x) - 1) * on) + mean_c
    mean_all = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean_all) * (1 + (_uniform(gen, n, 0.5, 1.5, x) - 1) * on) + mean_all


def translation(
    x: torch.Tensor, gen: torch.Generator, p: float = 1.0, ratio: float = 0.125
) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its side, filling with zeros."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    on = torch.rand(n, generator=gen) < p
    ty = torch.randint(-sy, sy + 1, (n,), generator=gen) * on
    tx = torch.randint(-sx, sx + 1, (n,), generator=gen) * on
    padded = torch.nn.functional.pad(x, [1, 1, 1, 1])
    rows = (torch.arange(h)[None, :] + ty[:, None] + 1).clamp(0, h + 1).to(x.device)
    cols = (torch.arange(w)[None, :] + tx[:, None] + 1).clamp(0, w + 1).to(x.device)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # N×H×W×C
    return out.permute(0, 3, 1, 2).contiguous()


def cutout(
    x: torch.Tensor, gen: torch.Generator, p: float = 1.0, ratio: float = 0.5
) -> torch.Tensor:
    """Zero one square of ``ratio`` × the side per image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    on = (torch.rand(n, generator=gen) < p).to(x.device)
    oy = torch.randint(0, h + (1 - ch % 2), (n,), generator=gen).to(x.device) - ch // 2
    ox = torch.randint(0, w + (1 - cw % 2), (n,), generator=gen).to(x.device) - cw // 2
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_y = (ys >= oy[:, None]) & (ys < oy[:, None] + ch)
    in_x = (xs >= ox[:, None]) & (xs < ox[:, None] + cw)
    hole = in_y[:, :, None] & in_x[:, None, :] & on[:, None, None]
    return x * (~hole).to(x.dtype)[:, None]


_FUNCS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(
    x: torch.Tensor, policy: tuple[str, ...] | str, generator: torch.Generator, p: float = 1.0
) -> torch.Tensor:
    """Apply the policy's ops in order; differentiable with respect to ``x``.

    Args:
        x: Batch ``N×C×H×W`` in [-1, 1].
        policy: Op names (or a comma-separated string).
        generator: CPU generator for all random parameters.
        p: Probability that an op is applied to an image.
    """
    ops = parse_policy(policy) if isinstance(policy, str) else policy
    if not ops or p <= 0:
        return x
    for name in ops:
        x = _FUNCS[name](x, generator, p)
    return x


class AdaptiveP:
    """ADA's controller (Karras et al., 2020) of the augmentation probability ``p``.

    Every ``interval`` steps, ``r_t = E[sign(D(real))]`` over those steps measures how sure the
    discriminator is about the training images (1 = fully overfit); ``p`` moves up when
    ``r_t > target`` and down otherwise, by ``batch·interval / (kimg·1000)`` so it could cross
    0 → 1 in ``kimg`` thousand images.

    Args:
        target: The ``r_t`` to hold (0.6 in ADA).
        interval: Steps between adjustments.
        kimg: Speed, in thousands of real images for a full 0 → 1 sweep.
        p: Starting probability.
    """

    def __init__(self, target: float = 0.6, interval: int = 4, kimg: float = 100.0, p: float = 0.0):
        self.target, self.interval, self.kimg, self.p = target, interval, kimg, p
        self._signs: torch.Tensor | float = 0.0  # summed on the device: no sync per step
        self._count = 0
        self._steps = 0
        self.last_rt = 0.0

    def accumulate(self, signs: torch.Tensor) -> None:
        """Add one step's per-image signs of ``D(real)``; adjusts ``p`` every ``interval``."""
        self._signs = self._signs + signs.detach().double().sum()
        self._count += int(signs.numel())
        self._steps += 1
        if self._steps >= self.interval:
            self.last_rt = float(self._signs) / max(self._count, 1)
            step = self._count / (self.kimg * 1000.0)
            self.p = min(1.0, max(0.0, self.p + (step if self.last_rt > self.target else -step)))
            self._signs, self._count, self._steps = 0.0, 0, 0

    def state_dict(self) -> dict[str, float]:
        """Everything needed to continue identically (sums of signs are exact integers)."""
        return {
            "p": self.p,
            "signs": float(self._signs),
            "count": self._count,
            "steps": self._steps,
            "last_rt": self.last_rt,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
        self.p, self.last_rt = float(state["p"]), float(state["last_rt"])
        self._signs, self._count = float(state["signs"]), int(state["count"])
        self._steps = int(state["steps"])
