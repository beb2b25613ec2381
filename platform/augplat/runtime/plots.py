"""Every matplotlib figure augplat draws, written atomically as PNG.

Figures use the non-interactive Agg backend (no display here or on servers) and are closed after
saving so long runs do not accumulate memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from augplat.runtime.fsutil import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def class_distribution(
    counts: Mapping[str, Mapping[str, int]], path: str | Path, title: str = "Class distribution"
) -> Path:
    """Grouped bar chart of images per class, one bar group per class, one colour per split.

    Args:
        counts: ``{split: {class: count}}`` as :meth:`ImageDataset.counts` returns it.
        path: PNG path to write.
        title: Figure title.
    """
    plt = _pyplot()
    splits = [s for s, per_class in counts.items() if sum(per_class.values()) > 0]
    classes = list(next(iter(counts.values())).keys()) if counts else []
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(classes) + 2), 4))
    width = 0.8 / max(1, len(splits))
    for i, split in enumerate(splits):
        xs = [c + (i - (len(splits) - 1) / 2) * width for c in range(len(classes))]
        bars = ax.bar(xs, [counts[split][c] for c in classes], width, label=split)
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(range(len(classes)), classes, rotation=30 if len(classes) > 6 else 0)
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def training_curves(history: Sequence[Mapping[str, float]], path: str | Path) -> Path:
    """Loss and accuracy per epoch for train and val, side by side.

    Args:
        history: One mapping per epoch with ``train_loss``, ``val_loss``, ``train_acc``,
            ``val_acc`` (missing keys are skipped).
        path: PNG path to write.
    """
    plt = _pyplot()
    epochs = [int(h.get("epoch", i + 1)) for i, h in enumerate(history)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        for split in ("train", "val"):
            key = f"{split}_{metric}"
            ys = [h[key] for h in history if key in h]
            if ys:
                ax.plot(epochs[: len(ys)], ys, marker="o", ms=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "loss")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Training curves")
    return _save(fig, path)


def confusion_matrix(matrix, classes: Sequence[str], path: str | Path, title: str) -> Path:
    """Row-normalised confusion matrix heat map with raw counts in the cells.

    Args:
        matrix: ``K×K`` counts, rows = true class, columns = predicted class.
        classes: Class names.
        path: PNG path to write.
        title: Figure title.
    """
    import numpy as np

    plt = _pyplot()
    counts = np.asarray(matrix)
    norm = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    k = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * k, 0.6 + 0.75 * k))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            color = "white" if norm[i, j] > 0.5 else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path)


def embedding_scatter(points, labels, classes: Sequence[str], path: str | Path, title: str) -> Path:
    """2-D scatter of embedded features (t-SNE), coloured by class.

    Args:
        points: ``N×2`` coordinates.
        labels: ``N`` class indices.
        classes: Class names.
        path: PNG path to write.
        title: Figure title.
    """
    import numpy as np

    plt = _pyplot()
    points, labels = np.asarray(points), np.asarray(labels)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for c, name in enumerate(classes):
        sel = labels == c
        ax.scatter(points[sel, 0], points[sel, 1], s=6, color=cmap(c % cmap.N), label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    ax.legend(markerscale=3, fontsize=7, loc="best")
    return _save(fig, path)


def image_grid(
    images, path: str | Path, nrow: int = 8, titles: Sequence[str] | None = None
) -> Path:
    """Grid of uint8 ``N×C×H×W`` images (grayscale or RGB) with optional titles.

    The images are tiled into one mosaic array first: one ``imshow`` (or, without titles, no
    matplotlib at all) instead of an axes per image, which took seconds per GAN preview.
    """
    import numpy as np

    images = np.asarray(images)
    n, _, h, w = images.shape
    ncol = min(nrow, max(1, n))
    nrows = max(1, (n + ncol - 1) // ncol)
    pad = 2
    canvas = np.full((nrows * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for i in range(n):
        row, col = divmod(i, ncol)
        y, x = pad + row * (h + pad), pad + col * (w + pad)
        canvas[y : y + h, x : x + w] = np.transpose(images[i], (1, 2, 0))  # 1 channel broadcasts
    if titles is None:
        from PIL import Image

        scale = max(1, 512 // max(canvas.shape[1], 1))  # small images: enlarge, pixels stay sharp
        picture = Image.fromarray(canvas).resize(
            (canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST
        )
        with atomic_path(path) as tmp:
            picture.save(tmp, format="PNG")
        return Path(path)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.2 * ncol, 1.3 * nrows))
    ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    for i, title in enumerate(titles[:n]):
        row, col = divmod(i, ncol)
        ax.text(
            pad + col * (w + pad) + w / 2,
            pad + row * (h + pad) - 0.5,
            str(title),
            fontsize=7,
            ha="center",
            va="bottom",
        )
    return _save(fig, path)


def strategy_comparison(
    labels: Sequence[str],
    values: Sequence[Sequence[float]],
    intervals: Sequence[tuple[float, float, float]],
    path: str | Path,
    metric: str,
    baseline: str | None = None,
    confidence: float = 0.95,
) -> Path:
    """Mean and confidence interval per strategy, every run drawn as a dot beside it.

    Args:
        labels: Strategy names, one per column.
        values: The runs' metric values per strategy.
        intervals: ``(mean, low, high)`` per strategy; NaN bounds draw the mean only (n = 1).
        path: PNG path to write.
        metric: Metric name for the axis and title.
        baseline: Strategy whose mean is drawn as a dashed reference line.
        confidence: The intervals' level, for the title.
    """
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 2), 4.2))
    for i, (runs, (mean, low, high)) in enumerate(zip(values, intervals, strict=True)):
        runs = np.asarray(runs, dtype=float)
        offsets = np.linspace(-0.12, 0.12, len(runs)) if len(runs) > 1 else np.zeros(len(runs))
        ax.scatter(i + 0.25 + offsets, runs, s=14, color="0.55", zorder=2)
        if np.isfinite(low) and np.isfinite(high):
            yerr = [[mean - low], [high - mean]]
            ax.errorbar(i, mean, yerr=yerr, fmt="o", color="C0", capsize=5, lw=2, zorder=3)
        else:
            ax.plot(i, mean, "o", color="C0", zorder=3)
        if baseline is not None and labels[i] == baseline:
            ax.axhline(mean, color="C3", ls="--", lw=1, label=f"{baseline} mean")
    rotation, align = (30, "right") if len(labels) > 4 else (0, "center")
    ax.set_xticks(range(len(labels)), labels, rotation=rotation, ha=align)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: mean and {confidence:.0%} CI per strategy (dots: runs)")
    ax.grid(axis="y", alpha=0.3)
    if baseline is not None and baseline in labels:
        ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def data_efficiency_curve(
    curves: Mapping[str, Sequence[tuple[float, float, float, float]]],
    path: str | Path,
    metric: str,
    baseline: str | None = None,
) -> Path:
    """The metric against the number of real train images, one line per arm, with intervals.

    Args:
        curves: Per arm, ``(real train images, mean, ci_low, ci_high)`` per fraction.
        path: PNG path to write.
        metric: Metric name for the axis.
        baseline: Arm drawn dashed.
    """
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (arm, points) in enumerate(curves.items()):
        pts = sorted(points)
        n, mean, low, high = (np.array(column, dtype=float) for column in zip(*pts, strict=True))
        style = "--" if arm == baseline else "-"
        ax.plot(n, mean, style, marker="o", color=f"C{i}", label=arm)
        ok = np.isfinite(low) & np.isfinite(high)
        if ok.any():
            ax.fill_between(n[ok], low[ok], high[ok], color=f"C{i}", alpha=0.15, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("real train images")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} against real train images (bands: 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)
