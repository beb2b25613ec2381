"""Offline quality of a generator: FID/KID in a classifier's feature space, label fidelity, CAS.

How to run::

    augplat gan eval <run-id>                           # default feature classifier
    augplat gan eval <run-id> --classifier <train-run>  # features of an `augplat train` model

No Inception weights can be downloaded, so distances are measured in the penultimate features of
a classifier trained on the same real data (metric names say so: ``fid_clf``, ``kid_clf``; the
judge lives in :mod:`augplat.quality.judge`, the distances in :mod:`augplat.quality.distances`).
What is judged is what the generator's quality roles make (:mod:`augplat.quality.synthetic`).

* ``fid_clf`` — Fréchet distance of Gaussian fits to real vs synthetic features (real = the val
  split of the target data; class mix matched). ``fid_clf_baseline``: the same distance between
  two real sets (train vs val; for style translation, source vs target domain) for scale.
* ``kid_clf`` — unbiased MMD² with the cubic polynomial kernel, averaged over subsets of
  :data:`KID_SUBSET` images; when a set is smaller the subsets are clipped to it, and the run
  says so (``kid_clf_subset_size``, a ``kid_note`` in ``quality.json`` and a warning): KID at
  different subset sizes is not comparable.
* ``label_fidelity`` — accuracy of the real-trained classifier on synthetic images for the labels
  they were made for (style translation: the source label, which it should keep). For a
  translation role only targets other than the source image's own class count (a same-class
  target is close to a copy). Each further quality role gets ``label_fidelity_<role>s``; StarGAN's
  ``label_fidelity_variations`` measures what its GAN augmentation uses: same-label variations
  at :data:`VARIATION_STRENGTH`.
* ``cas_val_acc`` — Classification Accuracy Score: a fresh SmallCNN trained on synthetic images
  only, tested on the real VAL split (never test). ``clf_val_acc`` is the real-trained reference.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import numpy as np
import torch

from augplat.quality.distances import KID_SUBSET, fid, kid, kid_subset_size, mmd2_polynomial
from augplat.quality.judge import (
    RECIPE,
    FeatureClassifier,
    SmallCNN,
    check_classifier_run,
    default_classifier,
    run_classifier,
    train_small_cnn,
)
from augplat.quality.synthetic import VARIATION_STRENGTH, judged_set, synthesize
from augplat.tracking import tags as tag

__all__ = [
    "KID_SUBSET",
    "RECIPE",
    "VARIATION_STRENGTH",
    "FeatureClassifier",
    "SmallCNN",
    "check_classifier_run",
    "default_classifier",
    "evaluate",
    "evaluate_and_log",
    "fid",
    "kid",
    "kid_subset_size",
    "mmd2_polynomial",
    "run_classifier",
    "synthesize",
    "train_small_cnn",
]

log = logging.getLogger("augplat")


def _u8(images: torch.Tensor) -> torch.Tensor:
    return (images * 255).round().to(torch.uint8)  # what a saved synthetic set holds


def _label_fidelity(method, syn, fake_logits, judge, data, n: int, seed: int):
    """``label_fidelity`` (+ one per further quality role) and the notes that qualify them."""
    metrics: dict[str, float] = {}
    notes: dict[str, str] = {}
    hits = fake_logits.argmax(1) == syn["labels"]
    if not syn["role"].keeps_label:
        moved = syn["labels"] != syn["sources"]  # a same-class target is near a copy: excluded
        metrics["label_fidelity"] = float(hits[moved].mean()) if moved.any() else math.nan
        notes["label_fidelity"] = (
            f"translations to another class only ({int(moved.sum())} of {len(moved)})"
        )
    else:
        metrics["label_fidelity"] = float(hits.mean())
    for role in method.roles.quality[1:]:
        fake, labels, note = judged_set(method, role, data, n, seed)
        _, logits = judge.run(_u8(fake))
        metrics[f"label_fidelity_{role.plural}"] = float((logits.argmax(1) == labels).mean())
        notes[f"label_fidelity_{role.plural}"] = note
    return metrics, notes


def _distances(syn, fake_feats, judge, seed: int) -> tuple[dict[str, float], dict[str, str]]:
    """FID and KID against the reference set, with the real-vs-real baseline for scale."""
    if syn["reference"] is None or len(syn["reference"]) <= 1:
        return {}, {}
    ref_feats, _ = judge.run(torch.from_numpy(syn["reference"]))
    base_feats, _ = judge.run(torch.from_numpy(np.asarray(syn["baseline"])))
    metrics = {
        "fid_clf": fid(ref_feats, fake_feats),
        "fid_clf_baseline": fid(ref_feats, base_feats),
    }
    metrics["kid_clf"], metrics["kid_clf_std"] = kid(
        ref_feats, fake_feats, subset_size=KID_SUBSET, seed=seed
    )
    size = kid_subset_size(len(ref_feats), len(fake_feats))
    metrics["kid_clf_subset_size"] = float(size)
    notes = {}
    if size < KID_SUBSET:
        notes["kid"] = (
            f"KID subsets clipped to {size} images (real {len(ref_feats)}, synthetic "
            f"{len(fake_feats)}, fewer than the subset size {KID_SUBSET}): not comparable "
            f"with KID at {KID_SUBSET}"
        )
        log.warning("quality: %s", notes["kid"])
    return metrics, notes


def evaluate(
    method,
    data,
    *,
    classifier: str | None = None,
    n_samples: int = 1000,
    seed: int = 0,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """All metrics for ``method`` on ``data``; returns metrics plus a ``details`` entry."""
    device = data.images.device
    judge = (
        run_classifier(classifier, data, device, tracking_uri)
        if classifier
        else default_classifier(data, device)
    )
    syn = synthesize(method, data, n_samples, seed)
    fake_u8 = _u8(syn["fake"])
    fake_feats, fake_logits = judge.run(fake_u8)
    val_x, val_y = data.val
    metrics: dict[str, float] = {}
    if len(val_y):
        _, val_logits = judge.run(torch.from_numpy(val_x))
        metrics["clf_val_acc"] = float((val_logits.argmax(1) == val_y).mean())
    fidelity, notes = _label_fidelity(method, syn, fake_logits, judge, data, n_samples, seed)
    distances, distance_notes = _distances(syn, fake_feats, judge, seed)
    metrics.update({**fidelity, **distances})
    notes.update(distance_notes)
    if len(val_y) and len(np.unique(syn["labels"])) > 1:
        cas_model = train_small_cnn(
            fake_u8, torch.from_numpy(syn["labels"]), len(data.spec.classes), device
        )
        cas = FeatureClassifier(cas_model, "cas", data.spec.channels)
        _, cas_logits = cas.run(torch.from_numpy(val_x))
        metrics["cas_val_acc"] = float((cas_logits.argmax(1) == val_y).mean())
    details = {"classifier": judge.description, "samples": n_samples, "seed": seed}
    details.update({f"{k}_note": v for k, v in notes.items()})
    details.update(synthetic=syn["what"], cas_tested_on="real val split (never test)")
    details["recipe"] = RECIPE
    return {**{k: v for k, v in metrics.items() if not math.isnan(v)}, "details": details}


def evaluate_and_log(method, data, logger, cfg, reporter=None) -> dict[str, float]:
    """Evaluate, log the metrics and ``evaluation/quality.json`` to the run; return metrics."""
    result = evaluate(
        method,
        data,
        classifier=cfg.classifier,
        n_samples=cfg.eval_samples,
        seed=cfg.seed,
        tracking_uri=logger.tracking_uri,
    )
    details = result.pop("details")
    source = data.spec.datasets.get("a", {})
    details["data"] = {"name": source.get("name"), "digest": source.get("digest")}
    logger.log_metrics(result)
    logger.set_tags(
        {
            tag.EVAL_CLASSIFIER: details["classifier"],
            # which dataset these metrics came from (`gan eval --data X` may differ from the run's)
            tag.EVAL_DATASET: str(source.get("name")),
            tag.EVAL_DATASET_DIGEST: str(source.get("digest")),
        }
    )
    logger.log_text(json.dumps({"metrics": result, **details}, indent=2), "evaluation/quality.json")
    if reporter is not None:
        reporter.message("quality: " + " ".join(f"{k}={v:.4g}" for k, v in result.items()))
    return result
