"""Fine-tune a classifier on a prepared dataset, tracked as one MLflow run.

How to run::

    augplat train --data digits --model resnet18 --epochs 5
    augplat train --config my.yaml --lr 3e-4 --resume <run-id>

Flow: resolve data and model (user errors surface before any run exists) → open or reopen the
run → epoch loop (train, validate, schedule, checkpoint, early stop, optional pruning hook) →
evaluate the best-val checkpoint once on the test split → log artifacts and the model.
The test split never influences selection: early stopping and checkpoints read val only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from augplat.classify.config import TrainConfig
from augplat.classify.engine import (
    predict,
    step_scheduler,
    train_epoch,
)
from augplat.classify.setup import TrainSetup, build_setup, forward_model
from augplat.runtime import checkpoints as checkpoint
from augplat.runtime.device import epoch_generator
from augplat.runtime.pausepoint import pause
from augplat.runtime.progress import Reporter
from augplat.tracking import resume as resume_point
from augplat.tracking import tags as tag

log = logging.getLogger("augplat")

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainResult:
    """What a training run produced (everything is also in the MLflow run)."""

    run_id: str
    best_epoch: int
    best_score: float
    test: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False


@dataclass
class _State:
    """Loop state that a checkpoint restores."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0


def _validate(s: TrainSetup, model) -> dict[str, float]:
    """Validation metrics, computed exactly as the test's will be.

    ``val_loss`` is plain cross-entropy like ``test_loss`` (label smoothing is a training
    regulariser, not part of the measure). With ``--test-mode gan|both`` the validation images
    are translated (and the predictions combined) the way the test images will be, so the
    checkpoint is chosen on the view it is tested on; ``val_regular_acc`` keeps the plain view.
    """
    from augplat.classify.metrics import confusion_matrix, macro_f1
    from augplat.classify.train_sets import combine_test_logits

    def logits_of(images: torch.Tensor) -> np.ndarray:
        return predict(
            model,
            images,
            batch_size=s.cfg.eval_batch_size,
            image_size=s.cfg.image_size,
            channels_last=s.cfg.channels_last and s.device.type == "cuda",
            amp=s.cfg.amp,
        )

    images, labels = s.tensors["val"]
    y = labels.cpu()
    logits = regular = logits_of(images)
    extra = {}
    if s.cfg.test_mode != "regular":
        generated = logits_of(s.tensors["val_gan"][0])
        logits = combine_test_logits(regular, generated, s.cfg.test_mode)
        extra["val_regular_acc"] = float((regular.argmax(1) == y.numpy()).mean())
    loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), y))
    pred = logits.argmax(1)
    matrix = confusion_matrix(pred, y.numpy(), s.dataset.num_classes)
    return {
        "val_loss": loss,
        "val_acc": float((pred == y.numpy()).mean()),
        "val_macro_f1": float(macro_f1(matrix)),
        **extra,
    }


def _improved(cfg: TrainConfig, score: float, best: float | None) -> bool:
    if best is None:
        return True
    return score < best if cfg.monitor == "val_loss" else score > best


def _checkpoint_state(s: TrainSetup, st: _State) -> dict[str, Any]:
    return {
        "model": s.model.state_dict(),
        "loss": s.loss_fn.state_dict(),  # contrastive-center centres, when used
        "optimizer": s.optimizer.state_dict(),
        "scheduler": s.scheduler.state_dict() if s.scheduler is not None else None,
        "scaler": s.scaler.state_dict() if s.scaler is not None else None,
        "epoch": st.epoch,
        "history": st.history,
        "best_score": st.best_score,
        "best_epoch": st.best_epoch,
        "bad_epochs": st.bad_epochs,
        "config": s.cfg.model_dump(mode="json"),
    }


def _restore(s: TrainSetup, ckpt: dict[str, Any]) -> _State:
    s.model.load_state_dict(ckpt["model"])
    s.loss_fn.load_state_dict(ckpt.get("loss", {}))
    s.optimizer.load_state_dict(ckpt["optimizer"])
    if s.scheduler is not None and ckpt.get("scheduler") is not None:
        s.scheduler.load_state_dict(ckpt["scheduler"])
    if s.scaler is not None and ckpt.get("scaler") is not None:
        s.scaler.load_state_dict(ckpt["scaler"])
    return _State(
        epoch=int(ckpt["epoch"]),
        history=list(ckpt["history"]),
        best_score=ckpt["best_score"],
        best_epoch=int(ckpt["best_epoch"]),
        bad_epochs=int(ckpt["bad_epochs"]),
    )


