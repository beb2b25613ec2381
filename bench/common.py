"""Shared helpers for benchmarks: timing, the machine line, and the closing ratio line.

Every bench script measures a baseline (the plain way) and augplat in the same run, on the same
machine, and ends with one line::

    RESULT <stage>: baseline <x> <unit>, augplat <y> <unit>, ratio <r>x (<higher|lower> is better)
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable


def machine() -> str:
    """A one-line description of where the numbers came from."""
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()} | {os.cpu_count()} cores | {cpu} | {gpu}"


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Minimum wall time of ``repeats`` calls (the least disturbed measurement)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def median_of(fn: Callable[[], object], repeats: int = 5) -> float:
    """Median wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def result(stage: str, baseline: float, ours: float, unit: str, higher_is_better: bool) -> str:
    """Print and return the closing RESULT line; the ratio is always 'times better'."""
    ratio = ours / baseline if higher_is_better else baseline / ours
    better = "higher" if higher_is_better else "lower"
    line = (
        f"RESULT {stage}: baseline {baseline:.4g} {unit}, augplat {ours:.4g} {unit}, "
        f"ratio {ratio:.2f}x ({better} is better)"
    )
    print(f"machine: {machine()}")
    print(line, flush=True)
    return line
