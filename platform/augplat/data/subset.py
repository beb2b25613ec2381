"""Nested, stratified subsets of a dataset's train split (the data-efficiency curve).

How to use::

    small = train_subset(load_dataset("digits"), 0.25, seed=0)   # saved as digits.f0.25
    small.counts()["train"]                                      # a quarter of each class

For a given seed every class is put in one fixed random order and a fraction keeps its first
``round(n · fraction)`` images (at least one): the 0.1 subset is inside the 0.25 subset, which is
inside the 0.5 one, so a curve over fractions adds images and never swaps them. Val and test are
the source's own, image for image, so every point of the curve is measured on the same test set.
A subset is a prepared dataset of its own (its own digest), so generators, classifiers and the
provenance checks treat it like any other dataset.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from augplat.data.dataset import SPLIT_CODES, ImageDataset


def subset_name(name: str, fraction: float) -> str:
    """``digits.f0.25``: the subset's dataset name."""
    return f"{name}.f{fraction:g}"


def nested_indices(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices keeping ``fraction`` of every class, nested across fractions for a seed."""
    rng = np.random.default_rng(seed)
    keep = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        keep.append(members[: max(1, int(np.floor(len(members) * fraction + 0.5)))])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def train_subset(ds: ImageDataset, fraction: float, seed: int = 0) -> ImageDataset:
    """``ds`` with only a nested, stratified ``fraction`` of its train split (val/test kept).

    A fraction of 1 returns ``ds`` itself. The subset is saved in the data home (once: an
    existing subset with the same content is reused as it is).
    """
    if fraction >= 1.0:
        return ds
    from augplat.data.store import dataset_dir, load_dataset, save_dataset

    train = np.flatnonzero(ds.split == SPLIT_CODES["train"])
    kept = train[nested_indices(ds.labels[train], fraction, seed)]
    others = np.flatnonzero(ds.split != SPLIT_CODES["train"])
    rows = np.sort(np.concatenate([kept, others]))
    source = {
        "reader": "subset",
        "source_dataset": ds.name,
        "source_digest": ds.digest,
        "fraction": fraction,
        "seed": seed,
        "nested": True,
    }
    # replace() keeps every other property of the source (class names, label-safe flips, ...)
    folds = getattr(ds, "folds", None)
    per_image = {} if folds is None else {"folds": folds[rows]}
    sub = dataclasses.replace(
        ds,
        **per_image,
        images=ds.images[rows],
        labels=ds.labels[rows],
        split=ds.split[rows],
        name=subset_name(ds.name, fraction),
        source=source,
    )
    directory = dataset_dir(sub.name)
    if (directory / "manifest.json").is_file():
        existing = load_dataset(directory)
        if existing.digest == sub.digest:
            return existing
    save_dataset(sub)
    return sub
