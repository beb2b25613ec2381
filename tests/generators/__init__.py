"""Helpers for the GAN tests: tiny datasets (16 px digits and variants) and tiny configs."""

from __future__ import annotations

# Tiny everywhere: 16 px, 8 filters, one residual block, 32-image batches (≈8 steps per epoch on
# 20 % of the digits), one constant and one decaying epoch so the lr schedule is exercised.
TINY = {
    "ngf": 8,
    "ndf": 8,
    "n_blocks": 1,
    "z_dim": 16,
    "batch_size": 32,
    "epochs": 1,
    "decay_epochs": 1,
    "n_critic": 2,
    "pool_size": 4,
    "log_every": 2,
    "checkpoint_every": 3,
    "eval": False,
    "eval_samples": 64,
    "ema": 0.9,
    "preview_images": 4,
}


_TEMPLATE: list = []  # a data home prepared once per session, copied into each test's home


def prepare_tiny_data() -> None:
    """Prepare ``digits`` (16 px, 20 % of train) and variants for domain tests.

    ``digits_inv`` (inverted: a second domain), ``digits_rgb`` (3 channels), ``digits8``
    (8 px) and ``oneclass`` (only the zeros) live next to it in the test's data home. They are
    built once per session and copied (same bytes, same digests) into each test's home.
    """
    import shutil

    from augplat.runtime.home import datasets_dir

    if not _TEMPLATE:
        _TEMPLATE.append(_build_template())
    shutil.copytree(_TEMPLATE[0], datasets_dir(), dirs_exist_ok=True)


def _build_template():
    import atexit
    import os
    import shutil
    import tempfile

    import numpy as np

    from augplat.data import ImageDataset, dataset_dir, prepare_digits
    from augplat.runtime.home import datasets_dir

    home = tempfile.mkdtemp(prefix="augplat-gan-tests-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    previous = os.environ.get("AUGPLAT_HOME")
    os.environ["AUGPLAT_HOME"] = home
    try:
        ds = prepare_digits(size=16, fraction=0.2)
        prepare_digits(name="digits8", size=8, fraction=0.2)
        zeros = ds.labels == 0
        variants = {
            "digits_inv": (255 - ds.images, ds.labels, ds.split, ds.classes),
            "digits_rgb": (np.repeat(ds.images, 3, axis=1), ds.labels, ds.split, ds.classes),
            "oneclass": (ds.images[zeros], ds.labels[zeros], ds.split[zeros], ["0"]),
        }
        for name, (images, labels, split, classes) in variants.items():
            ImageDataset(images, labels, split, classes, name=name).save(dataset_dir(name))
        return datasets_dir()
    finally:
        if previous is None:
            del os.environ["AUGPLAT_HOME"]
        else:
            os.environ["AUGPLAT_HOME"] = previous


def tiny_config(method: str, **changes):
    """A :class:`GanConfig` for ``method`` that trains in a second or two on the CPU."""
    from augplat.generators import GanConfig
    from augplat.generators.registry import method_class

    values = {"method": method, "data": "digits", **TINY}
    if method_class(method).needs_domain_b:
        values["data_b"] = "digits_inv"
    return GanConfig.model_validate({**values, **changes})
