"""FER2013 ingest: parse + cache of a full-size FER-format CSV.

Baseline: the common per-row way — ``pandas.read_csv``, ``np.array(pixels.split())`` per row,
then ``np.save`` of the arrays as the cache. augplat: ``cached_fer`` on a cold data home — the
file's SHA-256 (the cache key and the dataset's lineage), the parse with validation, and the
content-keyed cache entry written. Both read the same file from the page cache; each figure is
the median of ``--repeats`` runs.

Also reported: the same on the ``.csv.gz`` (both sides inflate it), the cached reload
(``cached_fer`` again), a full warm ``prepare_fer`` (names the dataset, draws its class plot),
loading the prepared dataset by name, and the one-time cost per process of importing the
compiled reader.

Input: ../shared/data/fer2013/fer2013.csv.gz when present (inflated once to a temporary plain
CSV, untimed), else a generated CSV of the same shape (35,887 rows of 2304 pixels).

How to run::

    .venv/bin/python bench/bench_ingest.py [--csv PATH] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import result

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013" / "fer2013.csv.gz"


def _generate(path: Path, rows: int = 35_887) -> Path:
    rng = np.random.default_rng(0)
    usage = np.array(["Training"] * 28_709 + ["PublicTest"] * 3_589 + ["PrivateTest"] * 3_589)
    with open(path, "w") as handle:
        handle.write("emotion,pixels,Usage\n")
        for i in range(rows):
            pixels = " ".join(map(str, rng.integers(0, 256, 2304)))
            handle.write(f"{i % 7},{pixels},{usage[i % len(usage)]}\n")
    return path


def baseline_parse_and_cache(path: Path, cache: Path) -> np.ndarray:
    import pandas as pd

    frame = pd.read_csv(path)
    images = np.stack([np.array(p.split(), dtype=np.uint8) for p in frame["pixels"]])
    cache.mkdir(parents=True, exist_ok=True)
    np.save(cache / "images.npy", images)
    np.save(cache / "labels.npy", frame["emotion"].to_numpy())
    np.save(cache / "usage.npy", frame["Usage"].to_numpy(dtype="U11"))
    return images


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _cold_home(root: Path) -> Path:
    """A fresh, empty data home: no cache entry, no remembered hash."""
    home = root / "home"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["AUGPLAT_HOME"] = str(home)
    return home


def measure(csv: Path, root: Path, repeats: int) -> tuple[float, float, np.ndarray]:
    """Median baseline and augplat parse + cache times for ``csv``; checks they agree."""
    from augplat.data.store import cached_fer

    base_times, our_times, reference = [], [], None
    for _ in range(repeats):
        seconds, reference = _timed(lambda: baseline_parse_and_cache(csv, root / "base-cache"))
        base_times.append(seconds)
        _cold_home(root)
        seconds, ds = _timed(lambda: cached_fer(csv))
        our_times.append(seconds)
        assert np.array_equal(ds.images.reshape(len(ds.images), -1), reference), "parse differs"
    return statistics.median(base_times), statistics.median(our_times), reference


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", type=Path, default=SHARED if SHARED.is_file() else None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _cold_home(root)
        start = time.perf_counter()
        from augplat.data import fer_fast  # noqa: F401  (Numba + the disk-cached kernels)

        import_time = time.perf_counter() - start
        gz = args.csv if args.csv and args.csv.suffix == ".gz" else None
        if gz is not None:
            plain = root / "fer2013.csv"
            with gzip.open(gz) as source, open(plain, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 22)
        else:
            plain = args.csv or _generate(root / "fer2013.csv")
        print(f"input: {args.csv or 'generated'} -> {plain} ({plain.stat().st_size / 1e6:.0f} MB)")
        from augplat.data import load_dataset, prepare_fer
        from augplat.data.store import cached_fer

        lines = []
        if gz is not None:
            gz_base, gz_ours, _ = measure(gz, root, args.repeats)
            lines.append(
                f".csv.gz: per-row {gz_base:.2f}s, augplat {gz_ours:.3f}s, {gz_base / gz_ours:.1f}x"
            )
        base, ours, reference = measure(plain, root, args.repeats)
        cached, _ = _timed(lambda: cached_fer(plain))
        prepare_fer(plain)
        prepared, _ = _timed(lambda: prepare_fer(plain))
        load, _ = _timed(lambda: load_dataset("fer"))
    print(
        f"rows {len(reference)}; one-time per process: import of the compiled reader "
        f"{import_time:.2f}s"
    )
    for line in lines:
        print(line)
    print(
        f".csv: per-row {base:.2f}s, augplat {ours:.3f}s; cached reload {cached:.3f}s, "
        f"warm prepare_fer (name + class plot) {prepared:.2f}s, load by name {load:.3f}s"
    )
    result("fer-ingest", base, ours, "s", higher_is_better=False)


if __name__ == "__main__":
    main()
