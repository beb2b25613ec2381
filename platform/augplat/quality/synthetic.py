"""The synthetic images quality judges, made by the roles the generator declares for quality.

``method.roles.quality[0]`` makes the main synthetic set (:func:`synthesize`: FID/KID, label
fidelity, CAS); each further role makes a set judged for label fidelity only
(:func:`judged_set`). What a role's images are compared with follows from the role:

* sample — fresh images of the real val split's class mix vs real val;
* translation — train images moved to val-distributed target classes vs real val (label
  fidelity counts only images moved to another class: a same-class target is near a copy);
* style — translated train images vs the real target-domain val (labels must survive);
* variation — same-label variations of train images (at :data:`VARIATION_STRENGTH`) vs real val.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from augplat.errors import ConfigError
from augplat.generators.roles import Role
from augplat.quality.judge import as_float

VARIATION_STRENGTH = 0.3  # TrainConfig.gan_strength's default: what augmentation uses


def _resample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices into ``size`` items: a permutation prefix, with repeats only if needed."""
    return rng.permutation(size)[:n] if n <= size else rng.integers(0, size, n)


def main_role(method) -> Role:
    """The role whose images make the main synthetic set.

    Raises:
        ConfigError: The method declares no quality role.
    """
    if not method.roles.quality:
        raise ConfigError(f"GAN method '{method.name}' declares nothing to judge for quality")
    return method.roles.quality[0]


def synthesize(method, data, n: int, seed: int = 0) -> dict[str, Any]:
    """Synthetic images for the metrics, made by the method's main quality role.

    Returns a dict with ``role``, ``fake`` ([0, 1] CPU tensor), ``labels`` (what each image
    should be), ``reference`` (real uint8 images to compare with), ``baseline`` (a second real
    set whose distance to ``reference`` gives scale), ``what`` (a description) and, for roles
    that start from a train image, ``sources`` (its label).
    """
    role = main_role(method)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    train_x, train_y = data.images.cpu(), data.labels.cpu().numpy()
    val_x, val_y = data.val
    if role is Role.STYLE:  # A images → B: compared with B, labels must survive
        src = _resample(n, len(train_x), rng)
        fake = method.make(role, as_float(train_x[src]), generator=gen)
        return {
            "role": role,
            "fake": fake,
            "labels": train_y[src],
            "sources": train_y[src],
            "reference": data.val_b if data.val_b is not None else None,
            "baseline": val_x,
            "what": "translated train images vs real target-domain val",
        }
    sources = None
    if role is Role.VARIATION:  # own labels: the class mix is the train split's
        src = _resample(n, len(train_x), rng)
        labels = sources = train_y[src]
        fake = method.make(
            role, as_float(train_x[src]), labels, strength=VARIATION_STRENGTH, generator=gen
        )
        what = f"same-label variations (strength {VARIATION_STRENGTH}) of train images vs real val"
    else:
        # Class mix of the real val split, so FID compares like with like.
        labels = (
            val_y[_resample(n, len(val_y), rng)]
            if len(val_y)
            else rng.integers(0, len(data.spec.classes), n)
        )
        if role is Role.SAMPLE:
            fake = method.make(role, None, torch.from_numpy(labels), generator=gen)
            what = "generated images vs real val"
        else:
            src = _resample(n, len(train_x), rng)
            sources = train_y[src]
            fake = method.make(
                role, as_float(train_x[src]), torch.from_numpy(labels), generator=gen
            )
            what = "train images moved to val-distributed target classes vs real val"
    baseline = train_x[_resample(min(n, len(train_x)), len(train_x), rng)].numpy()
    out = {"role": role, "fake": fake, "labels": labels, "reference": val_x}
    out.update(baseline=baseline, what=what)
    if sources is not None:
        out["sources"] = sources
    return out


def judged_set(method, role: Role, data, n: int, seed: int) -> tuple[torch.Tensor, np.ndarray, str]:
    """A further quality role's images of ``n`` train images, their labels, and a note.

    Variations and style copies keep the source label; samples are made for it; translations
    go to another class, chosen at random.
    """
    rng = np.random.default_rng(seed + 1)
    gen = torch.Generator().manual_seed(seed + 1)
    train_x, train_y = data.images.cpu(), data.labels.cpu().numpy()
    src = _resample(n, len(train_x), rng)
    images, labels = as_float(train_x[src]), train_y[src]
    if role is Role.VARIATION:
        fake = method.make(role, images, labels, strength=VARIATION_STRENGTH, generator=gen)
        use = " (GAN augmentation)" if method.roles.augment is role else ""
        return fake, labels, f"same-label variations at strength {VARIATION_STRENGTH}{use}"
    if role is Role.TRANSLATION:
        k = len(data.spec.classes)
        labels = (labels + rng.integers(1, max(2, k), len(labels))) % k
    targets = None if role is Role.STYLE else torch.from_numpy(labels)
    fake = method.make(role, None if role is Role.SAMPLE else images, targets, generator=gen)
    return fake, labels, f"{role.plural} of train images, judged for the labels they were made for"
