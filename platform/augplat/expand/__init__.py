"""Dataset expansion: a generator (or classic augmentation) grows a dataset's train split.

How to run::

    augplat expand --generator <stargan-run> --data fer --balance          # seed 001, balanced
    augplat expand --generator <cgan-run> --data icecream --per-class 1000 # seed 004
    augplat expand --classic --policy albumentations --balance --multiplier 2 --data affect  # 003

The result is a new prepared dataset (default name ``<data>-expanded``): the source's images,
labels and splits unchanged and in order, followed by the synthetic train images. Val and test
are never touched, so a classifier trained on the expansion is judged on the same images.
Next to the arrays, ``synthetic.npy`` flags every synthetic image and ``synthetic_source.npy``
names the source image it was made from (-1 for real images and noise samples); the manifest's
``source`` holds the lineage (generator run, source digest, seed, mode, counts). The step is
also one MLflow run (``augplat.kind=expand``) with before/after distributions and a sample grid.

How synthetic images are made is the generator's expand role (``gan.roles.expand``, played by
``gan.expand_batch``); the strategy names it in the lineage (:func:`strategy_for`):

* ``translate-other`` — a translation role (StarGAN): real train images of OTHER classes
  moved to the target class, as seed 001 expanded FER2013 with EmotionGAN;
* ``generate`` — a sample role (cGAN): new samples of the target class (seed 004);
* ``style`` — a style role (CycleGAN, imported CartoonGAN): style copies of real train
  images of the same class (seed 000), deterministic, so a class grown past twice its size
  repeats copies;
* ``variation`` — a variation role: same-label variations of real train images of the class;
* ``classic`` — classic-augmented copies of real train images of the same class (seed 003).

Sources are drawn per class from a seeded permutation (every image once before any twice);
generation noise comes from a CPU generator seeded the same way, so a seed repeats the dataset.
"""

from augplat.expand.config import ORIGIN_FILE, SYNTHETIC_FILE, ExpandConfig, ExpandResult
from augplat.expand.run import expand_dataset, load_synthetic_flags
from augplat.expand.synthesis import (
    SOURCES,
    STRATEGIES,
    ExpansionPlan,
    choose_sources,
    plan,
    plan_additions,
    strategy_for,
    synthesize,
)

__all__ = [
    "ORIGIN_FILE",
    "SOURCES",
    "STRATEGIES",
    "SYNTHETIC_FILE",
    "ExpandConfig",
    "ExpandResult",
    "ExpansionPlan",
    "choose_sources",
    "expand_dataset",
    "load_synthetic_flags",
    "plan",
    "plan_additions",
    "strategy_for",
    "synthesize",
]
