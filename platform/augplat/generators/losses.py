"""Adversarial losses (LSGAN, WGAN-GP, hinge), the gradient penalty and soft classification.

Each adversarial loss is a pair: what the discriminator minimises given its outputs on real and
fake inputs, and what the generator minimises given the discriminator's output on fakes. Outputs
may be patch maps (PatchGAN) or one score per image; means are taken over everything.
Losses are computed in float32 even under autocast: bf16 squares and means lose too much.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("lsgan", "wgangp", "hinge")


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Discriminator loss on its outputs for real and for fake inputs.

    Args:
        kind: ``lsgan`` (targets 1 / 0, halved as in CycleGAN), ``wgangp`` (critic difference;
            add :func:`gradient_penalty`), or ``hinge``.
        real: Outputs on real images.
        fake: Outputs on generated images.
    """
    real, fake = real.float(), fake.float()
    if kind == "lsgan":
        return 0.5 * (
            F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake))
        )
    if kind == "wgangp":
        return fake.mean() - real.mean()
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    raise ValueError(f"unknown GAN loss {kind!r} (choose from {', '.join(LOSSES)})")


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """Generator loss on the discriminator's outputs for generated images."""
    fake = fake.float()
    if kind == "lsgan":
        return F.mse_loss(fake, torch.ones_like(fake))
    if kind in ("wgangp", "hinge"):
        return -fake.mean()
    raise ValueError(f"unknown GAN loss {kind!r} (choose from {', '.join(LOSSES)})")


def real_sign(kind: str, real: torch.Tensor) -> torch.Tensor:
    """Per-image sign of "looks real" for ADA's overfitting heuristic ``r_t = E[sign(D(real))]``.

    Hinge and Wasserstein critics separate at 0; LSGAN's targets are 1 and 0, so its decision
    boundary is 0.5. Patch maps are averaged per image first.
    """
    score = real.float().flatten(1).mean(1) if real.dim() > 1 else real.float()
    return torch.sign(score - 0.5) if kind == "lsgan" else torch.sign(score)


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator):
    """WGAN-GP penalty ``E[(||grad_x D(x_hat)||_2 - 1)^2]`` on random interpolates.

    Args:
        critic: Callable returning the critic's score(s) for a batch (patch maps are summed).
        real: Real batch.
        fake: Generated batch (detached).
        generator: CPU generator for the interpolation weights (reproducible on any device).
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, generator=generator).to(real.device, real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(mixed)
    (grad,) = torch.autograd.grad(out.float().sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross entropy against class indices or against probability vectors (mixed conditions).

    A convex mix of two one-hots is a valid target distribution: the generator is asked to make
    an image the classifier finds, say, 70 % happy and 30 % surprised.
    """
    logits = logits.float()
    if target.dtype in (torch.int64, torch.int32):
        return F.cross_entropy(logits, target)
    return -(target.float() * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
