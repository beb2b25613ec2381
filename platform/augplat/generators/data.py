"""A generator run's training data: selected, converted and checked, resident on the device.

:func:`prepare_data` reads the prepared dataset(s) a :class:`~augplat.generators.config.GanConfig`
names (domain B too, for cyclegan), keeps the chosen classes, converts channels and size, and
refuses what the method cannot learn from; :class:`GanData` then serves batches.
"""

from __future__ import annotations

from augplat.generators.config import GanConfig


class GanData:
    """The training data of one run, converted, checked and resident on the device.

    Built by :func:`prepare_data`. Images stay uint8 on the device (all of FER2013 is 83 MB)
    and become [-1, 1] floats per batch.

    Attributes:
        spec: Channels, size, classes, domains and dataset lineage.
        images: uint8 train images of the main dataset (domain A), on the device.
        labels: int64 labels (re-indexed when ``classes`` selected a subset), on the device.
        images_b: uint8 train images of domain B (cyclegan), else None.
        val: ``(images, labels)`` of the main dataset's val split as uint8 numpy (metrics).
        val_b: Domain B val images (or all of B when it has no val split), or None.
        datasets: The loaded datasets by role (``a``, ``b``) for lineage.
    """

    def __init__(self, spec, images, labels, images_b, val, val_b, datasets):
        self.spec, self.images, self.labels, self.images_b = spec, images, labels, images_b
        self.val, self.val_b, self.datasets = val, val_b, datasets

    def batch(self, idx, generator):
        """The batch of A images ``idx`` (+ as many random B images) in [-1, 1]."""
        import torch

        from augplat.generators.spec import Batch

        idx = idx.to(self.images.device)
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        b = None
        if self.images_b is not None:  # unpaired: B is drawn independently of A
            pick = torch.randint(0, len(self.images_b), (len(idx),), generator=generator)
            b = self.images_b[pick.to(self.images_b.device)].float().div_(127.5).sub_(1.0)
        return Batch(x, self.labels[idx], b)

    def fixed_inputs(self, n: int, seed: int):
        """``n`` train images (and labels, and B images) picked by ``seed``, as [0, 1] CPU floats.

        Fixed across epochs and resumes, so sample grids of different epochs compare.
        """
        import torch

        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self.images), generator=gen)[:n]
        images = self.images[idx.to(self.images.device)].cpu().float() / 255
        labels = self.labels[idx.to(self.labels.device)].cpu()
        images_b = None
        if self.images_b is not None:
            idx_b = torch.randperm(len(self.images_b), generator=gen)[:n]
            images_b = self.images_b[idx_b.to(self.images_b.device)].cpu().float() / 255
        return images, labels, images_b


def _select(ds, names: list[str] | None, split: str, flag: str):
    """Images and re-indexed labels of ``split`` restricted to the classes ``names``."""
    import numpy as np

    from augplat.errors import ConfigError

    images, labels = ds.arrays(split)
    if names is None:
        return images, labels, list(ds.classes)
    unknown = [n for n in names if n not in ds.classes]
    if unknown:
        raise ConfigError(
            f"{flag}: no class '{unknown[0]}' in dataset '{ds.name}' "
            f"(classes: {', '.join(ds.classes)})"
        )
    old = np.array([ds.classes.index(n) for n in names])
    keep = np.isin(labels, old)
    remap = np.full(len(ds.classes), -1, dtype=np.int64)
    remap[old] = np.arange(len(old))
    return images[keep], remap[labels[keep]], list(names)


