"""What a run trains and is tested on: original, synthetic, united or expanded; test modes.

How to use::

    images, labels, info = training_set(cfg, dataset, dataset.arrays("train"), gan, device)
    test_images = translated_test_set(gan, images_u8, seed)          # test-mode gan|both

``--train-on`` (seed 000's ``train_on_united``, seed 001's expanded dataset):

- ``original``: the dataset's train split.
- ``synthetic``: generated variants of every train image only (``synthetic_variants`` each, the
  generator's augment role: same-label variations, style translations or fresh same-label samples).
- ``united``: the original train split plus all of those variants.
- ``expanded``: the train split of a dataset made by ``augplat expand`` from this one (its lineage
  must name this dataset's digest); val and test stay this dataset's, untouched.

``--test-mode`` (seed 000's ``test_mode cartoon``): ``gan`` evaluates on the translated test
set, ``both`` averages the softmax of the original and the translated image (test-time
augmentation). Only a generator with a test-time role qualifies (``gan.roles.test_time``: a
label-free view such as a style translation); a variation or a sample needs the true label,
which a test must not see.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from augplat.errors import ConfigError


def _generated(gan, images: torch.Tensor, labels: torch.Tensor, k: int, seed: int):
    """``k`` generated variants of every image (uint8), flattened image-major, and labels."""
    bank = gan.generate_bank(images, labels, k=k, seed=seed)
    n, k = bank.shape[:2]
    return bank.reshape(n * k, *bank.shape[2:]), labels.repeat_interleave(k)


def _expanded(cfg, dataset, device) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    from augplat.data import load_dataset

    exp = load_dataset(cfg.expanded)
    source = (exp.source or {}).get("source_digest") if isinstance(exp.source, dict) else None
    if source != dataset.digest:
        raise ConfigError(
            f"expanded dataset '{exp.name}' was not made from dataset '{dataset.name}' (its "
            f"lineage names digest {source or 'none'}, '{dataset.name}' is {dataset.digest}); "
            f"make it with `augplat expand --data {dataset.name} ...`"
        )
    if list(exp.classes) != list(dataset.classes) or exp.shape != dataset.shape:
        raise ConfigError(
            f"expanded dataset '{exp.name}' has other classes or image shape than '{dataset.name}'"
        )
    images, labels = exp.arrays("train")
    info = {"expanded_dataset": exp.name, "expanded_digest": exp.digest}
    return (
        torch.from_numpy(images).to(device),
        torch.from_numpy(labels).to(device),
        info,
    )


def training_set(
    cfg, dataset, original: tuple[np.ndarray, np.ndarray], gan, device
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """The uint8 train images and labels on ``device`` for ``cfg.train_on``, and what to log.

    Args:
        cfg: The run's :class:`~augplat.classify.config.TrainConfig`.
        dataset: The run's dataset (val and test always come from it).
        original: Its train split ``(images, labels)`` as numpy arrays.
        gan: The run's :class:`~augplat.augment.generative.GanAugment` (synthetic and united).
        device: Where the tensors live.
    """
    if cfg.train_on == "expanded":
        return _expanded(cfg, dataset, device)
    images_np, labels_np = original
    images = torch.from_numpy(images_np).to(device)
    labels = torch.from_numpy(labels_np).to(device)
    if cfg.train_on == "original":
        return images, labels, {}
    k = cfg.synthetic_variants
    # Its own seed stream: the synthetic set does not depend on the training seed's epochs.
    syn_images, syn_labels = _generated(gan, images, labels, k, seed=cfg.seed * 7919 + 17)
    info = {
        "synthetic_images": len(syn_images),
        "original_images": len(images),
        "synthetic_near_val_test": near_val_test(dataset, syn_images),
    }
    if cfg.train_on == "synthetic":
        return syn_images, syn_labels, info
    return torch.cat([images, syn_images]), torch.cat([labels, syn_labels]), info


def near_val_test(dataset, synthetic: torch.Tensor) -> int:
    """Generated train images within the near-duplicate threshold of a val or test image
    (a generator reproducing a test image's twin leaks it into training)."""
    from augplat.data.duplicates import near_copies

    held_out = dataset.images[np.flatnonzero(dataset.split != 0)]
    return near_copies(synthetic.cpu().numpy(), held_out)


def check_test_mode(cfg, gan) -> None:
    """Raise :class:`ConfigError` unless ``gan``'s generator has a (label-free) test-time role."""
    if cfg.test_mode == "regular":
        return
    if gan.generator.roles.test_time is None:
        raise ConfigError(
            f"--test-mode {cfg.test_mode} needs a label-free translator (cyclegan or an imported "
            f"one); '{gan.generator.name}' works in {gan.mode} mode, which needs the true label "
            "— a test must not use it"
        )


def translated_test_set(gan, images: torch.Tensor, seed: int, chunk: int = 1024) -> torch.Tensor:
    """The test-time view of uint8 test ``images`` (uint8, same device), made without labels.

    Args:
        gan: The run's :class:`~augplat.augment.generative.GanAugment` (its generator's
            ``test_view``; :func:`check_test_mode` made sure it has one).
        images: uint8 test images.
        seed: Seeds any generation noise.
        chunk: Images converted to float at a time (bounds memory).
    """
    from augplat.augment.generative import to_uint8

    generator = torch.Generator().manual_seed(seed)
    out = torch.empty_like(images)
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].float().div_(255.0)
        view = gan.generator.test_view(x, generator=generator, batch_size=gan.batch_size)
        out[start : start + chunk] = to_uint8(view.to(device=x.device, dtype=x.dtype))
    return out


def combine_test_logits(regular: np.ndarray, generated: np.ndarray, mode: str) -> np.ndarray:
    """Logits for ``mode``: regular, generated, or the log of the averaged softmax (both)."""
    if mode == "regular":
        return regular
    if mode == "gan":
        return generated
    probs = (_softmax(regular) + _softmax(generated)) / 2.0
    return np.log(np.clip(probs, 1e-12, None)).astype(np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
