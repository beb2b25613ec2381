"""Train a GAN method on prepared data, tracked as one resumable MLflow run.

How to run::

    augplat gan train cgan --data digits --epochs 20 --ema 0.999
    augplat gan train stargan --data fer --size 48 --epochs 50
    augplat gan train cyclegan --data fer --data-b anime --channels 3 --decay-epochs 100
    augplat gan train --resume <run-id>                 # after a kill or a --stop-after pause

Flow: resolve the method and the data (every user error surfaces before a run exists) → open or
reopen the run → step loop: the method owns each optimisation step, the loop batches, sets the
learning rate per epoch, logs losses every ``log_every`` steps, checkpoints every
``checkpoint_every`` steps and each epoch, and draws a sample grid from fixed inputs per epoch →
log the generator, the checkpoint and the offline quality metrics.

Reproducibility: epoch order comes from ``(seed, epoch)`` and everything random inside a step
from ``(seed, step)``; pools, ADA state, EMA and optimiser states are in the checkpoint. A run
resumed at any checkpoint therefore ends with exactly the weights of an uninterrupted run (CPU).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from augplat import tracking
from augplat.errors import ConfigError
from augplat.generators import run_log
from augplat.generators.base import GanMethod
from augplat.generators.config import GanConfig, resolve_defaults
from augplat.generators.data import GanData, prepare_data
from augplat.runtime import checkpoints as checkpoint
from augplat.runtime import plots
from augplat.runtime.device import batch_indices, resolve_device
from augplat.runtime.pausepoint import pause
from augplat.runtime.progress import Reporter
from augplat.tracking import resume as resume_point
from augplat.tracking import tags as tag

log = logging.getLogger("augplat")

# Only these may change when resuming: they alter how the run executes, not what it learns.
RESUME_OVERRIDES = frozenset(
    {"device", "amp", "eval", "eval_samples", "classifier", "log_every", "preview_images"}
)


class Judge(Protocol):
    """What training asks of the quality layer (the judge is passed in, never imported)."""

    def check_classifier_run(self, run_id: str, n_classes: int, tracking_uri) -> None: ...

    def evaluate_and_log(self, method, data, logger, cfg, reporter) -> dict[str, float]: ...


@dataclass
class GanTrainResult:
    """What a GAN training run produced (everything is also in the MLflow run)."""

    run_id: str
    method: str
    steps: int
    total_steps: int
    completed: bool
    losses: dict[str, float] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)


@dataclass
class _State:
    """Loop position plus wall time, as a checkpoint records it."""

    step: int = 0
    wall_before: float = 0.0  # seconds spent in earlier sessions of this run
    started: float = field(default_factory=time.perf_counter)
    saved_at: int = -1

    @property
    def wall_s(self) -> float:
        """Training wall time over all sessions of the run."""
        return self.wall_before + time.perf_counter() - self.started


def step_generator(seed: int, step: int) -> torch.Generator:
    """The CPU generator for everything random in one step (and the global seed)."""
    torch.manual_seed(seed * 1_000_033 + step)
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def epoch_order(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator that shuffles one epoch."""
    return torch.Generator().manual_seed(seed * 7_919 + epoch * 104_729 + 17)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches per epoch; like :func:`batch_indices`, a trailing single image is dropped."""
    return n // batch_size + (1 if n % batch_size > 1 else 0)


def build(cfg: GanConfig) -> tuple[GanConfig, GanData, GanMethod]:
    """Resolve method defaults, load and check the data, build the method for training.

    Raises:
        ConfigError: Unknown or untrainable method, bad option combination.
        DataError: Unknown dataset, too few classes, domains that do not match.
    """
    from augplat.generators.registry import method_class, trainable_methods

    cls = method_class(cfg.method)
    if not cls.trainable:
        raise ConfigError(
            f"GAN method '{cfg.method}' is not trainable (trainable: "
            f"{', '.join(trainable_methods())}); use `augplat gan import` for TorchScript models"
        )
    cfg = resolve_defaults(cfg.model_copy(update={"method": cls.name}), cls.defaults)
    device = resolve_device(cfg.device)
    data = prepare_data(cfg, cls, device)
    torch.manual_seed(cfg.seed)  # network initialisation
    method = cls(cfg, data.spec, device)
    method.prepare_training()
    return cfg, data, method


def total_steps(cfg: GanConfig, n_train: int) -> int:
    """Steps of the whole run: every epoch (constant + decay), capped by ``max_steps``."""
    total = steps_per_epoch(n_train, cfg.batch_size) * cfg.total_epochs
    return total if cfg.max_steps is None else min(total, cfg.max_steps)


def _checkpoint(method: GanMethod, cfg: GanConfig, st: _State, run_id: str) -> None:
    if st.saved_at == st.step:
        return
    state = {
        "method_state": method.training_state(),
        "step": st.step,
        "wall_s": st.wall_s,
        "config": cfg.model_dump(mode="json"),
    }
    checkpoint.save(checkpoint.run_dir(run_id) / checkpoint.LAST, state)
    st.saved_at = st.step


def _preview(method: GanMethod, data: GanData, cfg: GanConfig, name: str, logger) -> None:
    images, labels, images_b = data.fixed_inputs(cfg.preview_images, cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    grid, nrow = method.preview(images, labels, images_b, gen, columns=cfg.preview_images)
    path = checkpoint.run_dir(logger.run_id) / "samples" / f"{name}.png"
    plots.image_grid((grid * 255).round().to(torch.uint8).numpy(), path, nrow=nrow)
    logger.log_artifact(path, "samples")


class _Window:
    """Loss sums between two log points, kept on the device (no sync per step)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.images = 0
        self.started = time.perf_counter()

    def add(self, losses: dict[str, torch.Tensor], n_images: int) -> None:
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, 0) + value.float()
            self.counts[key] = self.counts.get(key, 0) + 1
        self.images += n_images

    def flush(self) -> dict[str, float]:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        out = {k: float(v) / self.counts[k] for k, v in self.sums.items()}
        out["images_per_s"] = self.images / elapsed
        self.__init__()
        return out


