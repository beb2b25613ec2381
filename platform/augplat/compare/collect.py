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

A run's arm (:func:`base_strategy`): a study cell's ``augplat.arm`` tag; else its
``augplat.strategy`` tag (ensembles); else ``expanded`` when it trained on a dataset made by
``augplat expand`` (known from the expand run's digest tags or the run's logged manifest, or
``--train-on expanded``); else ``synthetic`` / ``united``; else from its ``aug`` param:
``none`` → ``baseline``, ``classic``, ``gan``, ``both`` → ``gan+classic``. An arm is every
resolved setting except the seed (and fold): runs of one strategy that differ in any other
setting (lr, generator, gan_prob, test mode, ...) get the differing settings in their labels
(:func:`label_strategies`), so they are never pooled; ``group_by`` lets a user choose the
settings instead. Runs of different datasets (digest after lineage) or test views are never
pooled or paired: each is a table of its own in the analysis. A study cell counted twice (a
rerun of the same ``augplat.cell``) is counted once.
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
ARM_TAG, FRACTION_TAG = "augplat.arm", "augplat.fraction"
# An arm is every resolved setting of a run except these: which seed or fold it is (what pairs
# runs), where the data came from by name (the digest decides), and switches that change
# bookkeeping or speed, not what is learned.
NOT_IDENTITY = frozenset(
    {
        "seed",
        "fold",
        "folds",
        "data",
        "expanded",
        "run_name",
        "experiment",
        "device",
        "amp",
        "channels_last",
        "compile",
        "eval_batch_size",
        "tsne",
        "log_model",
        "log_checkpoints",
        "checkpoint_interval",
        "test_eval",
        "members",
        "member_models",
        "num_members",
    }
)
# How a setting reads in a label; any other reads " key=value".
_LABEL_FORMAT = {
    "gan_prob": " p={}",
    "gan_method": " {}",
    "rule": " {}",
    "test_mode": " test={}",
    "ccl_lambda": " ccl={}",
}
# Runs from before a setting existed.
DEFAULTS = {"test_mode": "regular", "train_on": "original", "ccl_lambda": "0.0"}


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


def _value(tags: Mapping[str, str], params: Mapping[str, str], param: str, tag: str = "") -> str:
    found = params.get(param) or (tags.get(tag) if tag else None)
    return found or DEFAULTS.get(param, "?")


def base_strategy(tags: Mapping[str, str], params: Mapping[str, str], expanded: bool) -> str:
    """The strategy a run's tags and params say, before labels are made unique.

    Args:
        tags: The run's tags.
        params: The run's params.
        expanded: Its dataset was made by ``augplat expand`` (``--data <expanded>``).
    """
    if tags.get(ARM_TAG):
        return tags[ARM_TAG]
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
    if key == "test_mode" and value == "regular":
        return ""
    if key == "ccl_lambda" and float(value) == 0:
        return ""
    return _LABEL_FORMAT.get(key, f" {key}={{}}").format(value)


def identity_keys(tags: Mapping[str, str], params: Mapping[str, str]) -> list[str]:
    """The settings that make a run's arm: every resolved setting but :data:`NOT_IDENTITY`.

    A training run's resolved settings are the TrainConfig fields it logged as params; an
    ensemble's are its rule (its members differ per seed by design). A study cell is already
    named by its ``augplat.arm`` tag.
    """
    if tags.get(ARM_TAG):
        return []
    if tags.get("augplat.kind") == "ensemble":
        return ["rule"]
    from augplat.classify.config import TrainConfig

    return [k for k in TrainConfig.model_fields if k not in NOT_IDENTITY and k in params] + [
        k for k in DEFAULTS if k not in params
    ]


def label_strategies(
    runs: Sequence[tuple[str, Mapping[str, str], Mapping[str, str]]],
    group_by: Sequence[str] | None = None,
) -> list[str]:
    """Final arm labels for ``(base, tags, params)`` per run, in order.

    Within one base strategy, every identity setting (:func:`identity_keys`, or ``group_by``
    when given: the user chooses what makes an arm) in which the runs differ joins the label,
    so runs that differ in anything but the seed are never pooled. Then, runs of different
    seed groups that reuse a seed get the group id added, so pairing stays one run per seed.
    """
    by_base: dict[str, list[int]] = defaultdict(list)
    for i, (base, _, _) in enumerate(runs):
        by_base[base].append(i)
    labels = [base for base, _, _ in runs]
    for members in by_base.values():
        keys: dict[str, None] = {}
        for i in members:
            found = list(group_by) if group_by is not None else identity_keys(*runs[i][1:])
            keys.update(dict.fromkeys(found))
        for key in sorted(keys, key=lambda k: (k not in _LABEL_FORMAT, k)):
            values = {i: _setting(runs[i][1], runs[i][2], key) for i in members}
            if len(set(values.values())) > 1:
                for i in members:
                    labels[i] += _detail(key, values[i])
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    for members in by_label.values():
        seeds = [_pair_key(runs[i][2], runs[i][1]) for i in members]
        groups = {runs[i][1].get("augplat.seed_group") for i in members}
        if len(set(seeds)) < len(seeds) and len(groups) > 1:
            for i in members:
                group = runs[i][1].get("augplat.seed_group")
                labels[i] += f" [{group[:8]}]" if group else " [-]"
    return labels


