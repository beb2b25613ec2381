"""``augplat compare``: which augmentation strategy is better, with confidence intervals and tests.

How to run::

    augplat compare                                         # all runs of the `augplat` experiment
    augplat compare <run-id> <run-id> <run-id> <run-id>     # explicit runs
    augplat compare --study digits --metric test_macro_f1   # a study's final runs
    augplat compare --experiment fer --baseline classic --out results/fer

Prints the per-strategy table (n, mean, std, 95% CI), one verdict line per strategy against the
baseline, where the files went, and ``run_id=<id>`` of the comparison run.
"""

from __future__ import annotations

import os

import typer

from augplat.cli.common import TRACKING_URI, VERBOSE, setup_logging
from augplat.cli.options import config_command


@config_command("augplat.compare.runner:CompareConfig")
def compare(
    overrides: dict,
    run_ids: list[str] = typer.Argument(None, help="Runs to compare (train or ensemble runs)."),
    tracking_uri: str = TRACKING_URI,
    verbose: bool = VERBOSE,
) -> None:
    """Compare strategies (baseline, classic, gan, expanded, ensemble) across finished runs."""
    setup_logging(verbose)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # manifest reads
    from augplat.compare import CompareConfig, compare_runs
    from augplat.runtime.settings import build_config

    if run_ids:
        overrides["run_ids"] = tuple(run_ids)
    cfg = build_config(CompareConfig, None, overrides)
    result = compare_runs(cfg, tracking_uri=tracking_uri)
    _print_result(result)


def _print_result(result) -> None:
    from augplat.compare.report import summary_markdown

    a = result.analysis
    typer.echo(summary_markdown(a))
    for line in a.verdicts + a.notes:
        typer.echo(line)
    if result.skipped:
        typer.echo(f"left out {len(result.skipped)} run(s) without {a.metric}")
    typer.echo(f"out={result.out}")
    typer.echo(f"run_id={result.run_id}")