def convert_images(images, channels: int | None, size: int | None):
    """uint8 ``N×C×H×W`` numpy → ``channels`` (gray↔RGB) and ``size×size`` (antialiased)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    if channels and images.shape[1] != channels:
        if channels == 3:
            images = np.repeat(images, 3, axis=1)
        else:  # ITU-R 601 luma, as PIL's convert("L")
            weights = np.array([0.299, 0.587, 0.114], dtype=np.float32).reshape(1, 3, 1, 1)
            images = (images.astype(np.float32) * weights).sum(1, keepdims=True)
            images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    if size and tuple(images.shape[2:]) != (size, size) and len(images):
        out = []
        for start in range(0, len(images), 4096):  # chunks bound the float copy's memory
            t = torch.from_numpy(np.ascontiguousarray(images[start : start + 4096])).float()
            t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True)
            out.append(t.round().clamp(0, 255).to(torch.uint8).numpy())
        images = np.concatenate(out)
    return np.ascontiguousarray(images)


def _domain_b(cfg: GanConfig, method_cls, ds_a):
    """The domain-B dataset (or None), checking the options fit the method."""
    from augplat.errors import ConfigError

    if not method_cls.needs_domain_b:
        if cfg.data_b or cfg.classes_b:
            raise ConfigError(
                f"--data-b / --classes-b only apply to cyclegan, not {method_cls.name}"
            )
        return None
    name_b = cfg.data_b or (cfg.data if cfg.classes_b else None)
    if not name_b:
        raise ConfigError(
            f"{method_cls.name} needs a second domain: --data-b DATASET (a prepared dataset or "
            "image folder), or --classes-b to take domain B from other classes of --data"
        )
    if name_b == cfg.data:
        return ds_a
    from augplat.data import load_dataset

    return load_dataset(name_b)


def _check_shapes(a, b, name_a: str, name_b: str | None) -> None:
    from augplat.errors import DataError

    shape_a = a.shape[1:]
    if shape_a[1] != shape_a[2]:
        raise DataError(
            f"dataset '{name_a}' has {shape_a[1]}×{shape_a[2]} images; GANs here need square "
            "images: pass --size N to resize"
        )
    if b is not None and b.shape[1:] != shape_a:
        fmt = "×".join
        raise DataError(
            f"cyclegan domains differ: A '{name_a}' is {fmt(map(str, shape_a))}, B '{name_b}' is "
            f"{fmt(map(str, b.shape[1:]))}; pass --channels 1|3 and/or --size N to convert both"
        )


def _domain_name(name: str, classes: list[str] | None) -> str:
    return f"{name}[{','.join(classes)}]" if classes else name


def prepare_data(cfg: GanConfig, method_cls, device) -> GanData:
    """Load, select, convert and check a run's data; every problem is a user error.

    Raises:
        DataError: Unknown dataset, empty train split, too few classes, mismatched domains.
        ConfigError: Unknown class names, domain-B options on the wrong method.
    """
    import numpy as np
    import torch

    from augplat.data import load_dataset
    from augplat.errors import DataError
    from augplat.generators.spec import GanSpec

    ds_a = load_dataset(cfg.data)
    ds_b = _domain_b(cfg, method_cls, ds_a)
    images, labels, classes = _select(ds_a, cfg.classes, "train", "--classes")
    val_images, val_labels, _ = _select(ds_a, cfg.classes, "val", "--classes")
    images = convert_images(images, cfg.channels, cfg.size)
    val_images = convert_images(val_images, cfg.channels, cfg.size)
    images_b = val_b = None
    if ds_b is not None:
        images_b, _, _ = _select(ds_b, cfg.classes_b, "train", "--classes-b")
        val_b, _, _ = _select(ds_b, cfg.classes_b, "val", "--classes-b")
        images_b = convert_images(images_b, cfg.channels, cfg.size)
        val_b = convert_images(val_b, cfg.channels, cfg.size) if len(val_b) else images_b
    _check_shapes(images, images_b, ds_a.name, ds_b.name if ds_b is not None else None)
    present = len(np.unique(labels))
    if present < method_cls.min_classes:
        raise DataError(
            f"{method_cls.name} needs at least {method_cls.min_classes} classes with training "
            f"images; '{ds_a.name}' has {present} ({', '.join(classes)})"
        )
    for role, arr, name in (("A", images, ds_a.name), ("B", images_b, getattr(ds_b, "name", ""))):
        if arr is not None and len(arr) < 2:
            raise DataError(
                f"domain {role} ('{name}') needs at least 2 training images, has {len(arr)}"
            )
    datasets = {"a": ds_a} if ds_b is None else {"a": ds_a, "b": ds_b}
    spec = GanSpec(
        channels=int(images.shape[1]),
        size=int(images.shape[2]),
        classes=tuple(classes),
        domains=(_domain_name(ds_a.name, cfg.classes), _domain_name(ds_b.name, cfg.classes_b))
        if ds_b is not None
        else (),
        datasets={k: {"name": d.name, "digest": d.digest} for k, d in datasets.items()},
    )
    to_dev = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    return GanData(
        spec,
        to_dev(images),
        to_dev(labels.astype(np.int64)),
        to_dev(images_b) if images_b is not None else None,
        (val_images, val_labels),
        val_b,
        datasets,
    )
