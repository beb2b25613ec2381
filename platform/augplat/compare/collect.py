"""Gather finished runs from MLflow and name each run's strategy.

How to use::

    from augplat import tracking
    found = collect(tracking.connect(), run_ids=[], study="digits", metric="test_top1")
    for r in found.records: r.strategy, r.seed, r.value

Where runs come from (any combination; nothing given means the ``augplat`` experiment):
explicit run ids; the children of a study's parent run (the newest parent tagged
``augplat.kind=study`` and ``augplat.study=<name>``); every finished ``train`` or ``ensemble``
run of an experiment. Gathered runs without the metric (pruned or val-only study trials) are
left out and counted; an explicit run without it is an error.

A run's arm and its label: :mod:`augplat.compare.labels`. Runs of different datasets (digest
after lineage) or test views are never pooled or paired: each is a table of its own in the
analysis. A study cell counted twice (a rerun of the same ``augplat.cell``) is counted once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from augplat.compare.labels import (
    FRACTION_TAG,
    base_strategy,
    label_strategies,
    pair_key,
    setting_value,
)
from augplat.errors import UserError
from augplat.tracking import tags as tag

KINDS = (tag.KIND_TRAIN, tag.KIND_ENSEMBLE)
DEFAULT_EXPERIMENT = "augplat"
__all__ = ["Collection", "RunRecord", "base_strategy", "collect", "label_strategies"]


@dataclass(frozen=True)
class RunRecord:
    """One run as the comparison sees it.

    ``dataset`` is the digest of the data whose val/test it was measured on (the source of an
    expanded dataset); ``view`` the test view (``test_mode``); runs of different datasets or
    views are never pooled or paired. ``key`` pairs runs across arms (seed, and fold if any).
    """

    run_id: str
    run_name: str
    experiment_id: str
    strategy: str
    seed: int | None
    value: float
    metrics: dict[str, float]
    dataset: str
    view: str = "regular"
    key: str | None = None
    fraction: float | None = None
    n_train: int | None = None
    data_name: str = ""
    foreign: str = ""  # why its generator is foreign to its data (--allow-foreign-generator)

    @property
    def pair_key(self) -> str | None:
        """What pairs this run with other arms' runs: its key, else its seed."""
        if self.key is not None:
            return self.key
        return None if self.seed is None else str(self.seed)


@dataclass
class Collection:
    """The runs to compare and what was left out."""

    records: list[RunRecord]
    skipped: list[str] = field(default_factory=list)
    experiment_id: str = ""
    study_tags: dict[str, str] = field(default_factory=dict)


def _get_run(store, run_id: str):
    return store.fetch_run(
        run_id, kinds=KINDS, expected="a train or ensemble run", finished_to="be compared"
    )


def _study_runs(store, name: str, experiments: list[str], parent_id: str | None = None):
    """Finished final cells of study ``name``'s newest parent run (or of ``parent_id``)."""
    parents = [
        r
        for r in store.find_runs(experiments, kind=tag.KIND_STUDY, tags={tag.STUDY: name})
        if parent_id is None or r.info.run_id == parent_id
    ]
    if not parents:
        raise UserError(f"no study named '{name}' in {store.where} (run `augplat study {name}`)")
    parent = parents[0]
    exp, parent_id = [parent.info.experiment_id], parent.info.run_id
    store.end_dead_runs(store.find_runs(exp, status="RUNNING", parent=parent_id))
    # the final cells; trials never saw the test split
    finals = {tag.FINAL: "true"}
    children = store.find_runs(exp, status="FINISHED", parent=parent_id, tags=finals)
    return [r for r in children if r.data.tags.get(tag.KIND) in KINDS], parent


def _experiment_runs(store, name: str) -> tuple[list, str]:
    experiment = store.experiment_named(name)
    if experiment is None:
        raise UserError(f"no experiment named '{name}' in {store.where}")
    store.end_dead_runs(store.find_runs([experiment], status="RUNNING"))
    found = store.find_runs([experiment], status="FINISHED")
    return [r for r in found if r.data.tags.get(tag.KIND) in KINDS], experiment


class _Lineage:
    """Which dataset digests ``augplat expand`` made, and from which source digest.

    Expand runs (``augplat.kind=expand``) name both digests in their tags. A training run whose
    expand run is not in this store is recognised by the manifest it logged (``data/``), whose
    ``source.reader`` is ``expand``.
    """

    def __init__(self, store, experiments: list[str]):
        self.store = store
        self.sources: dict[str, str | None] = {}
        for run in store.find_runs(experiments, kind=tag.KIND_EXPAND):
            digest = run.data.tags.get(tag.DATASET_DIGEST)
            if digest:
                self.sources[digest] = run.data.tags.get(tag.SOURCE_DIGEST) or "?"

    def source_of(self, run) -> str | None:
        """The source digest when ``run`` trained on an expanded dataset, else None."""
        digest = run.data.tags.get(tag.DATASET_DIGEST) or run.data.params.get("dataset_digest")
        if digest not in self.sources and run.data.tags.get(tag.KIND) == tag.KIND_TRAIN:
            manifest = self._manifest(run.info.run_id)
            if manifest is None:
                return None  # not cached: another run of this digest may have its manifest
            source = manifest.get("source") or {}
            expanded = source.get("reader") == "expand"
            self.sources[digest] = (source.get("source_digest") or "?") if expanded else None
        return self.sources.get(digest)

    def _manifest(self, run_id: str) -> dict | None:
        from augplat.tracking import scratch_dir

        with scratch_dir() as tmp:
            path = self.store.download(run_id, "data/manifest.json", tmp)
            try:
                return None if path is None else json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # unreadable or bad JSON: nothing to learn here
                return None


