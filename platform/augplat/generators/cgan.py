"""Class-conditional GAN for small datasets: noise + class → image (the StyleGAN2-ADA role).

How to run::

    augplat gan train cgan --data icecream --epochs 200 --ada --ema 0.999
    augplat gan sample <run-id> --n 8                  # 8 images per class

Seed 004 enlarged a 600-image, 2-class dataset with StyleGAN2-ADA samples. This is the same idea
at laptop scale: a conditional generator with class-conditional BatchNorm, a spectral-norm
projection discriminator, hinge loss (Miyato & Koyama, 2018) and DiffAugment (color, translation,
cutout) on every discriminator input, real and fake, so the discriminator cannot memorise the
few real images. With ``--ada`` each op is applied with a probability ``p`` that ADA's heuristic
``r_t = E[sign(D(real))]`` drives towards ``ada_target`` (logged as ``ada_p``).

``generate(n, labels)`` makes images of any class (or a convex mix of classes);
``variations(images, labels)`` returns fresh samples of each label (the inputs only give the
count and device; ``strength`` does not apply to noise sampling).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from augplat.generators.base import GanMethod, one_hot
from augplat.generators.diffaugment import AdaptiveP, diff_augment, parse_policy
from augplat.generators.losses import d_loss, g_loss, gradient_penalty, real_sign
from augplat.generators.networks import ConditionalGenerator, ProjectionDiscriminator
from augplat.generators.options import CganOptions
from augplat.generators.registry import GAN_METHODS
from augplat.generators.roles import Role, Roles
from augplat.generators.spec import Batch

PREVIEW_MAX_CLASSES = 10


@GAN_METHODS.register("cgan")
class ConditionalGAN(GanMethod):
    """Noise-to-image generator conditioned on a class code."""

    name = "cgan"
    condition_kind = "noise"
    # A fresh sample of the label replaces a training sample and grows a class; its
    # ``variations`` are such samples too (the input only gives count and device).
    roles = Roles(
        augment=Role.SAMPLE,
        expand=Role.SAMPLE,
        quality=(Role.SAMPLE,),
        extra=frozenset({Role.VARIATION}),
    )
    options = CganOptions
    defaults: ClassVar[dict[str, Any]] = {
        "gan_loss": "hinge",
        "n_critic": 1,
        "lr": 2e-4,
        "batch_size": 32,
    }

    @property
    def k(self) -> int:
        """Number of classes (length of a condition)."""
        return max(1, len(self.spec.classes))

    @property
    def condition_semantics(self):
        return {**super().condition_semantics, "z_dim": self.cfg.z_dim, "continuous": True}

    def build_generators(self):
        cfg, spec = self.cfg, self.spec
        return {"g": ConditionalGenerator(cfg.z_dim, self.k, spec.channels, spec.size, cfg.ngf)}

    def build_training(self) -> None:
        cfg, spec = self.cfg, self.spec
        self.discriminators = {
            "d": ProjectionDiscriminator(spec.channels, self.k, spec.size, cfg.ndf)
        }
        self.optimizers = {
            "g": self.adam([self.generators["g"]], cfg.lr),
            "d": self.adam([self.discriminators["d"]], cfg.lr_d),
        }
        self.policy = parse_policy(cfg.diffaug)
        self.ada = AdaptiveP(cfg.ada_target, cfg.ada_interval, cfg.ada_kimg) if cfg.ada else None

    @property
    def aug_p(self) -> float:
        """Current probability of each DiffAugment op (1 without ADA)."""
        return self.ada.p if self.ada is not None else 1.0

    def _noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.cfg.z_dim, generator=generator).to(self.device)

    def train_step(self, batch: Batch, step: int, generator: torch.Generator):
        cfg, kind = self.cfg, self.cfg.gan_loss
        g, d = self.generators["g"], self.discriminators["d"]
        x, cond = batch.images, one_hot(batch.labels, self.k)
        p = self.aug_p
        z = self._noise(len(x), generator)
        with self.autocast():
            fake = g(z, cond).detach()
            real_out = d(diff_augment(x, self.policy, generator, p), cond)
            fake_out = d(diff_augment(fake, self.policy, generator, p), cond)
            losses = {"loss_d": d_loss(kind, real_out, fake_out)}
            total_d = losses["loss_d"]
            if kind == "wgangp":
                critic = lambda t: d(t, cond)  # noqa: E731
                losses["loss_gp"] = gradient_penalty(critic, x, fake, generator)
                total_d = total_d + cfg.lambda_gp * losses["loss_gp"]
        self.optimizers["d"].zero_grad(set_to_none=True)
        total_d.backward()
        self.optimizers["d"].step()
        if self.ada is not None:
            self.ada.accumulate(real_sign(kind, real_out.detach()))
        if (step + 1) % cfg.n_critic == 0:
            losses["loss_g"] = self._generator_step(cond, step, generator, p)
        return {k: v.detach() for k, v in losses.items()}

    def _generator_step(self, cond, step: int, generator: torch.Generator, p: float):
        g, d = self.generators["g"], self.discriminators["d"]
        d.requires_grad_(False)
        z = self._noise(len(cond), generator)
        with self.autocast():
            fake = g(z, cond)
            loss = g_loss(self.cfg.gan_loss, d(diff_augment(fake, self.policy, generator, p), cond))
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["g"].step()
        d.requires_grad_(True)
        self.update_ema(step)
        return loss

    def extra_state(self):
        return {"ada": self.ada.state_dict()} if self.ada is not None else {}

    def load_extra_state(self, state) -> None:
        if self.ada is not None:
            self.ada.load_state_dict(state["ada"])

    def extra_metrics(self) -> dict[str, float]:
        if self.ada is None:
            return {}
        return {"ada_p": self.ada.p, "ada_rt": self.ada.last_rt}

    # ------------------------------------------------------------------ generation ----

    def _generate_batch(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.g("g")(self._noise(len(cond), generator), cond)

    def _variations_batch(self, x, labels, strength, generator):
        return self._generate_batch(one_hot(labels, self.k).to(self.device), generator)

    def preview(self, images, labels, images_b, generator, columns: int = 8):
        """One row per class (up to 10), the same ``columns`` noise vectors in every row."""
        rows = min(self.k, PREVIEW_MAX_CLASSES)
        z = self._noise(columns, generator).repeat(rows, 1)
        cls = torch.arange(rows).repeat_interleave(columns)
        with self._eval():
            out = self.g("g")(z, one_hot(cls, self.k).to(self.device)).float()
        return out.add(1).div(2).clamp(0, 1).cpu(), columns
