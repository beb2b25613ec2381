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
from pathlib import Path

import typer

from augplat.cli.common import TRACKING_URI_HELP, setup_logging


def compare(
    run_ids: list[str] = typer.Argument(None, help="Runs to compare (train or ensemble runs)."),
    study: str = typer.Option(None, "--study", help="Compare the finished runs of this study."),
    experiment: str = typer.Option(
        None,
        "--experiment",
        help="Compare every finished train/ensemble run of this experiment (default when no run "
        "ids or --study: augplat); the comparison run is logged there.",
    ),
    metric: str = typer.Option("test_top1", "--metric", help="Metric to compare."),
    baseline: str = typer.Option(
        None,
        "--baseline",
        help="Arm the others are tested against [default: the study's baseline arm with --study, "
        "else baseline, i.e. --aug none on the original data].",
        show_default=False,
    ),
    out: Path = typer.Option(
        None, "--out", help="Directory for tables and plot [default: comparisons/<run-id>]."
    ),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0, max=1.0, help="Significance level."),
    run_name: str = typer.Option(None, "--run-name", help="MLflow run name."),
    group_by: str = typer.Option(
        None,
        "--group-by",
        help="Comma-separated settings that make an arm (e.g. aug,gan_prob); other settings are "
        "pooled [default: every resolved setting except the seed and fold].",
        show_default=False,
    ),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_URI_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Compare strategies (baseline, classic, gan, expanded, ensemble) across finished runs."""
    setup_logging(verbose)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # manifest reads
    from augplat.compare import CompareConfig, compare_runs

    cfg = CompareConfig(
        run_ids=tuple(run_ids or ()),
        study=study,
        experiment=experiment,
        metric=metric,
        baseline=baseline,
        out=out,
        alpha=alpha,
        run_name=run_name,
        group_by=tuple(k.strip() for k in group_by.split(",") if k.strip()) if group_by else None,
    )
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