def _fit(
    cfg: GanConfig,
    data: GanData,
    method: GanMethod,
    st: _State,
    logger,
    reporter,
    stop_after: int | None,
) -> dict[str, float]:
    """The step loop from ``st.step`` to the end (or ``stop_after``); returns the last losses."""
    n, spe = len(data.images), steps_per_epoch(len(data.images), cfg.batch_size)
    total = total_steps(cfg, n)
    end = total if stop_after is None else min(total, stop_after)
    reporter.start(-(-total // spe), first_epoch=st.step // spe + 1)
    window, last = _Window(), {}
    while st.step < end:
        epoch, skip = st.step // spe + 1, st.step % spe
        rates = method.set_lr(cfg.lr_factor(epoch))
        reporter.start_epoch(epoch, spe - skip)
        order = list(batch_indices(n, cfg.batch_size, epoch_order(cfg.seed, epoch)))
        for idx in order[skip:]:
            generator = step_generator(cfg.seed, st.step)
            window.add(method.train_step(data.batch(idx, generator), st.step, generator), len(idx))
            st.step += 1
            reporter.advance()
            if st.step % cfg.log_every == 0 or st.step == end:
                last = window.flush()
                extra = {
                    **rates,
                    **method.extra_metrics(),
                    "epoch": epoch,
                    "wall_time_s": st.wall_s,
                }
                logger.log_metrics({**last, **extra}, step=st.step)
                pause("gan.step_logged", st.step)
            if st.step % cfg.checkpoint_every == 0 or st.step == end:
                _checkpoint(method, cfg, st, logger.run_id)
            if st.step >= end:
                break
        if st.step % spe == 0 or st.step == total:  # epoch done (or the budget's last one)
            _checkpoint(method, cfg, st, logger.run_id)
            _preview(method, data, cfg, f"epoch_{epoch:04d}", logger)
            reporter.end_epoch(epoch, {k: v for k, v in last.items() if k.startswith("loss_")})
    return last


def _check_judge(cfg: GanConfig, data: GanData, tracking_uri, judge) -> None:
    # A bad --classifier must fail now, not after hours of training.
    if cfg.eval and judge is None:
        raise ConfigError(
            "eval: true needs a quality judge; train through augplat.quality.train_generator"
        )
    if cfg.eval and cfg.classifier:
        judge.check_classifier_run(cfg.classifier, len(data.spec.classes), tracking_uri)


def _open(cfg: GanConfig, resume, tracking_uri, parent_run_id, tags, overrides, judge):
    """Build everything, then open or reopen the run; user errors come before the run exists."""
    from augplat import tracking

    tracking.check_reachable(tracking.resolve_tracking_uri(tracking_uri))
    if resume:
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        fixed = sorted(set(given) - RESUME_OVERRIDES - {"method"})
        if fixed:
            raise ConfigError(
                f"--{fixed[0].replace('_', '-')} cannot change when resuming (the run's config "
                f"wins); only {', '.join(sorted(RESUME_OVERRIDES))} can"
            )
        point = resume_point.open_for_resume(resume, tracking_uri)
        if point.finished:
            return None, None, None, None, point.logger  # resuming a finished run: a no-op
        with resume_point.failing(point.logger):
            return _resumed(point, given, tracking_uri, judge)
    cfg, data, method = build(cfg)
    _check_judge(cfg, data, tracking_uri, judge)
    run_tags = {**run_log.run_tags(cfg, data, method), **(tags or {})}
    logger = tracking.start_run(
        cfg.experiment,
        cfg.run_name,
        tags=run_tags,
        parent_run_id=parent_run_id,
        tracking_uri=tracking_uri,
    )
    run_log.log_inputs(logger, cfg, data, method)
    return cfg, data, method, _State(), logger


def _resumed(point, given: dict[str, Any], tracking_uri, judge):
    """Build a resumed run from its checkpoint, or from its start when it has none."""
    if given.get("method") not in (None, point.config["method"]):
        trained = point.config["method"]
        raise ConfigError(f"run {point.logger.run_id} trains {trained}, not {given['method']}")
    changes = {k: v for k, v in given.items() if k in RESUME_OVERRIDES}
    cfg, data, method = build(GanConfig.model_validate({**point.config, **changes}))
    _check_judge(cfg, data, tracking_uri, judge)
    if point.ckpt is None:  # killed before its first checkpoint: start over in the same run
        run_log.log_inputs(point.logger, cfg, data, method)
        return cfg, data, method, _State(), point.logger
    method.load_training_state(point.ckpt["method_state"])
    wall = float(point.ckpt.get("wall_s", 0.0))
    return cfg, data, method, _State(step=int(point.ckpt["step"]), wall_before=wall), point.logger


def train_gan(
    cfg: GanConfig,
    *,
    tracking_uri: str | None = None,
    resume: str | None = None,
    stop_after: int | None = None,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
    parent_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    judge: Judge | None = None,
) -> GanTrainResult:
    """Train ``cfg.method`` and log everything to one MLflow run.

    Args:
        cfg: Resolved config (ignored when resuming: the run's own config wins).
        tracking_uri: MLflow URI; default ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``.
        resume: Run id of an interrupted or paused run to continue from its last checkpoint.
        stop_after: Pause after this global step: checkpoint, mark the run KILLED and return;
            ``resume`` continues it (a deliberate, resumable interruption).
        overrides: When resuming, new values for runtime fields (device, amp, eval, ...).
        reporter: Progress reporter (plain log lines by default).
        parent_run_id: Make the run a child of this run.
        tags: Extra run tags.
        judge: What measures quality when ``cfg.eval`` (:mod:`augplat.quality`, a higher layer,
            passes itself in: :func:`augplat.quality.train_generator`).
    """
    reporter = reporter or Reporter()
    args = (cfg, resume, tracking_uri, parent_run_id, tags, overrides, judge)
    cfg, data, method, st, logger = _open(*args)
    if cfg is None:
        reporter.message(f"run {logger.run_id} already finished: nothing to resume")
        reporter.close()
        return _finished_result(logger)
    total = total_steps(cfg, len(data.images))
    quality: dict[str, float] = {}
    try:
        with tracking.open_run(logger=logger):
            pause("gan.fit")
            losses = _fit(cfg, data, method, st, logger, reporter, stop_after)
            if st.step < total:
                reporter.message(
                    f"paused at step {st.step}/{total}; continue with --resume {logger.run_id}"
                )
                logger.end("KILLED")  # a deliberate pause: the status stands
                return GanTrainResult(logger.run_id, cfg.method, st.step, total, False, losses)
            run_log.log_outputs(logger, method, data)
            pause("gan.outputs_logged")
            if cfg.eval:
                quality = judge.evaluate_and_log(method, data, logger, cfg, reporter)
            logger.set_tags({tag.GAN_COMPLETE: "true"})
    finally:
        reporter.close()
    return GanTrainResult(logger.run_id, cfg.method, st.step, total, True, losses, quality)


def _finished_result(logger) -> GanTrainResult:
    """A finished run's result read back from MLflow (``--resume`` of a finished run)."""
    run = logger.run()
    params, metrics = run.data.params, run.data.metrics
    history = logger.metric_history("wall_time_s")
    steps = max((m.step for m in history), default=0)
    losses = {k: v for k, v in metrics.items() if k.startswith("loss_")}
    return GanTrainResult(logger.run_id, params.get("method", ""), steps, steps, True, losses)
