"""Evaluate an ensemble of trained classifier runs; log it as its own MLflow run.

How to run::

    augplat ensemble <run-id> <run-id> <run-id> --rule vote
    augplat ensemble <run-id> <run-id> --rule sum --experiment digits --run-name ens-sum

Each member is a finished ``augplat train`` run. Its best-validation checkpoint is read from the
run's artifacts (``checkpoints/best.pt``), or from the local run directory when the run did not
upload it (study trials); the model is rebuilt from the checkpoint's config. Every member must
have been trained on the same dataset (same content digest, so the same classes and the same
val and test images). The ensemble is scored on val and test with the same metrics and files
as a training run (:mod:`augplat.classify.report`), and tagged ``augplat.kind=ensemble``,
``augplat.strategy=ensemble`` with one ``augplat.member.<i>`` tag per member, so
``augplat compare`` groups ensembles as a strategy of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field

from augplat.classify.ensemble import RULES, combine
from augplat.errors import ConfigError, DataError, UserError
from augplat.runtime import checkpoints as checkpoint
from augplat.runtime.settings import StrictModel
from augplat.tracking import tags as tag

SPLITS = ("val", "test")


class EnsembleConfig(StrictModel):
    """One ensemble evaluation; each field is also an ``augplat ensemble`` option.

    ``runs`` are the member run ids (at least two, all different; the command's arguments);
    :meth:`check` explains a rule or member list that cannot work.
    """

    model_config = ConfigDict(frozen=True)

    runs: tuple[str, ...] = Field(description="member run ids (finished `augplat train` runs)")
    rule: str = Field(
        "sum",
        description="sum | max | vote: sum of softmax probabilities, per-class max or majority "
        "vote (ties: summed probabilities)",
    )
    experiment: str | None = Field(
        None, description="MLflow experiment (default: the first member's)"
    )
    run_name: str | None = Field(None, description="MLflow run name (default: ensemble-<rule>-<n>)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="device")
    eval_batch_size: int = Field(512, ge=1, description="images per forward pass")

    def check(self) -> None:
        """Raise :class:`ConfigError` for a rule or member list that cannot work."""
        if self.rule not in RULES:
            raise ConfigError(f"unknown --rule {self.rule!r} (choose from {', '.join(RULES)})")
        if len(self.runs) < 2:
            raise ConfigError(f"an ensemble needs at least 2 member runs, got {len(self.runs)}")
        repeated = sorted({r for r in self.runs if self.runs.count(r) > 1})
        if repeated:
            raise ConfigError(f"member run(s) given more than once: {', '.join(repeated)}")


@dataclass
class EnsembleResult:
    """What an ensemble evaluation produced (all of it is also in its MLflow run)."""

    run_id: str
    rule: str
    members: list[str]
    metrics: dict[str, float]
    member_metrics: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Member:
    run_id: str
    name: str
    experiment_id: str
    config: dict[str, Any]
    state: dict[str, Any]


def _fetch(store, run_id: str):
    """The MLflow run of a member, checked to be a finished training run."""
    return store.fetch_run(
        run_id,
        kinds=(tag.KIND_TRAIN,),
        expected="an `augplat train` run",
        finished_to="be members",
    )


def _check_same_data(runs) -> str:
    """The members' common dataset digest; different digests or class counts are an error."""
    digests = {r.info.run_id: r.data.tags.get(tag.DATASET_DIGEST) for r in runs}
    if len(set(digests.values())) > 1 or None in digests.values():
        listing = ", ".join(f"{rid[:8]}: {d}" for rid, d in digests.items())
        raise ConfigError(f"members must share one dataset (same digest), got {listing}")
    classes = {r.data.params.get("num_classes") for r in runs}
    if len(classes) > 1:
        raise ConfigError(f"members disagree on the number of classes: {sorted(classes)}")
    return next(iter(digests.values()))


def _best_state(store, run_id: str) -> dict[str, Any]:
    """A member's best checkpoint: the uploaded artifact first, else the local run directory."""
    from augplat.tracking import scratch_dir

    with scratch_dir() as tmp:
        uploaded = store.fetch_checkpoint(run_id, checkpoint.BEST, tmp)
        if uploaded is not None:
            return checkpoint.load(uploaded)
    local = checkpoint.run_dir(run_id) / checkpoint.BEST  # not uploaded (study trials)
    if local.is_file():
        return checkpoint.load(local)
    name = f"{checkpoint.ARTIFACT_DIR}/{checkpoint.BEST}"
    raise UserError(
        f"run {run_id} has no best checkpoint (neither the artifact {name} nor {local})"
    )


def _load_members(store, runs) -> list[_Member]:
    members = []
    for run in runs:
        state = _best_state(store, run.info.run_id)
        if "config" not in state or "model" not in state:
            raise UserError(f"run {run.info.run_id}: best.pt is not an augplat training checkpoint")
        members.append(
            _Member(
                run.info.run_id, run.info.run_name, run.info.experiment_id, state["config"], state
            )
        )
    return members


def _dataset(members: list[_Member], digest: str):
    """The members' dataset on this machine, checked against the digest they trained on."""
    from augplat.data import load_dataset

    ds = load_dataset(members[0].config["data"])
    fold = members[0].config.get("fold")
    if fold is not None:  # members of one fold: its split (the digest is the fold's)
        ds = ds.fold_view(int(fold))
    if ds.digest != digest:
        raise DataError(
            f"dataset '{members[0].config['data']}' here has digest {ds.digest}, but the members "
            f"were trained on {digest}: prepare the same data again (same options)"
        )
    return ds


def _member_logits(member: _Member, ds, images, device, batch_size: int) -> dict[str, np.ndarray]:
    """Logits of one member's best model on val and test (``images``: split → device tensor)."""
    from augplat.classify.backbones import create_model
    from augplat.classify.engine import predict

    cfg = member.config
    model = create_model(
        cfg["model"],
        num_classes=ds.num_classes,
        in_channels=ds.shape[0],
        image_size=cfg.get("image_size") or ds.shape[1],
        stem=cfg.get("stem", "auto"),
    )
    try:
        model.load_state_dict(member.state["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise UserError(
            f"run {member.run_id}: checkpoint does not fit its model ({first})"
        ) from None
    model = model.to(device)
    out = {}
    for split in SPLITS:
        out[split] = predict(
            model,
            images[split],
            batch_size=batch_size,
            image_size=cfg.get("image_size"),
            amp=bool(cfg.get("amp", False)),
        )
    return out


def _evaluate(cfg: EnsembleConfig, members: list[_Member], ds):
    """Ensemble and per-member metrics on val and test, and the ensemble's reports per split."""
    import torch

    from augplat.classify.report import split_metrics
    from augplat.runtime.device import resolve_device

    device = resolve_device(cfg.device)
    # Each split goes to the device once, for every member.
    arrays = {split: ds.arrays(split) for split in SPLITS}
    images = {split: torch.from_numpy(arrays[split][0]).to(device) for split in SPLITS}
    logits = [_member_logits(m, ds, images, device, cfg.eval_batch_size) for m in members]
    metrics: dict[str, float] = {}
    reports: dict[str, dict] = {}
    member_rows = [
        {"member": i, "run_id": m.run_id, "run_name": m.name} for i, m in enumerate(members)
    ]
    for split in SPLITS:
        labels = arrays[split][1]
        if len(labels) == 0:
            continue
        scores = combine([lg[split] for lg in logits], cfg.rule)
        split_m, reports[split] = split_metrics(scores, labels, ds.classes, split)
        metrics.update(split_m)
        for i, lg in enumerate(logits):
            member_m, _ = split_metrics(lg[split], labels, ds.classes, split)
            member_rows[i][f"{split}_top1"] = member_m[f"{split}_top1"]
            metrics[f"member{i}_{split}_top1"] = member_m[f"{split}_top1"]
    metrics.update(gain_over_best_member(metrics, member_rows))
    metrics["val_acc"] = metrics["val_top1"]  # the name training runs use for val accuracy
    return metrics, reports, member_rows


def gain_over_best_member(metrics: dict[str, float], member_rows: list[dict]) -> dict[str, float]:
    """The ensemble's top-1 gain over its best member, the member chosen on VALIDATION.

    Picking the best member by test accuracy would select on the test split and bias the gain
    downwards (the maximum of noisy test scores); the member a user would have picked is the
    one with the best val top-1 (ties: the first), and its test top-1 is the reference.
    """
    if "val_top1" not in metrics or not member_rows:
        return {}
    best = max(range(len(member_rows)), key=lambda i: (member_rows[i]["val_top1"], -i))
    out = {"best_member": float(best)}
    for split in SPLITS:
        key = f"{split}_top1"
        if key in metrics and key in member_rows[best]:
            out[f"{split}_gain_over_best_member"] = metrics[key] - member_rows[best][key]
    return out


def _log(logger, cfg: EnsembleConfig, members, ds, metrics, reports, member_rows) -> None:
    import csv
    import io

    import yaml

    from augplat.classify.report import _write_evaluation
    from augplat.data import dataset_dir
    from augplat.tracking import scratch_dir

    ids = [m.run_id for m in members]
    logger.log_params(
        {
            "rule": cfg.rule,
            "members": ids,
            "num_members": len(ids),
            "member_models": [m.config["model"] for m in members],
            "data": members[0].config["data"],
            "dataset_digest": ds.digest,
            "num_classes": ds.num_classes,
        }
    )
    config = {"rule": cfg.rule, "members": ids, "device": cfg.device, "data": ds.name}
    logger.log_text(yaml.safe_dump(config, sort_keys=False), "config.yaml")
    directory = Path(dataset_dir(ds.name))
    source = (
        directory if (directory / "manifest.json").is_file() else Path(members[0].config["data"])
    )
    logger.log_dataset(ds.name, ds.digest, str(source.resolve()), context="evaluation")
    logger.log_metrics(metrics)
    with scratch_dir() as out:
        for split, report in reports.items():
            (out / split).mkdir()
            title = f"Ensemble ({cfg.rule}, {len(ids)} members): {split} confusion"
            _write_evaluation(report, ds.classes, out / split, title)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(member_rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(member_rows)
        (out / "members.csv").write_text(buffer.getvalue(), encoding="utf-8")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        logger.log_artifact(out, "evaluation")


def run_ensemble(
    cfg: EnsembleConfig,
    *,
    tracking_uri: str | None = None,
    parent_run_id: str | None = None,
    tags: dict[str, str] | None = None,
) -> EnsembleResult:
    """Combine member runs by ``cfg.rule``, score the ensemble on val and test, log one run.

    Every user error (unknown or unfinished run, members on different data, a missing
    checkpoint) is raised before the ensemble's run is created.

    Args:
        cfg: The ensemble to evaluate.
        tracking_uri: MLflow URI; default ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``.
        parent_run_id: Nest the ensemble's run under this run (a study's ensemble arm).
        tags: Extra run tags (a study cell's arm, seed and fraction).
    """
    from augplat import tracking

    cfg.check()
    store = tracking.connect(tracking_uri)
    runs = [_fetch(store, run_id) for run_id in cfg.runs]
    digest = _check_same_data(runs)
    members = _load_members(store, runs)
    ds = _dataset(members, digest)
    metrics, reports, member_rows = _evaluate(cfg, members, ds)
    experiment = cfg.experiment or store.experiment_name(members[0].experiment_id)
    run_tags = {
        tag.KIND: tag.KIND_ENSEMBLE,
        tag.STRATEGY: "ensemble",
        tag.RULE: cfg.rule,
        tag.MEMBERS: ",".join(m.run_id for m in members),
        tag.DATASET: ds.name,
        tag.DATASET_DIGEST: ds.digest,
        **{f"{tag.MEMBER_PREFIX}{i}": m.run_id for i, m in enumerate(members)},
        **(tags or {}),
    }
    run_name = cfg.run_name or f"ensemble-{cfg.rule}-{len(members)}"
    where = {"parent_run_id": parent_run_id, "tracking_uri": tracking_uri}
    with tracking.open_run(experiment, run_name, tags=run_tags, **where) as logger:
        _log(logger, cfg, members, ds, metrics, reports, member_rows)
    return EnsembleResult(
        logger.run_id, cfg.rule, [m.run_id for m in members], metrics, member_rows
    )
