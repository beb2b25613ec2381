"""FER2013 ingest: parse + cache of a full-size FER-format CSV.

Baseline: the common per-row way — ``pandas.read_csv`` then ``np.array(pixels.split())`` per
row. augplat: ``read_fer`` (vectorised parse, validation included). Also reported: the cached
re-prepare (``prepare_fer`` on the same bytes) and loading the prepared dataset by name.

Uses ../shared/data/fer2013/fer2013.csv.gz when present, else generates a CSV of the same shape
(35,887 rows of 2304 pixels).

How to run::

    .venv/bin/python bench/bench_ingest.py [--csv PATH]
"""

from __future__ import annotations

import argparse
import os
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


def baseline_parse(path: Path) -> np.ndarray:
    import pandas as pd

    frame = pd.read_csv(path)
    return np.stack([np.array(p.split(), dtype=np.uint8) for p in frame["pixels"]])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", type=Path, default=SHARED if SHARED.is_file() else None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUGPLAT_HOME"] = str(Path(tmp) / "home")
        csv = args.csv or _generate(Path(tmp) / "fer2013.csv")
        print(f"input: {csv}")
        from augplat.data import load_dataset, prepare_fer
        from augplat.data.fer import read_fer

        start = time.perf_counter()
        reference = baseline_parse(csv)
        base = time.perf_counter() - start
        start = time.perf_counter()
        ds = read_fer(csv)
        ours = time.perf_counter() - start
        assert np.array_equal(ds.images.reshape(len(ds.images), -1), reference), "parse differs"

        prepare_fer(csv)  # first prepare: parse + cache + save
        start = time.perf_counter()
        prepare_fer(csv)
        cached = time.perf_counter() - start
        start = time.perf_counter()
        load_dataset("fer")
        load = time.perf_counter() - start
    print(
        f"rows {len(reference)}: per-row split {base:.2f}s, augplat parse {ours:.2f}s, "
        f"cached re-prepare {cached:.2f}s, load by name {load:.3f}s"
    )
    result("fer-ingest", base, ours, "s", higher_is_better=False)


if __name__ == "__main__":
    main()
