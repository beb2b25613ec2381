"""GAN augmentation: replace training samples by generated variants, online or from a bank.

How to use::

    from augplat.generators import load_generator
    gan = load_generator(run_id, device="cuda")
    check_generator(gan, dataset)                       # channels, size, classes must fit
    aug = GanAugment(gan, prob=0.5, strength=0.3)
    x = aug(x01, generator, labels=y)                   # online: generate for the chosen samples
    aug.build_bank(train_u8, train_labels, k=10, seed=0)
    x = aug(x01, generator, labels=y, index=idx)        # bank: draw one stored variant per sample

What replaces a sample is the generator's augment role (``gan.roles.augment``, played by
``gan.augment_batch``): a same-label variation (StarGAN, with ``strength``: seed 001's "emotion
augmentation"), a style translation (CycleGAN, an imported CartoonGAN: seed 000's "cartoon
augmentation") or a fresh sample of the same label (cGAN). Each sample is replaced with
probability ``prob``; which ones is drawn from the epoch's CPU generator, as is every bit of
noise the generator uses, so a seed repeats an epoch exactly. ``prob == 0`` draws nothing at
all: the run is bit-identical to one without GAN augmentation.

Bank mode (seed 001 precomputed 10 augmentations per image and picked one per epoch): ``K``
variants per train image are generated once, batched, and stored as uint8 ``N×K×C×H×W`` on the
training device; each epoch a replaced sample takes a variant drawn from the epoch generator.
A deterministic role (style translation) gives the same image every time, so its bank holds one
variant whatever ``K`` is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

from augplat.errors import ConfigError

__all__ = [
    "ChainAugment",
    "GanAugment",
    "augment_mode",
    "check_generator",
    "load_gan_augment",
    "load_generator_run",
]

log = logging.getLogger("augplat")


def augment_mode(gan) -> str:
    """The call ``gan`` augments a sample with: ``variations``, ``translate`` or ``generate``.

    Raises:
        ConfigError: The generator declares no augment role.
    """
    role = gan.roles.augment
    if role is None:
        offers = ", ".join(sorted(gan.roles.offered)) or "nothing"
        raise ConfigError(f"GAN method '{gan.name}' cannot augment: it offers {offers}")
    return role.call


def check_generator(gan, dataset, ref: str | None = None) -> None:
    """Raise :class:`ConfigError` unless ``gan`` takes and makes images like ``dataset``'s.

    A generator whose labels index classes (``gan.label_classes``) must know exactly the
    dataset's classes in the same order; one with a ``fixed_shape`` must make the dataset's
    image shape (imported translators are fully convolutional: any shape).
    """
    who = f"generator {ref or gan.name}"
    channels, height, width = dataset.shape
    shape = gan.fixed_shape
    if shape is not None and tuple(shape) != (channels, height, width):
        raise ConfigError(
            f"{who} makes {'×'.join(map(str, shape))} images but dataset "
            f"'{dataset.name}' has {channels}×{height}×{width}"
        )
    classes = gan.label_classes
    if classes is not None and list(classes) != list(dataset.classes):
        raise ConfigError(
            f"{who} was trained on classes [{', '.join(classes)}] but dataset "
            f"'{dataset.name}' has [{', '.join(dataset.classes)}]"
        )


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats → uint8 (rounded)."""
    return x.float().mul(255).round_().clamp_(0, 255).to(torch.uint8)


