"""Exact and near-duplicate images within and across splits (or folds).

FER2013 holds about 1,500 groups of pixel-identical images, several hundred of them across
train/val/test: a test image whose twin was trained on is a memory test. Exact duplicates are
equal pixel arrays. Near-duplicates are pairs whose 64-bit difference hash (dHash) differs in
at most ``threshold`` bits *and* whose 16×16 grey thumbnails correlate at least
:data:`NEAR_CORRELATION`: the hash finds candidates fast, the correlation confirms them. On
FER2013 the hash alone at 4 bits pairs many different faces (half the candidates differ by 25
grey levels on average); confirmed pairs differ by re-encoding, brightness or a few pixels, and
a brightened, noisy copy still correlates above 0.99.

Both are computed here in numpy over the whole canonical array at once (area averages over a
grid of cells): the images are already decoded and equal in size, so one vectorised pass over
35,887 FER images costs about a second, where ``imagehash`` would build a PIL image per picture.
Candidate pairs come from the pigeonhole rule: two hashes within ``t`` bits agree exactly on at
least one of ``t + 1`` bands.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import numpy as np

DEFAULT_THRESHOLD = 4  # of 64 bits; a slightly changed copy stays within 0..3 on faces
NEAR_CORRELATION = 0.98  # thumbnail correlation that confirms a hash candidate
MAX_EXAMPLES = 10


def _cell_means(images: np.ndarray, rows_n: int, cols_n: int, chunk: int = 4096) -> np.ndarray:
    """Grey area means over a ``rows_n``×``cols_n`` grid of every uint8 ``N×C×H×W`` image
    (float32, proportional to the channel mean: only comparisons within an image matter)."""
    h, w = images.shape[2:]
    rows = (np.arange(rows_n) * h) // rows_n
    cols = (np.arange(cols_n) * w) // cols_n
    # Images smaller than the grid repeat an index; reduceat then yields one pixel: size 1.
    sizes = np.maximum(np.outer(np.diff(np.append(rows, h)), np.diff(np.append(cols, w))), 1)
    out = np.zeros((len(images), rows_n, cols_n), dtype=np.float32)
    for start in range(0, len(images), chunk):  # chunks bound the uint32 copy's memory
        grey = images[start : start + chunk].sum(axis=1, dtype=np.uint32)
        cells = np.add.reduceat(np.add.reduceat(grey, rows, axis=1), cols, axis=2)
        out[start : start + chunk] = cells / sizes
    return out


def dhash(images: np.ndarray) -> np.ndarray:
    """64-bit difference hash of every uint8 ``N×C×H×W`` image, as uint64."""
    cells = _cell_means(images, 8, 9)
    bits = (cells[:, :, 1:] > cells[:, :, :-1]).reshape(len(images), 64)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def thumbnails(images: np.ndarray) -> np.ndarray:
    """16×16 grey thumbnails, centred and scaled to unit norm: a dot product is a correlation
    (so a brightness or contrast change does not count; a flat image correlates with none)."""
    flat = _cell_means(images, 16, 16).reshape(len(images), -1)
    flat -= flat.mean(axis=1, keepdims=True)
    return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-3)


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    return table[x.view(np.uint8).reshape(*x.shape, 8)].sum(axis=-1)


def _exact_ids(images: np.ndarray) -> np.ndarray:
    """Cluster id per image: equal ids ⇔ equal pixels."""
    keys = [hashlib.blake2b(memoryview(np.ascontiguousarray(im)).cast("B")).digest()
            for im in images]  # fmt: skip
    return np.unique(np.array(keys), return_inverse=True)[1].ravel()


def _near_pairs(
    hashes: np.ndarray, threshold: int, thumbs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(a, b)``, a < b, of hashes within ``threshold`` bits whose thumbnails
    correlate at least :data:`NEAR_CORRELATION`."""
    n = len(hashes)
    found = [np.zeros(0, np.int64)]
    bounds = np.linspace(0, 64, threshold + 2).astype(int)
    for lo, hi in itertools.pairwise(bounds if n > 1 else []):
        band = (hashes >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)
        order = np.argsort(band, kind="stable")
        sorted_band = band[order]
        # Sorted: members of one bucket are neighbours, so compare at growing offsets until
        # no two items that far apart share a bucket.
        for offset in range(1, n):
            same = sorted_band[offset:] == sorted_band[:-offset]
            if not same.any():
                break
            i, j = order[:-offset][same], order[offset:][same]
            close = _popcount(hashes[i] ^ hashes[j]) <= threshold
            i, j = i[close], j[close]
            confirmed = np.einsum("ij,ij->i", thumbs[i], thumbs[j]) >= NEAR_CORRELATION
            lo_idx, hi_idx = np.minimum(i, j)[confirmed], np.maximum(i, j)[confirmed]
            found.append(lo_idx.astype(np.int64) * n + hi_idx)
    keys = np.unique(np.concatenate(found))
    return keys // max(n, 1), keys % max(n, 1)