def _setting(tags: Mapping[str, str], params: Mapping[str, str], key: str) -> str:
    """A setting's value: the param, else the ``augplat.<key>`` tag, else its default."""
    return _value(tags, params, key, f"augplat.{key}")


def _pair_key(params: Mapping[str, str], tags: Mapping[str, str] | None = None) -> str | None:
    """Seed, and fold when the run has one: what pairs runs of different arms.

    A study's ensemble cell has no seed param (it trains nothing); its ``augplat.seed`` tag
    names the seed of the members it combines.
    """
    seed = params.get("seed") or (tags or {}).get("augplat.seed")
    fold = params.get("fold") or (tags or {}).get("augplat.fold")
    if seed is None:
        return None
    return f"{seed}/fold{fold}" if fold not in (None, "", "None") else str(seed)


def _search(mlflow_client, experiment_ids: list[str], filter_string: str = "") -> Iterator[Any]:
    from augplat.tracking import search_all

    return search_all(mlflow_client, experiment_ids, filter_string)


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


def _study_runs(mlflow_client, name: str, experiments: list[str], parent_id: str | None = None):
    """Finished final cells of study ``name``'s newest parent run (or of ``parent_id``)."""
    parents = [
        r
        for r in _search(mlflow_client, experiments, "tags.`augplat.kind` = 'study'")
        if r.data.tags.get("augplat.study") == name
        and (parent_id is None or r.info.run_id == parent_id)
    ]
    if not parents:
        raise UserError(
            f"no study named '{name}' in {_where(mlflow_client)} (run `augplat study {name}`)"
        )
    parent = parents[0]
    _end_dead(mlflow_client, [parent.info.experiment_id], parent.info.run_id)
    children = _search(
        mlflow_client,
        [parent.info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' AND attributes.status = 'FINISHED'"
        " AND tags.`augplat.final` = 'true'",  # the final cells; trials never saw the test split
    )
    return [r for r in children if r.data.tags.get("augplat.kind") in KINDS], parent


def _end_dead(mlflow_client, experiments: list[str], parent_id: str | None = None) -> None:
    """End runs whose process died FAILED, so no table waits for them or counts them."""
    from augplat.tracking import end_dead_runs

    where = "attributes.status = 'RUNNING'"
    if parent_id:
        where += f" AND tags.`mlflow.parentRunId` = '{parent_id}'"
    end_dead_runs(mlflow_client, list(_search(mlflow_client, experiments, where)))


def _experiment_runs(mlflow_client, name: str):
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is None or experiment.lifecycle_stage == "deleted":
        raise UserError(f"no experiment named '{name}' in {_where(mlflow_client)}")
    _end_dead(mlflow_client, [experiment.experiment_id])
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
        cell = run.data.tags.get("augplat.cell")
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
        seed=_seed({"seed": tags.get("augplat.seed"), **params}),
        value=float(r.data.metrics[metric]),
        metrics=dict(r.data.metrics),
        dataset=src or tags.get("augplat.fold_of") or tags.get("augplat.dataset_digest") or "?",
        view=_value(tags, params, "test_mode", "augplat.test_mode"),
        key=_pair_key(params, tags),
        fraction=_float(tags.get(FRACTION_TAG)),
        n_train=None if n_train is None else int(n_train),
        data_name=tags.get("augplat.dataset") or params.get("data") or "",
        foreign=(tags.get("augplat.foreign_generator_reason") or "foreign generator")
        if tags.get("augplat.foreign_generator") == "true"
        else "",
    )


def collect(
    mlflow_client,
    run_ids: Sequence[str] = (),
    study: str | None = None,
    experiment: str | None = None,
    metric: str = "test_top1",
    group_by: Sequence[str] | None = None,
    study_run: str | None = None,
) -> Collection:
    """The finished runs to compare, each with its arm label, pair key and metric value.

    Args:
        mlflow_client: An ``MlflowClient`` (from :func:`augplat.tracking.client`).
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
    experiments = _all_experiments(mlflow_client)
    explicit = [_get_run(mlflow_client, run_id) for run_id in dict.fromkeys(run_ids)]
    gathered, home = [], explicit[0].info.experiment_id if explicit else ""
    study_tags: dict[str, str] = {}
    if study:
        runs, parent = _study_runs(mlflow_client, study, experiments, study_run)
        gathered, home = gathered + runs, parent.info.experiment_id
        study_tags = dict(parent.data.tags)
    if experiment or not (run_ids or study):
        runs, exp = _experiment_runs(mlflow_client, experiment or DEFAULT_EXPERIMENT)
        gathered, home = gathered + runs, exp.experiment_id
    named = {r.info.run_id for r in explicit}
    unique = {r.info.run_id: r for r in gathered}
    gathered, twice = _latest_per_cell([r for rid, r in unique.items() if rid not in named])
    if not explicit and not gathered:
        where = f"study '{study}'" if study else f"experiment '{experiment or DEFAULT_EXPERIMENT}'"
        raise UserError(f"no finished train or ensemble runs found in {where}")
    skipped = _check_metric(explicit, gathered, metric) + twice
    runs = explicit + [r for r in gathered if metric in r.data.metrics]
    lineage = _Lineage(mlflow_client, experiments)
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
