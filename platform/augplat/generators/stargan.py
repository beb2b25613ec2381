"""StarGAN (Choi et al., 2018) with continuous conditions: one generator over all classes.

How to run::

    augplat gan train stargan --data fer --epochs 50 --batch-size 16
    augplat gan train stargan --data digits --size 16 --ngf 8 --n-blocks 1 --epochs 1

The role EmotionGAN / GANmut played in seed 001: edit an image's class (expression) while keeping
who it is. The generator takes an image and a condition vector over the classes; training uses
random one-hot targets and, for ``mix_prob`` of them, convex mixes of two codes, so points between
classes are meaningful (GANmut's continuous emotion space, in its simplest form). Losses:
adversarial (WGAN-GP by default, or LSGAN/hinge), domain classification by an auxiliary head of the
discriminator (real images: their label; fakes: the target condition, soft for mixes), and
reconstruction ``|G(G(x, c_trg), c_org) - x|``.

* ``translate(images, targets)`` — move images to other classes (dataset expansion, balancing).
* ``variations(images, labels, strength)`` — stay near the own class: condition
  ``(1 - s)·onehot(y) + s·w`` with ``w ~ Dirichlet(1)`` random over all classes ("emotion
  augmentation"; the own class keeps weight ≥ 1 - s, so s ≤ 0.5 keeps the label).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from augplat.generators.base import GanMethod, one_hot
from augplat.generators.losses import d_loss, g_loss, gradient_penalty, soft_cross_entropy
from augplat.generators.networks import PatchDiscriminator, ResnetGenerator
from augplat.generators.options import StarGanOptions
from augplat.generators.registry import GAN_METHODS
from augplat.generators.roles import Role, Roles
from augplat.generators.spec import Batch


def dirichlet_ones(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` uniform points on the probability simplex (Dirichlet(1)) from ``generator``."""
    e = -torch.log(torch.rand(n, k, generator=generator).clamp_min(1e-12))
    return e / e.sum(dim=1, keepdim=True)


@GAN_METHODS.register("stargan")
class StarGAN(GanMethod):
    """Conditional image-to-image generator over the dataset's classes."""

    name = "stargan"
    condition_kind = "class-code"
    # Augmentation stays near the own class ("emotion augmentation"); expansion moves images of
    # other classes to the target (seed 001); quality judges both (translation to another class
    # for the synthetic set, variations for what augmentation feeds a classifier).
    roles = Roles(
        augment=Role.VARIATION,
        expand=Role.TRANSLATION,
        quality=(Role.TRANSLATION, Role.VARIATION),
    )
    options = StarGanOptions
    defaults: ClassVar[dict[str, Any]] = {
        "gan_loss": "wgangp",
        "n_critic": 5,
        "lr": 1e-4,
        "batch_size": 16,
    }
    min_classes = 2

    @property
    def k(self) -> int:
        """Number of classes (length of a condition)."""
        return len(self.spec.classes)

    def build_generators(self):
        c, s, cfg = self.spec.channels, self.spec.size, self.cfg
        return {"g": ResnetGenerator(c, c, s, cfg.ngf, cfg.n_blocks, cond_dim=self.k)}

    def build_training(self) -> None:
        c, s, cfg = self.spec.channels, self.spec.size, self.cfg
        # No normalisation in D, as in StarGAN: the gradient penalty is per-sample.
        self.discriminators = {
            "d": PatchDiscriminator(c, s, cfg.ndf, cfg.n_layers_d, norm="none", num_classes=self.k)
        }
        self.optimizers = {
            "g": self.adam([self.generators["g"]], cfg.lr),
            "d": self.adam([self.discriminators["d"]], cfg.lr_d),
        }

    def random_targets(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Target conditions for a batch: shuffled batch labels (StarGAN keeps the class mix),
        a share ``mix_prob`` of them blended with a second shuffled label."""
        n = len(labels)
        labels = labels.cpu()
        first = one_hot(labels[torch.randperm(n, generator=generator)], self.k)
        second = one_hot(labels[torch.randperm(n, generator=generator)], self.k)
        weight = torch.rand(n, 1, generator=generator)
        mixed = torch.rand(n, 1, generator=generator) < self.cfg.mix_prob
        weight = torch.where(mixed, weight, torch.ones_like(weight))
        return (weight * first + (1 - weight) * second).to(self.device)

    def train_step(self, batch: Batch, step: int, generator: torch.Generator):
        cfg, kind = self.cfg, self.cfg.gan_loss
        g, d = self.generators["g"], self.discriminators["d"]
        x, y = batch.images, batch.labels
        c_trg = self.random_targets(y, generator)
        with self.autocast():
            src_real, cls_real = d(x)
            fake = g(x, c_trg).detach()
            src_fake, _ = d(fake)
            losses = {"loss_d_adv": d_loss(kind, src_real, src_fake)}
            losses["loss_d_cls"] = F.cross_entropy(cls_real.float(), y)
            total_d = losses["loss_d_adv"] + cfg.lambda_cls * losses["loss_d_cls"]
            if kind == "wgangp":
                losses["loss_gp"] = gradient_penalty(lambda t: d(t)[0], x, fake, generator)
                total_d = total_d + cfg.lambda_gp * losses["loss_gp"]
        self.optimizers["d"].zero_grad(set_to_none=True)
        total_d.backward()
        self.optimizers["d"].step()
        losses["loss_d"] = total_d
        if (step + 1) % cfg.n_critic == 0:  # StarGAN: one G update per n_critic D updates
            losses.update(self._generator_step(x, y, c_trg, step))
        return {k: v.detach() for k, v in losses.items()}

    def _generator_step(self, x, y, c_trg, step: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        g, d = self.generators["g"], self.discriminators["d"]
        d.requires_grad_(False)
        with self.autocast():
            fake = g(x, c_trg)
            src, cls = d(fake)
            adv = g_loss(cfg.gan_loss, src)
            cls_loss = soft_cross_entropy(cls, c_trg)
            rec = F.l1_loss(g(fake, one_hot(y, self.k)).float(), x)
            total = adv + cfg.lambda_cls * cls_loss + cfg.lambda_rec * rec
        self.optimizers["g"].zero_grad(set_to_none=True)
        total.backward()
        self.optimizers["g"].step()
        d.requires_grad_(True)
        self.update_ema(step)
        return {"loss_g": total, "loss_g_adv": adv, "loss_g_cls": cls_loss, "loss_rec": rec}

    # ------------------------------------------------------------------ generation ----

    def _translate_batch(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return self.g("g")(x, cond)

    def _variations_batch(self, x, labels, strength, generator):
        w = dirichlet_ones(len(x), self.k, generator).to(x.device)
        cond = (1 - strength) * one_hot(labels, self.k).to(x.device) + strength * w
        return self.g("g")(x, cond)

    def preview(self, images, labels, images_b, generator, columns: int = 8):
        """One row per fixed image (``columns`` of them): the input, then each class."""
        x = images[:columns].to(self.device) * 2 - 1
        n = len(x)
        columns = [x]
        with self._eval():
            for c in range(self.k):
                cond = one_hot(torch.full((n,), c), self.k).to(self.device)
                columns.append(self.g("g")(x, cond).float())
        grid = torch.stack(columns, dim=1).flatten(0, 1)  # row-major: image, then classes
        return grid.add(1).div(2).clamp(0, 1).cpu(), self.k + 1
