"""Gather finished runs from MLflow and name each run's strategy.

How to use::

    from augplat import tracking
    found = collect(tracking.client(), run_ids=[], study="digits", metric="test_top1")
    for r in found.records: r.strategy, r.seed, r.value

Where runs come from (any combination; nothing given means the ``augplat`` experiment):
explicit run ids; the children of a study's parent run (the newest parent tagged
``augplat.kind=study`` and ``augplat.study=<name>``); every finished ``train`` or ``ensemble``
run of an experiment. Gathered runs without the metric (pruned or val-only study trials) are
left out and counted; an explicit run without it is an error.

A run's strategy (:func:`base_strategy`): its ``augplat.strategy`` tag when it has one
(ensembles do); else ``expanded`` when it trained on a dataset made by ``augplat expand``
(``--data <expanded>``, known from the expand run's digest tags or the run's logged manifest,
or ``--train-on expanded``); else ``synthetic`` / ``united`` for those ``train_on`` modes; else
from its ``aug`` param: ``none`` → ``baseline``, ``classic``, ``gan``, ``both`` →
``gan+classic``. Within a strategy, settings that differ between runs are added to the label
(:func:`label_strategies`): ``gan p=0.5`` / ``gan p=0.25`` when several ``gan_prob`` values
occur, the GAN method likewise, ``expanded+classic`` for the augmentation on top of an expanded
dataset, ``ensemble vote`` for the rule, ``classic test=both`` for a test-time mode. Runs made
by ``--seeds`` (tag ``augplat.seed_group``) group like any other runs; two groups of one
strategy that reuse seeds get their group id added.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from augplat.errors import UserError

KINDS = ("train", "ensemble")
DEFAULT_EXPERIMENT = "augplat"
AUG_STRATEGY = {"none": "baseline", "classic": "classic", "gan": "gan", "both": "gan+classic"}
GAN_DETAILS = (("gan_method", "augplat.gan_method"), ("gan_prob", ""))
AUG_DETAIL = (("aug", "augplat.aug"),)
# Settings that split a strategy when its runs differ in them: (param, tag) sources.
DETAILS: dict[str, tuple[tuple[str, str], ...]] = {
    "gan": GAN_DETAILS,
    "gan+classic": GAN_DETAILS,
    "expanded": AUG_DETAIL,
    "synthetic": (*AUG_DETAIL, GAN_DETAILS[0]),
    "united": (*AUG_DETAIL, GAN_DETAILS[0]),
    "ensemble": (("rule", "augplat.rule"),),
}
# ... and these split every derived strategy (a test-time mode changes what the test measures).
# The contrastive-center loss changes what is trained, whatever the augmentation.
COMMON_DETAILS = (("test_mode", "augplat.test_mode"), ("ccl_lambda", ""))
# Runs from before a setting existed.
DEFAULTS = {"test_mode": "regular", "train_on": "original", "ccl_lambda": "0.0"}


@dataclass(frozen=True)
class RunRecord:
    """One run as the comparison sees it."""

    run_id: str
    run_name: str
    experiment_id: str
    strategy: str
    seed: int | None
    value: float
    metrics: dict[str, float]
    dataset: str  # digest of the original data (the source of an expanded dataset)


@dataclass
class Collection:
    """The runs to compare and what was left out."""

    records: list[RunRecord]
    skipped: list[str] = field(default_factory=list)
    experiment_id: str = ""


def _value(tags: Mapping[str, str], params: Mapping[str, str], param: str, tag: str) -> str:
    found = params.get(param) or (tags.get(tag) if tag else None)
    return found or DEFAULTS.get(param, "?")


def base_strategy(tags: Mapping[str, str], params: Mapping[str, str], expanded: bool) -> str:
    """The strategy a run's tags and params say, before labels are made unique.

    Args:
        tags: The run's tags.
        params: The run's params.
        expanded: Its dataset was made by ``augplat expand`` (``--data <expanded>``).
    """
    if tags.get("augplat.strategy"):
        return tags["augplat.strategy"]
    if tags.get("augplat.kind") == "ensemble":
        return "ensemble"
    train_on = _value(tags, params, "train_on", "augplat.train_on")
    if expanded or train_on == "expanded":
        return "expanded"
    if train_on in ("synthetic", "united"):
        return train_on
    aug = _value(tags, params, "aug", "augplat.aug")
    return AUG_STRATEGY.get(aug, f"aug={aug}")


def _detail(key: str, value: str) -> str:
    if key == "aug":
        return "" if value == "none" else f"+{value}"
    if key == "gan_prob":
        return f" p={value}"
    if key == "test_mode":
        return "" if value == "regular" else f" test={value}"
    if key == "ccl_lambda":
        return "" if float(value) == 0 else f" ccl={value}"
    return f" {value}"


def label_strategies(
    runs: Sequence[tuple[str, Mapping[str, str], Mapping[str, str]]],
) -> list[str]:
    """Final strategy labels for ``(base, tags, params)`` per run, in order.

    A setting listed in :data:`DETAILS` (or :data:`COMMON_DETAILS`) joins the label only when
    the runs of that base strategy differ in it; then, runs of different seed groups that
    reuse a seed get the group id added, so pairing by seed stays one run per seed.
    """
    by_base: dict[str, list[int]] = defaultdict(list)
    for i, (base, _, _) in enumerate(runs):
        by_base[base].append(i)
    labels = [base for base, _, _ in runs]
    for base, members in by_base.items():
        for param, tag in DETAILS.get(base, ()) + COMMON_DETAILS:
            values = {i: _value(runs[i][1], runs[i][2], param, tag) for i in members}
            if len(set(values.values())) > 1:
                for i in members:
                    labels[i] += _detail(param, values[i])
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    for members in by_label.values():
        seeds = [runs[i][2].get("seed") for i in members]
        groups = {runs[i][1].get("augplat.seed_group") for i in members}
        if len(set(seeds)) < len(seeds) and len(groups) > 1:
            for i in members:
                group = runs[i][1].get("augplat.seed_group")
                labels[i] += f" [{group[:8]}]" if group else " [-]"
    return labels


def _search(mlflow_client, experiment_ids: list[str], filter_string: str = "") -> Iterator[Any]:
    """Every run matching ``filter_string`` (all pages), newest first."""
    token = None
    while True:
        page = mlflow_client.search_runs(
            experiment_ids,
            filter_string,
            max_results=1000,
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def _all_experiments(mlflow_client) -> list[str]:
    ids, token = [], None
    while True:
        page = mlflow_client.search_experiments(max_results=1000, page_token=token)
        ids += [e.experiment_id for e in page]
        token = page.token
        if not token:
            return ids


def _where(mlflow_client) -> str:
    from augplat.tracking import redact_uri

    return redact_uri(str(mlflow_client.tracking_uri))


def _get_run(mlflow_client, run_id: str):
    from augplat.tracking import fetch_run

    return fetch_run(
        mlflow_client,
        run_id,
        kinds=KINDS,
        expected="a train or ensemble run",
        finished_to="be compared",
    )


def _study_runs(mlflow_client, name: str, experiments: list[str]):
    """Finished child runs of the newest parent run of study ``name``; and that parent."""
    parents = [
        r
        for r in _search(mlflow_client, experiments, "tags.`augplat.kind` = 'study'")
        if r.data.tags.get("augplat.study") == name
    ]
    if not parents:
        raise UserError(
            f"no study named '{name}' in {_where(mlflow_client)} (run `augplat study {name}`)"
        )
    parent = parents[0]
    children = _search(
        mlflow_client,
        [parent.info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' AND attributes.status = 'FINISHED'",
    )
    return [r for r in children if r.data.tags.get("augplat.kind") in KINDS], parent


def _experiment_runs(mlflow_client, name: str):
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is None or experiment.lifecycle_stage == "deleted":
        raise UserError(f"no experiment named '{name}' in {_where(mlflow_client)}")
    found = _search(mlflow_client, [experiment.experiment_id], "attributes.status = 'FINISHED'")
    return [r for r in found if r.data.tags.get("augplat.kind") in KINDS], experiment


class _Lineage:
    """Which dataset digests ``augplat expand`` made, and from which source digest.

    Expand runs (``augplat.kind=expand``) name both digests in their tags. A training run whose
    expand run is not in this store is recognised by the manifest it logged (``data/``), whose
    ``source.reader`` is ``expand``.
    """

    def __init__(self, mlflow_client, experiments: list[str]):
        self.client = mlflow_client
        self.sources: dict[str, str | None] = {}
        for run in _search(mlflow_client, experiments, "tags.`augplat.kind` = 'expand'"):
            digest = run.data.tags.get("augplat.dataset_digest")
            if digest:
                self.sources[digest] = run.data.tags.get("augplat.source_digest") or "?"

    def source_of(self, run) -> str | None:
        """The source digest when ``run`` trained on an expanded dataset, else None."""
        digest = run.data.tags.get("augplat.dataset_digest") or run.data.params.get(
            "dataset_digest"
        )
        if digest not in self.sources and run.data.tags.get("augplat.kind") == "train":
            manifest = self._manifest(run.info.run_id)
            if manifest is None:
                return None  # not cached: another run of this digest may have its manifest
            source = manifest.get("source") or {}
            expanded = source.get("reader") == "expand"
            self.sources[digest] = (source.get("source_digest") or "?") if expanded else None
        return self.sources.get(digest)

    def _manifest(self, run_id: str) -> dict | None:
        from pathlib import Path

        from augplat.tracking import scratch_dir

        try:
            with scratch_dir() as tmp:
                path = self.client.download_artifacts(run_id, "data/manifest.json", str(tmp))
                return json.loads(Path(path).read_text(encoding="utf-8"))
        except Exception:  # MlflowException / OSError / bad JSON: nothing to learn here
            return None


def _seed(params: Mapping[str, str]) -> int | None:
    try:
        return int(params["seed"])
    except (KeyError, ValueError):
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


def _check_one_dataset(records: list[RunRecord]) -> None:
    found = sorted({r.dataset for r in records})
    if len(found) > 1:
        raise UserError(
            f"the runs come from {len(found)} different datasets (digests {', '.join(found)}): "
            "a comparison needs one test set; pass run ids, --study or --experiment of one dataset"
        )


def collect(
    mlflow_client,
    run_ids: Sequence[str] = (),
    study: str | None = None,
    experiment: str | None = None,
    metric: str = "test_top1",
) -> Collection:
    """The finished runs to compare, each with its strategy label, seed and metric value.

    Args:
        mlflow_client: An ``MlflowClient`` (from :func:`augplat.tracking.client`).
        run_ids: Explicit runs (finished train or ensemble runs).
        study: Take the finished child runs of this study's newest parent run.
        experiment: Take every finished train/ensemble run of this experiment. Nothing given at
            all means the ``augplat`` experiment.
        metric: The metric to compare.

    Raises:
        UserError: Unknown run, study, experiment or metric; no runs; runs of several datasets.
    """
    experiments = _all_experiments(mlflow_client)
    explicit = [_get_run(mlflow_client, run_id) for run_id in dict.fromkeys(run_ids)]
    gathered, home = [], explicit[0].info.experiment_id if explicit else ""
    if study:
        runs, parent = _study_runs(mlflow_client, study, experiments)
        gathered, home = gathered + runs, parent.info.experiment_id
    if experiment or not (run_ids or study):
        runs, exp = _experiment_runs(mlflow_client, experiment or DEFAULT_EXPERIMENT)
        gathered, home = gathered + runs, exp.experiment_id
    named = {r.info.run_id for r in explicit}
    unique = {r.info.run_id: r for r in gathered}
    gathered = [r for run_id, r in unique.items() if run_id not in named]
    if not explicit and not gathered:
        where = f"study '{study}'" if study else f"experiment '{experiment or DEFAULT_EXPERIMENT}'"
        raise UserError(f"no finished train or ensemble runs found in {where}")
    skipped = _check_metric(explicit, gathered, metric)
    runs = explicit + [r for r in gathered if metric in r.data.metrics]
    lineage = _Lineage(mlflow_client, experiments)
    sources = [lineage.source_of(r) for r in runs]
    bases = [
        base_strategy(r.data.tags, r.data.params, src is not None)
        for r, src in zip(runs, sources, strict=True)
    ]
    labels = label_strategies(
        [(b, r.data.tags, r.data.params) for b, r in zip(bases, runs, strict=True)]
    )
    records = [
        RunRecord(
            run_id=r.info.run_id,
            run_name=r.info.run_name or "",
            experiment_id=r.info.experiment_id,
            strategy=label,
            seed=_seed(r.data.params),
            value=float(r.data.metrics[metric]),
            metrics=dict(r.data.metrics),
            dataset=src or r.data.tags.get("augplat.dataset_digest") or "?",
        )
        for r, label, src in zip(runs, labels, sources, strict=True)
    ]
    _check_one_dataset(records)
    return Collection(records, skipped, home)