class GanAugment:
    """Replace each sample by a generated variant with probability ``prob``.

    Called like :class:`~augplat.augment.ClassicAugment` plus the batch's labels (and dataset
    indices in bank mode); :func:`~augplat.classify.engine.prepare_batch` passes them because
    :attr:`uses_labels` is set.

    Args:
        gan: A loaded generator (:func:`augplat.generators.load_generator`).
        prob: Per-sample replacement probability in [0, 1].
        strength: Variation strength in [0, 1] (a variation role only).
        batch_size: Generator batch size.

    Attributes:
        role: The generator's augment role (``gan.roles.augment``).
        mode: Its call, ``variations``, ``translate`` or ``generate`` (logged as ``gan_mode``).
        bank: uint8 ``N×K×C×H×W`` precomputed variants, or None (online).
        bank_calls: Images generated while building the bank (``N·K``; 0 online).
    """

    uses_labels = True

    def __init__(self, gan, prob: float = 0.5, strength: float = 0.3, batch_size: int = 256):
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f"GAN augmentation probability must be in [0, 1], got {prob}")
        if not 0.0 <= strength <= 1.0:
            raise ConfigError(f"GAN variation strength must be in [0, 1], got {strength}")
        self.generator, self.prob, self.strength, self.batch_size = gan, prob, strength, batch_size
        self.mode = augment_mode(gan)
        self.role = gan.roles.augment
        self.bank: torch.Tensor | None = None
        self.bank_calls = 0
        self.verdict = None  # the provenance check's outcome (set by load_gan_augment)
        self._seen = self._replaced = 0

    def __repr__(self) -> str:
        bank = f", bank={self.bank.shape[1]}" if self.bank is not None else ""
        return f"GanAugment({self.generator.name!r}, mode={self.mode}, prob={self.prob}{bank})"

    def generate_variants(
        self, x: torch.Tensor, labels, generator: torch.Generator
    ) -> torch.Tensor:
        """Generated variants of ``x`` ([0, 1] floats), on ``x``'s device and dtype."""
        labels = labels.cpu() if labels is not None else None
        out = self.generator.augment_batch(
            x, labels, self.strength, generator=generator, batch_size=self.batch_size
        )
        return out.to(device=x.device, dtype=x.dtype)

    def build_bank(
        self, images: torch.Tensor, labels: torch.Tensor, k: int, seed: int, chunk: int = 1024
    ) -> torch.Tensor:
        """Precompute ``k`` variants of every image once and draw from them from now on.

        Same arguments as :meth:`generate_bank`; the bank becomes :attr:`bank`.
        """
        self.bank = self.generate_bank(images, labels, k, seed, chunk)
        self.bank_calls += self.bank.shape[0] * self.bank.shape[1]
        return self.bank

    @torch.no_grad()
    def generate_bank(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None,
        k: int,
        seed: int,
        chunk: int = 1024,
    ) -> torch.Tensor:
        """``k`` generated variants of every image: uint8 ``N×K×C×H×W`` on ``images``' device.

        Args:
            images: uint8 images; the result lives on their device.
            labels: Their labels (None only for a role that needs none).
            k: Variants per image (1 for a deterministic role).
            seed: Seeds the generation noise.
            chunk: Images converted to float at a time (bounds memory).
        """
        if k < 1:
            raise ConfigError(f"GAN bank size must be >= 1, got {k}")
        if self.role.deterministic and k > 1:
            log.info(
                "GAN bank: %s %s is deterministic; storing 1 variant, not %d",
                self.generator.name,
                self.role,
                k,
            )
            k = 1
        gen = torch.Generator().manual_seed(seed)
        n = len(images)
        bank = torch.empty((n, k, *images.shape[1:]), dtype=torch.uint8, device=images.device)
        for variant in range(k):
            for start in range(0, n, chunk):
                x = images[start : start + chunk].float().div_(255.0)
                part = labels[start : start + chunk] if labels is not None else None
                out = self.generate_variants(x, part, gen)
                bank[start : start + chunk, variant] = to_uint8(out)
        return bank

    def __call__(
        self,
        x: torch.Tensor,
        generator: torch.Generator,
        labels: torch.Tensor | None = None,
        index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Replace the chosen samples of a [0, 1] batch; ``x`` is never modified in place.

        Args:
            x: Float batch ``N×C×H×W`` on any device.
            generator: The epoch's CPU generator (choices, variant draws, generation noise).
            labels: The samples' labels (needed unless the role needs none).
            index: The samples' train-set indices (needed in bank mode).
        """
        n = len(x)
        self._seen += n
        if self.prob == 0 or n == 0:
            return x  # draw nothing: identical to no GAN augmentation
        chosen = torch.rand(n, generator=generator, dtype=torch.float64) < self.prob
        if not bool(chosen.any()):
            return x
        where = chosen.nonzero().squeeze(1)
        self._replaced += len(where)
        where_dev = where.to(x.device)
        if self.bank is not None:
            if index is None:
                raise ValueError("a banked GanAugment needs the samples' dataset indices")
            variant = torch.randint(0, self.bank.shape[1], (len(where),), generator=generator)
            rows = index.to(self.bank.device)[where.to(self.bank.device)]
            out = self.bank[rows, variant.to(self.bank.device)].to(x.device).to(x.dtype) / 255.0
        else:
            if labels is None and self.role.needs_label:
                raise ValueError(f"GanAugment in {self.mode} mode needs the samples' labels")
            sel_labels = labels.to(x.device)[where_dev] if labels is not None else None
            out = self.generate_variants(x[where_dev], sel_labels, generator)
        return x.index_copy(0, where_dev, out)

    def pop_stats(self) -> dict[str, float]:
        """``gan_replaced_frac`` since the last call (one epoch), then reset the counters."""
        frac = self._replaced / self._seen if self._seen else 0.0
        self._seen = self._replaced = 0
        return {"gan_replaced_frac": frac}


class ChainAugment:
    """Apply augmenters in order (``--aug both``: GAN, then classic on the result)."""

    uses_labels = True

    def __init__(self, *augments: Callable):
        self.augments = [a for a in augments if a is not None]

    def __repr__(self) -> str:
        return f"ChainAugment({', '.join(map(repr, self.augments))})"

    def __call__(self, x, generator, labels=None, index=None):
        for aug in self.augments:
            if getattr(aug, "uses_labels", False):
                x = aug(x, generator, labels=labels, index=index)
            else:
                x = aug(x, generator)
        return x


def resolve_generator_run(ref: str, tracking_uri: str | None = None) -> str:
    """The run id of GAN run ``ref`` (an id, or the name of an imported generator)."""
    from augplat import tracking
    from augplat.generators.lookup import find_run

    return find_run(tracking.connect(tracking_uri), ref).info.run_id


def load_generator_run(ref: str, device, tracking_uri: str | None = None):
    """GAN run ``ref`` (id or imported name) loaded on ``device``: ``(gan, run_id)``.

    The global torch RNG is left untouched (building networks draws initial weights), so
    loading a generator does not change the classifier's initialisation or dropout.
    """
    from augplat.generators.lookup import load_generator

    run_id = resolve_generator_run(ref, tracking_uri)
    with torch.random.fork_rng(devices=[]):
        gan = load_generator(run_id, tracking_uri, device)
    return gan, run_id


def load_gan_augment(cfg, dataset, device, tracking_uri: str | None = None) -> tuple[Any, str]:
    """The :class:`GanAugment` a ``TrainConfig`` asks for, and its run id.

    The bank (``cfg.gan_bank``) is not built here: it needs the train tensors on the device.
    The generator must fit the data (:func:`check_generator`) and may only have learned from
    the dataset's train split (:func:`augplat.generators.provenance.check`, relaxed by
    ``cfg.allow_foreign_generator``); the outcome is the augmenter's ``verdict``, whose tags
    the training run carries.
    """
    from augplat.generators.provenance import check_generator_use

    gan, run_id = load_generator_run(cfg.generator, device, tracking_uri)
    check_generator(gan, dataset, run_id)
    verdict = check_generator_use(gan, dataset, allow_foreign=cfg.allow_foreign_generator)
    aug = GanAugment(gan, cfg.gan_prob, cfg.gan_strength, batch_size=cfg.eval_batch_size)
    aug.verdict = verdict
    return aug, run_id