def _fit(
    s: TrainSetup, st: _State, logger, reporter: Reporter, on_epoch: EpochCallback | None
) -> bool:
    """The epoch loop; every checkpoint is on disk when it returns (or raises)."""
    saver = checkpoint.BackgroundSaver(s.cfg.checkpoint_interval)
    try:
        return _epochs(s, st, logger, reporter, on_epoch, saver)
    finally:
        saver.close()


def _epochs(s: TrainSetup, st: _State, logger, reporter, on_epoch, saver) -> bool:
    """The epoch loop from ``st.epoch + 1``; returns True when early stopping ended it."""
    cfg, model = s.cfg, forward_model(s)
    ckpt_dir = checkpoint.run_dir(logger.run_id)
    images, labels = s.tensors["train"]
    if cfg.early_stop and st.bad_epochs >= cfg.early_stop:
        return True  # resumed after early stopping had already ended the loop
    reporter.start(cfg.epochs, first_epoch=st.epoch + 1)
    for epoch in range(st.epoch + 1, cfg.epochs + 1):
        n_batches = -(-len(images) // cfg.batch_size)
        reporter.start_epoch(epoch, n_batches)
        started = time.perf_counter()
        metrics = train_epoch(
            model,
            images,
            labels,
            optimizer=s.optimizer,
            loss_fn=s.loss_fn,
            batch_size=cfg.batch_size,
            generator=epoch_generator(cfg.seed, epoch),
            augment=s.augment,
            image_size=cfg.image_size,
            channels_last=cfg.channels_last and s.device.type == "cuda",
            amp=cfg.amp,
            scaler=s.scaler,
            on_batch=reporter.advance,
        )
        train_time = time.perf_counter() - started
        if s.generative is not None and cfg.aug in ("gan", "both"):
            metrics.update(s.generative.pop_stats())  # gan_replaced_frac
        metrics.update(s.loss_fn.pop_stats())  # train_ccl_loss
        metrics.update(_validate(s, model))
        metrics["lr"] = s.optimizer.param_groups[0]["lr"]
        metrics["epoch_time_s"] = time.perf_counter() - started
        metrics["train_images_per_s"] = len(images) / max(train_time, 1e-9)
        step_scheduler(s.scheduler, metrics[cfg.monitor])
        st.epoch = epoch
        st.history.append({"epoch": epoch, **metrics})
        improved = _improved(cfg, metrics[cfg.monitor], st.best_score)
        if improved:
            st.best_score, st.best_epoch, st.bad_epochs = metrics[cfg.monitor], epoch, 0
        else:
            st.bad_epochs += 1
        state = _checkpoint_state(s, st)
        # best.pt has the same bytes as last.pt when improved: linked, not serialised again.
        saver.submit(
            state, ckpt_dir / checkpoint.LAST, ckpt_dir / checkpoint.BEST if improved else None
        )
        logger.log_metrics(metrics, step=epoch)
        pause("train.epoch_logged", epoch)
        reporter.end_epoch(
            epoch, {k: metrics[k] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}
        )
        if on_epoch is not None:
            on_epoch(epoch, metrics)  # may raise (e.g. a study pruning this trial)
        if cfg.early_stop and st.bad_epochs >= cfg.early_stop:
            reporter.message(f"early stop: no {cfg.monitor} gain for {cfg.early_stop} epochs")
            return True
    return False


def _provenance_tags(s: TrainSetup) -> dict[str, str]:
    """``augplat.foreign_generator`` (and why) when a generator, or the expansion the run trains
    on, comes from outside the dataset's train split (:mod:`augplat.generators.provenance`)."""
    from augplat.generators.provenance import lineage_tags

    tags = lineage_tags(s.dataset.source)  # --data is itself an expansion
    if s.cfg.train_on == "expanded" and s.cfg.expanded:
        import json

        from augplat.data.dataset import MANIFEST
        from augplat.data.store import resolve_dataset

        manifest = resolve_dataset(s.cfg.expanded) / MANIFEST
        tags.update(lineage_tags(json.loads(manifest.read_text(encoding="utf-8")).get("source")))
    verdict = s.generative.verdict if s.generative is not None else None
    if verdict is not None and (verdict.foreign or not tags):
        tags.update(verdict.tags())
    return tags


def _open(cfg: TrainConfig, resume: str | None, tracking_uri, parent_run_id, tags):
    """Build everything and open (or reopen) the run; user errors come before the run exists."""
    from augplat import tracking

    # Fail on an unreachable server in seconds, before minutes of data loading and model setup.
    tracking.check_reachable(tracking.resolve_tracking_uri(tracking_uri))
    if resume:
        point = resume_point.open_for_resume(resume, tracking_uri)
        if point.finished:
            return None, None, point.logger  # resuming a finished run is a no-op
        with resume_point.failing(point.logger):
            s = build_setup(TrainConfig.model_validate(point.config), tracking_uri)
            if point.ckpt is None:  # killed before its first checkpoint: start over, same run
                _log_start(point.logger, s)
                return s, _State(), point.logger
            return s, _restore(s, point.ckpt), point.logger
    s = build_setup(cfg, tracking_uri)
    run_tags = {
        tag.KIND: tag.KIND_TRAIN,
        tag.DATASET: s.dataset.name,
        tag.DATASET_DIGEST: s.dataset.digest,
        tag.MODEL: cfg.model,
        tag.AUG: cfg.aug,
        tag.TRAIN_ON: cfg.train_on,
        tag.TEST_MODE: cfg.test_mode,
        # a fold's own split has its own digest; folds of one dataset compare in one table
        **(
            {tag.FOLD: str(cfg.fold), tag.FOLD_OF: s.dataset.checks["fold_of"]}
            if cfg.fold is not None
            else {}
        ),
        **(tags or {}),
    }
    if s.generative is not None:
        run_tags[tag.GENERATOR] = s.cfg.generator
        run_tags[tag.GAN_METHOD] = s.generative.generator.name
    run_tags.update(_provenance_tags(s))
    logger = tracking.start_run(
        cfg.experiment,
        cfg.run_name,
        tags=run_tags,
        parent_run_id=parent_run_id,
        tracking_uri=tracking_uri,
    )
    _log_start(logger, s)
    return s, _State(), logger


def _log_start(logger, s: TrainSetup) -> None:
    """What a run logs before its first epoch (idempotent: a restarted run logs it again)."""
    from augplat.classify.report import log_run_inputs

    log_run_inputs(logger, s)
    if s.generative is not None:
        bank = s.generative.bank.shape[1] if s.generative.bank is not None else 0
        logger.log_params(
            {
                "gan_method": s.generative.generator.name,
                "gan_mode": s.generative.mode,
                "gan_bank_variants": bank,
            }
        )
    if s.train_info:
        logger.log_params(s.train_info)
    if s.cfg.train_on == "expanded":
        logger.set_tags({tag.EXPANDED_DATASET: s.train_info["expanded_dataset"]})


def train_classifier(
    cfg: TrainConfig,
    *,
    tracking_uri: str | None = None,
    resume: str | None = None,
    reporter: Reporter | None = None,
    on_epoch: EpochCallback | None = None,
    parent_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    on_start: Callable[[str], None] | None = None,
    keep_checkpoints: bool = True,
) -> TrainResult:
    """Train, select on val, test once, and log everything to one MLflow run.

    Args:
        cfg: The resolved training config (ignored when resuming: the run's own config wins).
        tracking_uri: MLflow URI; default ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``.
        resume: Run id of an interrupted run to continue from its last checkpoint.
        reporter: Progress reporter (plain log lines by default).
        on_epoch: Called with ``(epoch, metrics)`` after each epoch; may raise to stop.
        parent_run_id: Make the run a child of this run (studies).
        tags: Extra run tags.
        on_start: Called with the run id once the run exists (before the first epoch).
        keep_checkpoints: False (study trials): remove the run's local checkpoints once it has
            ended for good (finished or pruned; a crash keeps them for ``--resume``).
    """
    from augplat.classify.report import final_evaluation

    reporter = reporter or Reporter()
    s, st, logger = _open(cfg, resume, tracking_uri, parent_run_id, tags)
    if s is None:
        reporter.message(f"run {logger.run_id} already finished: nothing to resume")
        reporter.close()
        return _finished_result(logger)
    try:
        with logger.closing():
            if on_start is not None:
                on_start(logger.run_id)
            pause("train.fit")
            stopped = _fit(s, st, logger, reporter, on_epoch)
            test = final_evaluation(s, st, logger, reporter)
    except BaseException as exc:
        if not keep_checkpoints and getattr(exc, "run_status", None):  # pruned: never resumed
            checkpoint.remove_local(logger.run_id)
        raise
    finally:
        reporter.close()
    if not keep_checkpoints:
        checkpoint.remove_local(logger.run_id)
    return TrainResult(
        run_id=logger.run_id,
        best_epoch=st.best_epoch,
        best_score=float(st.best_score),
        test=test,
        history=st.history,
        stopped_early=stopped,
    )


def _finished_result(logger) -> TrainResult:
    """A finished run's result, read back from MLflow (``--resume`` of a finished run)."""
    run = logger.run()
    metrics, monitor = run.data.metrics, run.data.params.get("monitor", "val_acc")
    return TrainResult(
        run_id=logger.run_id,
        best_epoch=int(metrics.get("best_epoch", 0)),
        best_score=float(metrics.get(f"best_{monitor}", float("nan"))),
        test={k: v for k, v in metrics.items() if k.startswith("test_")},
    )
