"""Datasets: readers, the canonical in-memory form, and the named store in the data home.

How to use::

    from augplat.data import load_dataset, prepare_fer
    prepare_fer("~/data/fer2013.csv")        # once: parse, cache, save as "fer"
    ds = load_dataset("fer")                 # or "digits" (embedded), a name, or a path
    images, labels = ds.arrays("train")      # uint8 N×C×H×W, int64 N
"""

from augplat.data.dataset import SPLITS, ImageDataset
from augplat.data.store import (
    dataset_dir,
    list_datasets,
    load_dataset,
    prepare_digits,
    prepare_fer,
    prepare_folder,
)

__all__ = [
    "SPLITS",
    "ImageDataset",
    "dataset_dir",
    "list_datasets",
    "load_dataset",
    "prepare_digits",
    "prepare_fer",
    "prepare_folder",
]