def _clusters(images: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """``(exact cluster id, near cluster id)`` per image; near clusters include exact ones."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    exact = _exact_ids(images)
    first = np.unique(exact, return_index=True)[1]  # one representative per exact cluster
    reps = images[first]
    a, b = _near_pairs(dhash(reps), threshold, thumbnails(reps))
    n = len(first)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    near = connected_components(graph, directed=False)[1]
    return exact, near[exact]


def _describe(ids, partition, names, labels_of) -> dict[str, Any]:
    """Counts and examples of the clusters in ``ids`` that have more than one member."""
    _, inverse, sizes = np.unique(ids, return_inverse=True, return_counts=True)
    dup = sizes[inverse] > 1
    spans = {}
    for cluster in np.unique(ids[dup]):
        members = np.flatnonzero(ids == cluster)
        spans[int(cluster)] = members
    crossing = [m for m in spans.values() if len(np.unique(partition[m])) > 1]
    return {
        "groups": len(spans),
        "images": int(dup.sum()),
        "cross_groups": len(crossing),
        "examples": [[labels_of(i, names) for i in m[:4]] for m in crossing[:MAX_EXAMPLES]],
    }


def near_copies(
    candidates: np.ndarray, references: np.ndarray, threshold: int = DEFAULT_THRESHOLD
) -> int:
    """How many ``candidates`` (uint8 N×C×H×W) are within ``threshold`` dHash bits of some
    reference image: generated images that reproduce a val/test image are leakage."""
    if not len(candidates) or not len(references):
        return 0
    # Hashed apart: a hash does not depend on size or channels, so the shapes may differ.
    hashes = np.concatenate([dhash(candidates), dhash(references)])
    a, b = _near_pairs(hashes, threshold, np.concatenate([thumbnails(candidates),
                                                          thumbnails(references)]))  # fmt: skip
    n = len(candidates)
    hits = np.concatenate([a[(a < n) & (b >= n)], b[(b < n) & (a >= n)]])
    return len(np.unique(hits))


def leaking(ids: np.ndarray, partition: np.ndarray) -> np.ndarray:
    """Mask of images whose cluster also holds an image of an earlier partition (train before
    val before test): what ``--dedupe`` removes."""
    home = np.full(ids.max() + 1 if len(ids) else 0, np.iinfo(np.int64).max)
    np.minimum.at(home, ids, partition.astype(np.int64))
    return partition > home[ids]


def find_duplicates(
    images: np.ndarray,
    partition: np.ndarray,
    partition_names: list[str],
    names: list[str] | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> tuple[dict[str, Any], np.ndarray]:
    """Manifest entry ``duplicates`` and the near-cluster id of every image.

    Args:
        images: uint8 ``N×C×H×W``.
        partition: Split code (or fold) per image.
        partition_names: Name of each partition code, for the report.
        names: Optional name per image (file path) for the examples; else ``#index``.
        threshold: Hamming distance (bits of 64) up to which two images are near-duplicates.
    """

    def label(i: int, names) -> str:
        where = partition_names[int(partition[i])]
        return f"{names[i] if names else f'#{i}'} ({where})"

    exact, near = _clusters(images, threshold)
    exact_leak, near_leak = leaking(exact, partition), leaking(near, partition)
    report = {
        "method": "exact pixels; dHash-64 Hamming distance",
        "threshold": threshold,
        "exact": {**_describe(exact, partition, names, label), "leaking": int(exact_leak.sum())},
        "near": {**_describe(near, partition, names, label), "leaking": int(near_leak.sum())},
    }
    return report, near
