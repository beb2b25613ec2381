"""Device choice, per-epoch random generators, batch order and mixed precision.

Shared by the classifier and generator training loops (one place decides what ``auto`` means
and how an epoch's randomness is seeded, so a resumed run repeats an uninterrupted one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from augplat.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without one is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was requested but no CUDA device is available")
    return torch.device(name)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator for one epoch's shuffling and augmentation, and the global seed."""
    torch.manual_seed(seed * 100_003 + epoch)
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def batch_indices(
    n: int, batch_size: int, generator: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    """Yield index batches; shuffled when a generator is given.

    A trailing batch of one sample is dropped when shuffling: BatchNorm cannot train on it.
    """
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        if generator is not None and len(idx) == 1 and n > 1:
            return
        yield idx


def autocast(device: torch.device, enabled: bool):
    """bf16/fp16 autocast on CUDA when enabled; a no-op context elsewhere."""
    if enabled and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()
