"""CLI start-up: `augplat --help` wall time against a bare `python -c pass`.

How to run::

    .venv/bin/python bench/bench_cli_start.py

The baseline is the interpreter's own start, the floor no CLI can beat; the ratio is
baseline / augplat, so 1.0 would mean `augplat --help` costs nothing beyond Python itself.
"""

from __future__ import annotations

import subprocess
import sys

from common import median_of, result


def main() -> None:
    def bare():
        subprocess.run([sys.executable, "-c", "pass"], check=True)

    def augplat_help():
        subprocess.run(
            [sys.executable, "-m", "augplat", "--help"], check=True, stdout=subprocess.DEVNULL
        )

    augplat_help()  # warm the filesystem cache
    baseline = median_of(bare, 7)
    ours = median_of(augplat_help, 7)
    print(f"python -c pass: {baseline:.3f}s   augplat --help: {ours:.3f}s")
    # ratio = interpreter start / augplat --help: 1.0 would mean augplat adds nothing.
    result("cli-start", baseline, ours, "s", higher_is_better=False)


if __name__ == "__main__":
    main()
