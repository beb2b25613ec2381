"""CycleGAN (Zhu et al., 2017): unpaired translation between two image domains.

How to run::

    augplat data prepare folder ~/data/anime_faces --name anime
    augplat gan train cyclegan --data fer --data-b anime --channels 3 --decay-epochs 100
    augplat gan train cyclegan --data digits --classes 0,1 --classes-b 7   # digit styles

Domain A is the dataset being augmented (its labels survive translation), B the style. Two
ResNet generators (A→B, B→A) and two PatchGAN discriminators; LSGAN + cycle (lambda 10) +
identity (0.5·lambda) losses; discriminators see a pool of 50 past fakes. Used for style
("cartoon") augmentation: ``translate(images)`` maps A images to B's style, ``variations``
blends an image with its translation by ``strength``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from augplat.errors import UserError
from augplat.generators.base import GanMethod
from augplat.generators.losses import d_loss, g_loss, gradient_penalty
from augplat.generators.networks import PatchDiscriminator, ResnetGenerator
from augplat.generators.options import CycleGanOptions
from augplat.generators.pool import ImagePool
from augplat.generators.registry import GAN_METHODS
from augplat.generators.roles import STYLE_TRANSLATOR
from augplat.generators.spec import Batch


def _requires_grad(modules, flag: bool) -> None:
    # Freezing D during the G update saves computing weight gradients nobody uses.
    for m in modules:
        m.requires_grad_(flag)


@GAN_METHODS.register("cyclegan")
class CycleGAN(GanMethod):
    """Unpaired A↔B translation; conditions are domains (0 = A, 1 = B)."""

    name = "cyclegan"
    condition_kind = "domain"
    roles = STYLE_TRANSLATOR
    # Batch 16 instead of the paper's 1: same instance-norm statistics, far better throughput
    # on small (48 px) faces.
    options = CycleGanOptions
    defaults: ClassVar[dict[str, Any]] = {
        "gan_loss": "lsgan",
        "n_critic": 1,
        "lr": 2e-4,
        "batch_size": 16,
    }
    needs_domain_b = True

    def build_generators(self):
        c, s, cfg = self.spec.channels, self.spec.size, self.cfg
        return {
            "g_ab": ResnetGenerator(c, c, s, cfg.ngf, cfg.n_blocks),
            "g_ba": ResnetGenerator(c, c, s, cfg.ngf, cfg.n_blocks),
        }

    def build_training(self) -> None:
        c, s, cfg = self.spec.channels, self.spec.size, self.cfg
        norm = "none" if cfg.gan_loss == "wgangp" else "instance"  # GP and norms do not mix
        self.discriminators = {
            "d_a": PatchDiscriminator(c, s, cfg.ndf, cfg.n_layers_d, norm),
            "d_b": PatchDiscriminator(c, s, cfg.ndf, cfg.n_layers_d, norm),
        }
        g, d = self.generators, self.discriminators
        self.optimizers = {
            "g": self.adam([g["g_ab"], g["g_ba"]], cfg.lr),
            "d": self.adam([d["d_a"], d["d_b"]], cfg.lr_d),
        }
        self.pools = {"a": ImagePool(cfg.pool_size), "b": ImagePool(cfg.pool_size)}

    def _generator_loss(self, a: torch.Tensor, b: torch.Tensor):
        cfg, kind = self.cfg, self.cfg.gan_loss
        g_ab, g_ba = self.generators["g_ab"], self.generators["g_ba"]
        d_a, d_b = self.discriminators["d_a"], self.discriminators["d_b"]
        fake_b, fake_a = g_ab(a), g_ba(b)
        adv = g_loss(kind, d_b(fake_b)) + g_loss(kind, d_a(fake_a))
        cycle = F.l1_loss(g_ba(fake_b).float(), a) + F.l1_loss(g_ab(fake_a).float(), b)
        losses = {"loss_g_adv": adv, "loss_cycle": cycle}
        total = adv + cfg.lambda_cycle * cycle
        if cfg.lambda_identity > 0:
            # Identity keeps colour/intensity when the input already looks like the target.
            idt = F.l1_loss(g_ab(b).float(), b) + F.l1_loss(g_ba(a).float(), a)
            total = total + cfg.lambda_cycle * cfg.lambda_identity * idt
            losses["loss_identity"] = idt
        losses["loss_g"] = total
        return total, fake_a, fake_b, losses

    def train_step(self, batch: Batch, step: int, generator: torch.Generator):
        a, b = batch.images, batch.images_b
        d_a, d_b = self.discriminators["d_a"], self.discriminators["d_b"]
        _requires_grad([d_a, d_b], False)
        with self.autocast():
            total, fake_a, fake_b, losses = self._generator_loss(a, b)
        self.optimizers["g"].zero_grad(set_to_none=True)
        total.backward()
        self.optimizers["g"].step()
        self.update_ema(step)

        _requires_grad([d_a, d_b], True)
        pooled_a = self.pools["a"].query(fake_a.detach(), generator)
        pooled_b = self.pools["b"].query(fake_b.detach(), generator)
        kind = self.cfg.gan_loss
        with self.autocast():
            losses["loss_d_a"] = d_loss(kind, d_a(a), d_a(pooled_a))
            losses["loss_d_b"] = d_loss(kind, d_b(b), d_b(pooled_b))
            total_d = losses["loss_d_a"] + losses["loss_d_b"]
            if kind == "wgangp":
                gp = gradient_penalty(d_a, a, pooled_a, generator)
                losses["loss_gp"] = gp + gradient_penalty(d_b, b, pooled_b, generator)
                total_d = total_d + self.cfg.lambda_gp * losses["loss_gp"]
        self.optimizers["d"].zero_grad(set_to_none=True)
        total_d.backward()
        self.optimizers["d"].step()
        return {k: v.detach() for k, v in losses.items()}

    def extra_state(self):
        return {f"pool_{k}": p.state_dict() for k, p in self.pools.items()}

    def load_extra_state(self, state) -> None:
        for key, pool in self.pools.items():
            pool.load_state_dict(state[f"pool_{key}"], self.device)

    # ------------------------------------------------------------------ generation ----

    def _conditions(self, labels, n: int) -> torch.Tensor:
        """Domain indices ``(n,)`` (0 = A, 1 = B) → one-hots over the two domains."""
        labels = torch.as_tensor(labels).long().cpu().flatten()
        if len(labels) != n or (n and (labels.min() < 0 or labels.max() > 1)):
            raise UserError(
                "cyclegan targets are domains 0 (A) or 1 (B), one per image; "
                f"got {labels.tolist()[:8]}"
            )
        return F.one_hot(labels, 2).float()

    def _translate_batch(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        to_b = self.g("g_ab")(x)
        if cond is None:
            return to_b
        want_b = cond.argmax(1).bool()[:, None, None, None]
        return torch.where(want_b, to_b, self.g("g_ba")(x))

    def _variations_batch(self, x, labels, strength, generator):
        # Style augmentation: the image moved `strength` of the way to its B-style version.
        return torch.lerp(x, self.g("g_ab")(x).to(x.dtype), strength)

    def preview(self, images, labels, images_b, generator, columns: int = 8):
        """Rows: A, A→B, A→B→A, B, B→A, B→A→B (``columns`` fixed images each)."""
        a, b = images[:columns], images_b[:columns]
        with self._eval():
            a_pm, b_pm = a.to(self.device) * 2 - 1, b.to(self.device) * 2 - 1
            ab, ba = self.g("g_ab")(a_pm), self.g("g_ba")(b_pm)
            rows = [a_pm, ab, self.g("g_ba")(ab), b_pm, ba, self.g("g_ab")(ba)]
        grid = torch.cat([r.float() for r in rows]).add(1).div(2).clamp(0, 1)
        return grid.cpu(), len(a)
