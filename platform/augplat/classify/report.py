"""What a training run records in MLflow beyond per-epoch metrics.

At the start: the resolved config (params + ``config.yaml``), the dataset lineage (name and
content digest as an MLflow dataset input, its manifest and distribution plot). At the end: the
single test evaluation of the best-val checkpoint (top-k, macro-F1, per-class accuracy, confusion
matrix as PNG and CSV), the curves, an optional t-SNE, the checkpoints and the model.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from augplat import __version__
from augplat.classify.config import to_yaml
from augplat.classify.engine import predict
from augplat.runtime import checkpoints as checkpoint
from augplat.runtime import plots
from augplat.runtime.pausepoint import pause
from augplat.tracking import scratch_dir

TSNE_MAX_POINTS = 2000  # t-SNE is O(n^2) in memory; a stratified-enough random subset is plenty


def metric_key(text: str) -> str:
    """A class name made safe for an MLflow metric key."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "class"


def log_run_inputs(logger, s) -> None:
    """Params, config.yaml, dataset lineage and dataset artifacts at the start of a run."""
    from augplat.data import dataset_dir

    ds, cfg = s.dataset, s.cfg
    counts = {split: len(ds.indices(split)) for split in ("train", "val", "test")}
    n_params = sum(p.numel() for p in s.model.parameters())
    trainable = sum(p.numel() for p in s.model.parameters() if p.requires_grad)
    logger.log_text(to_yaml(cfg), "config.yaml")  # first: a resume needs it to start over
    logger.log_params(
        {
            **cfg.model_dump(mode="json"),
            "dataset_digest": ds.digest,
            "num_classes": ds.num_classes,
            "image_shape": list(ds.shape),
            **{f"num_{k}": v for k, v in counts.items()},
            "device_type": s.device.type,
            "model_params": n_params,
            "model_trainable_params": trainable,
            "torch_version": torch.__version__,
            "augplat_version": __version__,
        }
    )
    directory = Path(dataset_dir(ds.name))
    if not (directory / "manifest.json").is_file():
        directory = Path(cfg.data)  # loaded by path
    logger.log_dataset(ds.name, ds.digest, str(directory.resolve()), context="training")
    for name in ("manifest.json", "distribution.png"):
        if (directory / name).is_file():
            logger.log_artifact(directory / name, "data")


