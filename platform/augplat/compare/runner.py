"""Compare strategies across finished runs; log the comparison as its own MLflow run.

How to run::

    augplat compare                                   # every train/ensemble run of `augplat`
    augplat compare <run-id> <run-id> ... --baseline baseline --metric test_macro_f1
    augplat compare --study digits --out results/digits

Flow: gather runs and name their strategies (:mod:`augplat.compare.collect`) → statistics
(:mod:`augplat.compare.stats`) → tables, verdicts and plot (:mod:`augplat.compare.report`),
written atomically to ``--out`` (default ``comparisons/<run-id>``) → one MLflow run tagged
``augplat.kind=compare`` holding the files and the per-strategy numbers as metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ConfigDict, Field

from augplat.compare.analysis import Analysis, Table, analyse
from augplat.compare.collect import collect
from augplat.compare.report import write_report
from augplat.errors import ConfigError
from augplat.runtime.settings import StrictModel
from augplat.tracking import tags as tag

DEFAULT_BASELINE = "baseline"


class CompareConfig(StrictModel):
    """One comparison; each field is also an ``augplat compare`` option (``run_ids``: arguments).

    With no run ids and no study, every finished train/ensemble run of ``experiment`` (the
    ``augplat`` experiment when unset) is compared.
    """

    model_config = ConfigDict(frozen=True)

    run_ids: tuple[str, ...] = Field((), description="runs to compare (train or ensemble runs)")
    study: str | None = Field(None, description="compare the finished runs of this study")
    experiment: str | None = Field(
        None,
        description="compare every finished train/ensemble run of this experiment (default when "
        "no run ids or --study: augplat); the comparison run is logged there",
    )
    metric: str = Field("test_top1", description="metric to compare")
    baseline: str | None = Field(
        None,
        description="arm the others are tested against (default: the study's baseline arm with "
        "--study, else baseline, i.e. --aug none on the original data)",
    )
    out: Path | None = Field(
        None, description="directory for tables and plot (default: comparisons/<run-id>)"
    )
    alpha: float = Field(0.05, ge=0, le=1, description="significance level")
    run_name: str | None = Field(None, description="MLflow run name")
    group_by: tuple[str, ...] | None = Field(
        None,
        description="comma-separated settings that make an arm (e.g. aug,gan_prob); other "
        "settings are pooled (default: every resolved setting except the seed and fold)",
    )


@dataclass
class CompareResult:
    """What a comparison produced (all of it is also in its MLflow run)."""

    run_id: str
    out: Path
    analysis: Analysis
    skipped: list[str] = field(default_factory=list)


def _check_out(out: Path | None) -> None:
    """Refuse to replace a directory that is not an earlier comparison (``--out .`` would)."""
    if out is None or not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    if any(out.iterdir()) and not (out / "report.md").is_file():
        raise ConfigError(f"--out {out}: a non-empty directory that is not a comparison")


def table_suffix(table: Table, several: bool) -> str:
    """``.f0.25`` for a study fraction, ``.<view>`` for another test view, when tables differ."""
    if not several:
        return ""
    suffix = f".f{table.fraction:g}" if table.fraction is not None else f".{table.dataset[:8]}"
    return suffix + ("" if table.view == "regular" else f".{table.view}")


def _metrics(a: Analysis) -> dict[str, float]:
    """Per-arm numbers as flat MLflow metrics (``<arm>[.f<fraction>].mean``, ``.p`` ...)."""
    import math

    from augplat.classify.report import metric_key

    values: dict[str, float] = {}
    for table in a.tables:
        suffix = table_suffix(table, len(a.tables) > 1)
        for label, s in table.summaries.items():
            key = metric_key(label + suffix)
            stats = {"n": s.n, "mean": s.mean, "std": s.std, "ci_low": s.ci_low}
            values.update(
                {f"{key}.{name}": v for name, v in {**stats, "ci_high": s.ci_high}.items()}
            )
            test = table.tests.get(label)
            if test is not None:
                values.update({f"{key}.diff": test.diff, f"{key}.p": test.p_value})
                values[f"{key}.holm_p"] = table.adjusted.get(label, math.nan)
    return {k: float(v) for k, v in values.items() if not math.isnan(float(v))}


def verdict_tags(a: Analysis) -> dict[str, str]:
    """``augplat.verdict.<arm>[.f<fraction>]``: the word of each tested arm (the main table's
    without suffix)."""
    tags = {}
    for table in a.tables:
        suffix = table_suffix(table, len(a.tables) > 1)
        main = table is a.main
        for label, text in table.words.items():
            tags[f"{tag.VERDICT_PREFIX}{label}{'' if main else suffix}"] = text
    return tags


def _log(logger, cfg: CompareConfig, a: Analysis, skipped: list[str], out: Path) -> None:
    logger.log_params(
        {
            "metric": cfg.metric,
            "baseline": a.baseline or "none",
            "alpha": cfg.alpha,
            "study": cfg.study or "",
            "experiment": cfg.experiment or "",
            "runs": [r.run_id for t in a.tables for runs in t.groups.values() for r in runs],
            "arms": sorted({label for t in a.tables for label in t.groups}),
            "num_runs": sum(len(runs) for t in a.tables for runs in t.groups.values()),
            "num_skipped": len(skipped),
        }
    )
    logger.log_metrics(_metrics(a))
    logger.set_tags(verdict_tags(a))
    logger.log_artifact(out, "comparison")


def compare_runs(cfg: CompareConfig, *, tracking_uri: str | None = None) -> CompareResult:
    """Gather runs, compare their strategies, write the report and log the comparison run.

    Every user error (unknown run, study, experiment or metric; no runs; too small a
    baseline; an ``--out`` that is not ours) is raised before the comparison run exists.

    Args:
        cfg: The comparison.
        tracking_uri: MLflow URI; default ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``.
    """
    from augplat import tracking
    from augplat.runtime.fsutil import atomic_dir

    _check_out(cfg.out)
    store = tracking.connect(tracking_uri)
    found = collect(store, cfg.run_ids, cfg.study, cfg.experiment, cfg.metric, cfg.group_by)
    study_baseline = found.study_tags.get(tag.BASELINE)
    analysis = analyse(
        found.records,
        cfg.metric,
        cfg.baseline or study_baseline or DEFAULT_BASELINE,
        explicit_baseline=cfg.baseline is not None,
        alpha=cfg.alpha,
    )
    experiment = cfg.experiment or store.experiment_name(found.experiment_id)
    tags = {tag.KIND: tag.KIND_COMPARE, tag.METRIC: cfg.metric}
    tags[tag.BASELINE] = analysis.baseline or "none"
    if cfg.study:
        tags[tag.STUDY] = cfg.study
    run_name = cfg.run_name or f"compare-{cfg.metric}"
    with tracking.open_run(experiment, run_name, tags=tags, tracking_uri=tracking_uri) as logger:
        out = cfg.out or Path("comparisons") / logger.run_id
        with atomic_dir(out, overwrite=True) as tmp:
            write_report(analysis, tmp)
        _log(logger, cfg, analysis, found.skipped, out)
    return CompareResult(logger.run_id, out, analysis, found.skipped)
