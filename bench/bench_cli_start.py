"""CLI start-up: `augplat --help` wall time against the naive CLI that imports its stack first.

How to run::

    .venv/bin/python bench/bench_cli_start.py

Baseline: what a CLI costs when its modules import torch, torchvision, mlflow and optuna at the
top (the common layout): `python -c "import torch, torchvision, mlflow, optuna"`. augplat keeps
those imports inside the commands, so `--help` only pays for Typer. The interpreter's own start
(`python -c pass`) is printed as the floor no CLI can beat.
"""

from __future__ import annotations

import subprocess
import sys

from common import median_of, result


def _run(*args: str) -> None:
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    _run("-m", "augplat", "--help")  # warm the filesystem cache
    _run("-c", "import torch, torchvision, mlflow, optuna")
    floor = median_of(lambda: _run("-c", "pass"), 7)
    baseline = median_of(lambda: _run("-c", "import torch, torchvision, mlflow, optuna"), 5)
    ours = median_of(lambda: _run("-m", "augplat", "--help"), 7)
    print(
        f"python -c pass: {floor:.3f}s   eager imports: {baseline:.3f}s   "
        f"augplat --help: {ours:.3f}s"
    )
    result("cli-start", baseline, ours, "s", higher_is_better=False)


if __name__ == "__main__":
    main()