def _csv_text(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _write_evaluation(report: dict[str, Any], classes: list[str], out: Path, title: str) -> None:
    matrix = np.asarray(report["confusion"])
    plots.confusion_matrix(matrix, classes, out / "confusion.png", title)
    header = ["true\\pred", *classes]
    rows = [[c, *map(int, matrix[i])] for i, c in enumerate(classes)]
    (out / "confusion.csv").write_text(_csv_text([header, *rows]), encoding="utf-8")
    keys = ["class", "support", "accuracy", "precision", "f1"]
    per_class = [[row[k] for k in keys] for row in report["per_class"]]
    (out / "per_class.csv").write_text(_csv_text([keys, *per_class]), encoding="utf-8")
    summary = {k: v for k, v in report.items() if k != "confusion"}
    (out / "metrics.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


def _tsne(s, images: torch.Tensor, labels: np.ndarray, out: Path) -> None:
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(s.cfg.seed)
    keep = np.sort(rng.permutation(len(images))[:TSNE_MAX_POINTS])
    feats = predict(
        s.model,
        images[torch.from_numpy(keep).to(images.device)],
        batch_size=s.cfg.eval_batch_size,
        image_size=s.cfg.image_size,
        embed=True,
    )
    perplexity = float(min(30, max(2, len(keep) // 4)))
    points = TSNE(perplexity=perplexity, random_state=s.cfg.seed, init="pca").fit_transform(feats)
    plots.embedding_scatter(
        points,
        labels[keep],
        s.dataset.classes,
        out / "tsne.png",
        "t-SNE of penultimate features (test split)",
    )


def split_metrics(scores: np.ndarray, labels: np.ndarray, classes, split: str):
    """``<split>_top1/2/5``, ``<split>_macro_f1`` and ``<split>_acc_<class>``, plus the report."""
    from augplat.classify.metrics import classification_report

    report = classification_report(scores, labels, classes)
    metrics = {
        f"{split}_{k}": report[k] for k in ("top1", "top2", "top5", "macro_f1") if k in report
    }
    for row in report["per_class"]:
        metrics[f"{split}_acc_{metric_key(row['class'])}"] = row["accuracy"]
    return metrics, report


def _test_metrics(s, logits: np.ndarray, labels_t: torch.Tensor) -> tuple[dict, dict]:
    metrics, report = split_metrics(logits, labels_t.cpu().numpy(), s.dataset.classes, "test")
    metrics["test_loss"] = float(
        torch.nn.functional.cross_entropy(torch.from_numpy(logits), labels_t.cpu())
    )
    return metrics, report


def _test_logits(s, images: torch.Tensor, labels_t: torch.Tensor) -> tuple[np.ndarray, dict]:
    """Test logits for ``--test-mode``; outside regular mode, the regular top-1 alongside."""
    from augplat.classify.metrics import topk_accuracy
    from augplat.classify.train_sets import combine_test_logits, translated_test_set

    def logits_of(x: torch.Tensor) -> np.ndarray:
        return predict(
            s.model, x, batch_size=s.cfg.eval_batch_size, image_size=s.cfg.image_size, amp=s.cfg.amp
        )

    regular = logits_of(images)
    if s.cfg.test_mode == "regular":
        return regular, {}
    generated = logits_of(translated_test_set(s.generative, images, seed=s.cfg.seed))
    labels = labels_t.cpu().numpy()
    extra = {
        "test_regular_top1": topk_accuracy(regular, labels, 1),
        "test_gan_only_top1": topk_accuracy(generated, labels, 1),
    }
    return combine_test_logits(regular, generated, s.cfg.test_mode), extra


def _tta_metrics(s, images: torch.Tensor, labels_t: torch.Tensor) -> dict[str, float]:
    """``test_tta_*`` beside the plain test metrics when ``--tta`` is hflip or tencrop."""
    if s.cfg.tta == "none":
        return {}
    from augplat.classify.tta import predict_tta

    logits = predict_tta(
        s.model, images, s.cfg.tta, batch_size=s.cfg.eval_batch_size, hflip=s.dataset.hflip,
        image_size=s.cfg.image_size, amp=s.cfg.amp,
    )  # fmt: skip
    labels = labels_t.cpu()
    metrics, _ = split_metrics(logits, labels.numpy(), s.dataset.classes, "test_tta")
    # Log-probabilities: cross-entropy of them is the plain negative log-likelihood.
    metrics["test_tta_loss"] = float(torch.nn.functional.nll_loss(torch.from_numpy(logits), labels))
    return metrics


def final_evaluation(s, st, logger, reporter) -> dict[str, Any]:
    """Summarise the run; evaluate the best-val checkpoint on test once; log the artifacts.

    Study trials switch off the test evaluation, checkpoint upload and model logging
    (``test_eval``, ``log_checkpoints``, ``log_model``): they only need the val summary.
    """
    ckpt_dir = checkpoint.run_dir(logger.run_id)
    s.model.load_state_dict(checkpoint.load(ckpt_dir / checkpoint.BEST)["model"])
    metrics: dict[str, Any] = {"best_epoch": st.best_epoch, f"best_{s.cfg.monitor}": st.best_score}
    report = None
    images, labels_t = s.tensors["test"]
    if s.cfg.test_eval and len(images):
        logits, extra = _test_logits(s, images, labels_t)
        test, report = _test_metrics(s, logits, labels_t)
        metrics.update(test)
        metrics.update(extra)
        metrics.update(_tta_metrics(s, images, labels_t))
        reporter.message(
            f"test (best val epoch {st.best_epoch}, mode {s.cfg.test_mode}): "
            f"top1={report['top1']:.4f} macro_f1={report['macro_f1']:.4f}"
        )
    logger.log_metrics(metrics, step=st.epoch)
    pause("train.test_logged")
    with scratch_dir() as out:
        plots.training_curves(st.history, out / "curves.png")
        if report is not None:
            title = f"Test confusion (best val epoch {st.best_epoch})"
            _write_evaluation(report, s.dataset.classes, out, title)
            if s.cfg.tsne:
                _tsne(s, images, labels_t.cpu().numpy(), out)
        logger.log_artifact(out, "evaluation")
    if s.cfg.log_checkpoints:
        for name in (checkpoint.BEST, checkpoint.LAST):
            logger.log_artifact(ckpt_dir / name, checkpoint.ARTIFACT_DIR)
    if s.cfg.log_model:
        example = (images[:4].float() / 255.0).cpu().numpy()
        logger.log_pytorch_model(s.model, example)
        pause("train.model_logged")
    return {**metrics, "per_class": report["per_class"] if report else []}
