"""Compare augmentation strategies across finished runs: statistics, tests, verdicts, plots.

How to run::

    augplat compare --study digits
    augplat compare <run-id> <run-id> ... --metric test_macro_f1 --baseline baseline

Public surface: :class:`CompareConfig`, :func:`compare_runs`, :class:`CompareResult`.
"""

from augplat.compare.runner import CompareConfig, CompareResult, compare_runs

__all__ = ["CompareConfig", "CompareResult", "compare_runs"]
