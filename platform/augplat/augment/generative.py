"""GAN augmentation: replace training samples by generated variants, online or from a bank.

How to use::

    from augplat.generators import load_generator
    gan = load_generator(run_id, device="cuda")
    check_generator(gan, dataset)                       # channels, size, classes must fit
    aug = GanAugment(gan, prob=0.5, strength=0.3)
    x = aug(x01, generator, labels=y)                   # online: generate for the chosen samples
    aug.build_bank(train_u8, train_labels, k=10, seed=0)
    x = aug(x01, generator, labels=y, index=idx)        # bank: draw one stored variant per sample

What replaces a sample depends on the generator (:func:`augment_mode`): a same-label variation
for a class-code translator (StarGAN: ``variations`` with ``strength``, seed 001's "emotion
augmentation"), the style translation for a domain translator (CycleGAN, an imported CartoonGAN:
``translate``, seed 000's "cartoon augmentation"), a fresh sample of the same label for a noise
generator (cGAN: ``generate``). Each sample is replaced with probability ``prob``; which ones is
drawn from the epoch's CPU generator, as is every bit of noise the generator uses, so a seed
repeats an epoch exactly. ``prob == 0`` draws nothing at all: the run is bit-identical to one
without GAN augmentation.

Bank mode (seed 001 precomputed 10 augmentations per image and picked one per epoch): ``K``
variants per train image are generated once, batched, and stored as uint8 ``N×K×C×H×W`` on the
training device; each epoch a replaced sample takes a variant drawn from the epoch generator.
Deterministic translators (``translate`` mode) give the same image every time, so their bank
holds one variant whatever ``K`` is.
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
    """How ``gan`` augments a sample: ``variations``, ``translate`` or ``generate``.

    Raises:
        ConfigError: The generator offers none of the calls its condition kind needs.
    """
    kind, caps = gan.condition_semantics.get("kind"), gan.capabilities
    if kind == "class-code" and "variations" in caps:
        return "variations"
    if kind == "domain" and "translate" in caps:
        return "translate"
    if kind == "noise" and "generate" in caps:
        return "generate"
    raise ConfigError(
        f"GAN method '{gan.name}' ({kind}) cannot augment: it can {', '.join(sorted(caps))}"
    )


def check_generator(gan, dataset, ref: str | None = None) -> None:
    """Raise :class:`ConfigError` unless ``gan`` takes and makes images like ``dataset``'s.

    Class-conditioned generators (class codes, noise) must know exactly the dataset's classes in
    the same order, since a label means a condition index. Domain translators need the image
    shape only; imported ones are fully convolutional and take any size and 1 or 3 channels.
    """
    who = f"generator {ref or gan.name}"
    channels, height, width = dataset.shape
    spec = gan.spec
    if gan.trainable and (spec.channels, spec.size, spec.size) != (channels, height, width):
        raise ConfigError(
            f"{who} makes {spec.channels}×{spec.size}×{spec.size} images but dataset "
            f"'{dataset.name}' has {channels}×{height}×{width}"
        )
    kind = gan.condition_semantics.get("kind")
    if kind in ("class-code", "noise") and list(spec.classes) != list(dataset.classes):
        raise ConfigError(
            f"{who} was trained on classes [{', '.join(spec.classes)}] but dataset "
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
        strength: Variation strength in [0, 1] (``variations`` mode only).
        batch_size: Generator batch size.

    Attributes:
        mode: ``variations``, ``translate`` or ``generate`` (see :func:`augment_mode`).
        bank: uint8 ``N×K×C×H×W`` precomputed variants, or None (online).
        bank_calls: Images generated while building the bank (``N·K``; 0 online).
    """

    uses_labels = True

    def __init__(self, gan, prob: float = 0.5, strength: float = 0.3, batch_size: int = 256):
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f"GAN augmentation probability must be in [0, 1], got {prob}")
        if not 0.0 <= strength <= 1.0:
            raise ConfigError(f"GAN variation strength must be in [0, 1], got {strength}")
        self.gan, self.prob, self.strength, self.batch_size = gan, prob, strength, batch_size
        self.mode = augment_mode(gan)
        self.bank: torch.Tensor | None = None
        self.bank_calls = 0
        self.verdict = None  # the provenance check's outcome (set by load_gan_augment)
        self._seen = self._replaced = 0

    def __repr__(self) -> str:
        bank = f", bank={self.bank.shape[1]}" if self.bank is not None else ""
        return f"GanAugment({self.gan.name!r}, mode={self.mode}, prob={self.prob}{bank})"

    def generate_variants(
        self, x: torch.Tensor, labels, generator: torch.Generator
    ) -> torch.Tensor:
        """Generated variants of ``x`` ([0, 1] floats), on ``x``'s device and dtype."""
        gan, bs = self.gan, self.batch_size
        if self.mode == "translate":
            out = gan.translate(x, generator=generator, batch_size=bs)
        elif self.mode == "variations":
            out = gan.variations(x, labels.cpu(), self.strength, generator=generator, batch_size=bs)
        else:
            out = gan.generate(len(x), labels.cpu(), generator=generator, batch_size=bs)
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
            labels: Their labels (None only in ``translate`` mode, which ignores them).
            k: Variants per image (1 for ``translate`` mode: it is deterministic).
            seed: Seeds the generation noise.
            chunk: Images converted to float at a time (bounds memory).
        """
        if k < 1:
            raise ConfigError(f"GAN bank size must be >= 1, got {k}")
        if self.mode == "translate" and k > 1:
            log.info(
                "GAN bank: %s translation is deterministic; storing 1 variant, not %d",
                self.gan.name,
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
            labels: The samples' labels (needed by ``variations`` and ``generate``).
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
            if labels is None and self.mode != "translate":
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
    from augplat.generators.registry import find_run

    return find_run(tracking.client(tracking_uri), ref).info.run_id


def load_generator_run(ref: str, device, tracking_uri: str | None = None):
    """GAN run ``ref`` (id or imported name) loaded on ``device``: ``(gan, run_id)``.

    The global torch RNG is left untouched (building networks draws initial weights), so
    loading a generator does not change the classifier's initialisation or dropout.
    """
    from augplat.generators.registry import load_generator

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
