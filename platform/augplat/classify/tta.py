"""Classic test-time augmentation: predictions averaged over flipped and cropped views.

How to use::

    logits = predict_tta(model, images_u8, "tencrop", batch_size=512)   # log of mean softmax

``hflip`` averages an image and its mirror; ``tencrop`` averages the four corner crops and the
centre crop (each :data:`CROP_FRACTION` of the side, resized back to the input size, as the
training ``crop`` op does) and their mirrors: the evaluation the FER2013 records report. When a
dataset says mirrors change labels (digits), ``tencrop`` keeps its five unmirrored crops and
``hflip`` is refused. Probabilities are averaged (not logits), and their log is returned so the
usual top-k, macro-F1 and cross-entropy code reads it as logits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from augplat.classify.engine import prepare_batch
from augplat.errors import ConfigError
from augplat.runtime.device import autocast, batch_indices

TTA_MODES = ("none", "hflip", "tencrop")
CROP_FRACTION = 0.875  # 42 of 48 px; ImageNet's 224 of 256

View = Callable[[torch.Tensor, object], torch.Tensor]


def _crop(top: float, left: float, fraction: float) -> View:
    """A view cropping ``fraction`` of each side at relative offsets, resized back."""

    def view(x: torch.Tensor, _generator=None) -> torch.Tensor:
        h, w = x.shape[-2:]
        ch, cw = max(1, round(h * fraction)), max(1, round(w * fraction))
        y0, x0 = round((h - ch) * top), round((w - cw) * left)
        crop = x[..., y0 : y0 + ch, x0 : x0 + cw]
        return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)

    return view


def _mirrored(view: View) -> View:
    return lambda x, generator=None: view(x, generator).flip(-1)


def tta_views(mode: str, hflip: bool = True) -> list[View]:
    """The views of ``mode`` (``none``, ``hflip``, ``tencrop``) on float batches.

    Raises:
        ConfigError: Unknown mode, or ``hflip`` on a dataset whose mirrors change labels.
    """
    identity: View = lambda x, generator=None: x  # noqa: E731
    if mode == "none":
        return [identity]
    if mode == "hflip":
        if not hflip:
            raise ConfigError(
                "--tta hflip on a dataset whose mirrored images change label (digits): "
                "use --tta tencrop (five crops, no mirrors) or none"
            )
        return [identity, _mirrored(identity)]
    if mode == "tencrop":
        corners = [(0, 0), (0, 1), (1, 0), (1, 1), (0.5, 0.5)]
        crops = [_crop(top, left, CROP_FRACTION) for top, left in corners]
        return crops + ([_mirrored(c) for c in crops] if hflip else [])
    raise ConfigError(f"unknown --tta {mode!r} (known: {', '.join(TTA_MODES)})")


@torch.no_grad()
def predict_tta(
    model: torch.nn.Module,
    images: torch.Tensor,
    mode: str,
    *,
    batch_size: int,
    hflip: bool = True,
    image_size: int | None = None,
    channels_last: bool = False,
    amp: bool = False,
) -> np.ndarray:
    """Log of the softmax averaged over the views of ``mode``, per image (float32 numpy)."""
    views = tta_views(mode, hflip)
    model.eval()
    outputs = []
    for idx in batch_indices(len(images), batch_size):
        batch = images[idx.to(images.device)]
        probs = None
        for view in views:
            x = prepare_batch(batch, view, None, image_size, channels_last)
            with autocast(images.device, amp):
                p = model(x).float().softmax(1)
            probs = p if probs is None else probs + p
        outputs.append((probs / len(views)).clamp_min(1e-12).log().cpu())
    if not outputs:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(outputs).numpy()