def _seed(params: Mapping[str, str]) -> int | None:
    try:
        return int(params["seed"])
    except (KeyError, TypeError, ValueError):
        return None


def _check_metric(explicit: list, gathered: list, metric: str) -> list[str]:
    """Raise when no run (or an explicit run) lacks ``metric``; describe the gathered that do."""
    runs = explicit + gathered
    if not any(metric in r.data.metrics for r in runs):
        names = sorted({k for r in runs for k in r.data.metrics if "_acc_" not in k})
        hint = ", ".join([n for n in names if n.startswith(("test_", "val_", "best_"))][:10])
        raise UserError(
            f"unknown metric '{metric}': none of the {len(runs)} runs logged it ({hint})"
        )
    for run in explicit:
        if metric not in run.data.metrics:
            raise UserError(f"run {run.info.run_id} has no metric '{metric}'")
    return [
        f"{r.info.run_id} ({r.info.run_name}): no {metric}"
        for r in gathered
        if metric not in r.data.metrics
    ]


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "None") else None
    except ValueError:
        return None


def _latest_per_cell(runs: list) -> tuple[list, list[str]]:
    """One run per study cell (``augplat.cell``): a cell run twice is counted once, the newest."""
    seen: dict[str, Any] = {}
    kept, dropped = [], []
    for run in runs:  # newest first
        cell = run.data.tags.get(tag.CELL)
        if cell is None:
            kept.append(run)
        elif cell in seen:
            dropped.append(f"{run.info.run_id}: cell {cell} already counted")
        else:
            seen[cell] = run
            kept.append(run)
    return kept, dropped


def _record(r, label: str, src: str | None, metric: str) -> RunRecord:
    tags, params = r.data.tags, r.data.params
    n_train = _float(params.get("num_train"))
    return RunRecord(
        run_id=r.info.run_id,
        run_name=r.info.run_name or "",
        experiment_id=r.info.experiment_id,
        strategy=label,
        seed=_seed({"seed": tags.get(tag.SEED), **params}),
        value=float(r.data.metrics[metric]),
        metrics=dict(r.data.metrics),
        dataset=src or tags.get(tag.FOLD_OF) or tags.get(tag.DATASET_DIGEST) or "?",
        view=setting_value(tags, params, "test_mode", tag.TEST_MODE),
        key=pair_key(params, tags),
        fraction=_float(tags.get(FRACTION_TAG)),
        n_train=None if n_train is None else int(n_train),
        data_name=tags.get(tag.DATASET) or params.get("data") or "",
        foreign=(tags.get(tag.FOREIGN_GENERATOR_REASON) or "foreign generator")
        if tags.get(tag.FOREIGN_GENERATOR) == "true"
        else "",
    )


def collect(
    store,
    run_ids: Sequence[str] = (),
    study: str | None = None,
    experiment: str | None = None,
    metric: str = "test_top1",
    group_by: Sequence[str] | None = None,
    study_run: str | None = None,
) -> Collection:
    """The finished runs to compare, each with its arm label, pair key and metric value.

    Args:
        store: The tracking store (:func:`augplat.tracking.connect`).
        run_ids: Explicit runs (finished train or ensemble runs).
        study: Take the finished child runs of this study's newest parent run.
        experiment: Take every finished train/ensemble run of this experiment. Nothing given at
            all means the ``augplat`` experiment.
        metric: The metric to compare.
        group_by: Settings that make an arm (default: every resolved setting but the seed).
        study_run: With ``study``: this parent run rather than the newest.

    Raises:
        UserError: Unknown run, study, experiment or metric; no runs.
    """
    experiments = store.experiment_ids()
    explicit = [_get_run(store, run_id) for run_id in dict.fromkeys(run_ids)]
    gathered, home = [], explicit[0].info.experiment_id if explicit else ""
    study_tags: dict[str, str] = {}
    if study:
        runs, parent = _study_runs(store, study, experiments, study_run)
        gathered, home = gathered + runs, parent.info.experiment_id
        study_tags = dict(parent.data.tags)
    if experiment or not (run_ids or study):
        runs, home = _experiment_runs(store, experiment or DEFAULT_EXPERIMENT)
        gathered = gathered + runs
    named = {r.info.run_id for r in explicit}
    unique = {r.info.run_id: r for r in gathered}
    gathered, twice = _latest_per_cell([r for rid, r in unique.items() if rid not in named])
    if not explicit and not gathered:
        where = f"study '{study}'" if study else f"experiment '{experiment or DEFAULT_EXPERIMENT}'"
        raise UserError(f"no finished train or ensemble runs found in {where}")
    skipped = _check_metric(explicit, gathered, metric) + twice
    runs = explicit + [r for r in gathered if metric in r.data.metrics]
    lineage = _Lineage(store, experiments)
    sources = [lineage.source_of(r) for r in runs]
    bases = [
        base_strategy(r.data.tags, r.data.params, src is not None)
        for r, src in zip(runs, sources, strict=True)
    ]
    labels = label_strategies(
        [(b, r.data.tags, r.data.params) for b, r in zip(bases, runs, strict=True)], group_by
    )
    records = [
        _record(r, label, src, metric) for r, label, src in zip(runs, labels, sources, strict=True)
    ]
    return Collection(records, skipped, home, study_tags)
