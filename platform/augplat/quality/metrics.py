"""Offline quality of a generator: FID/KID in a classifier's feature space, label fidelity, CAS.

How to run::

    augplat gan eval <run-id>                           # default feature classifier
    augplat gan eval <run-id> --classifier <train-run>  # features of an `augplat train` model

No Inception weights can be downloaded, so distances are measured in the penultimate features of
a classifier trained on the same real data (metric names say so: ``fid_clf``, ``kid_clf``). By
default that is :class:`SmallCNN`, trained with one fixed recipe on the real train split and
cached in ``<home>/cache/gan-eval`` keyed by the data digest, so repeated evaluations agree.

* ``fid_clf`` — Fréchet distance of Gaussian fits to real vs synthetic features (real = the val
  split of the target data; class mix matched). ``fid_clf_baseline``: the same distance between
  two real sets (train vs val; for translation, source vs target domain) for scale.
* ``kid_clf`` — unbiased MMD² with the cubic polynomial kernel, averaged over subsets of
  :data:`KID_SUBSET` images; when a set is smaller the subsets are clipped to it, and the run
  says so (``kid_clf_subset_size``, a ``kid_note`` in ``quality.json`` and a warning): KID at
  different subset sizes is not comparable.
* ``label_fidelity`` — accuracy of the real-trained classifier on synthetic images for the labels
  they were made for (translation: the source label, which style transfer should keep). For
  class-code translators (StarGAN) only targets other than the source image's own class count
  (a same-class target is close to a copy), and ``label_fidelity_variations`` measures what
  GAN augmentation uses: same-label ``variations`` at :data:`VARIATION_STRENGTH`.
* ``cas_val_acc`` — Classification Accuracy Score: a fresh SmallCNN trained on synthetic images
  only, tested on the real VAL split (never test). ``clf_val_acc`` is the real-trained reference.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from typing import Any

import numpy as np
import torch
from torch import nn

log = logging.getLogger("augplat")

# 10 epochs, but at least 100 steps (tiny data) and at most 2000 (FER: ~4.5 epochs) so the judge
# is trained enough yet costs seconds on a GPU and minutes at most on a CPU; cached per digest.
KID_SUBSET = 1000  # images per KID subset (Bińkowski et al.; torchmetrics' default)
VARIATION_STRENGTH = 0.3  # TrainConfig.gan_strength's default: what augmentation uses

RECIPE = dict(
    version=2, epochs=10, min_steps=100, max_steps=2000, lr=1e-3, batch_size=64, width=32, seed=0
)


# ---------------------------------------------------------------------- metrics ----


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance ``|mu1-mu2|² + Tr(S1 + S2 - 2 (S1 S2)^½)`` between Gaussian fits.

    The trace of ``(S1 S2)^½`` equals the sum of square roots of the eigenvalues of the symmetric
    PSD matrix ``S1^½ S2 S1^½``, which ``eigh`` computes stably even for singular covariances
    (fewer samples than feature dimensions), with no complex parts to discard.
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.atleast_2d(np.cov(real, rowvar=False)), np.atleast_2d(np.cov(fake, rowvar=False))
    vals, vecs = np.linalg.eigh(s1)
    root1 = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root1 @ s2 @ root1
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    value = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_root)
    return max(value, 0.0)


def mmd2_polynomial(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with ``k(a, b) = (a·b / d + 1)³`` (the KID kernel of Bińkowski et al.)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d, m, n = x.shape[1], len(x), len(y)
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2 * kxy.mean())


def kid_subset_size(n_real: int, n_fake: int, subset_size: int = KID_SUBSET) -> int:
    """Images per KID subset: ``subset_size``, clipped to the smaller set."""
    return min(subset_size, n_real, n_fake)


def kid(
    real: np.ndarray,
    fake: np.ndarray,
    subset_size: int = KID_SUBSET,
    subsets: int = 10,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance (here: in classifier features): mean and std over subsets.

    Subsets hold ``subset_size`` images, clipped to the smaller set
    (:func:`kid_subset_size`; callers report the clipping).
    """
    rng = np.random.default_rng(seed)
    m = kid_subset_size(len(real), len(fake), subset_size)
    if m < 2:
        return float("nan"), float("nan")
    pick = lambda a: a[rng.choice(len(a), m, replace=False)]  # noqa: E731
    values = [mmd2_polynomial(pick(real), pick(fake)) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


# ------------------------------------------------------------------ classifiers ----


class SmallCNN(nn.Module):
    """A 4-conv CNN for 8–64 px images: ``forward`` on [0, 1] pixels, ``embed`` = 4·width feats."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 32):
        super().__init__()

        def block(a: int, b: int) -> list[nn.Module]:
            return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]

        w = width
        self.features = nn.Sequential(
            *block(in_channels, w),
            *block(w, w),
            nn.MaxPool2d(2),
            *block(w, 2 * w),
            nn.MaxPool2d(2),
            *block(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(4 * w, num_classes)
        self.in_channels, self.num_classes = in_channels, num_classes

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features of raw [0, 1] input."""
        return self.features((x - 0.5) / 0.25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def train_small_cnn(
    images: torch.Tensor, labels: torch.Tensor, num_classes: int, device: torch.device
) -> SmallCNN:
    """Train :class:`SmallCNN` with the fixed :data:`RECIPE` (uint8 or [0, 1] images)."""
    from augplat.runtime.device import batch_indices

    torch.manual_seed(RECIPE["seed"])
    model = SmallCNN(images.shape[1], num_classes, RECIPE["width"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=RECIPE["lr"])
    x_all = _as_float(images).to(device)
    y_all = labels.long().to(device)
    model.train()
    bs = RECIPE["batch_size"]
    per_epoch = max(1, len(x_all) // bs + (1 if len(x_all) % bs > 1 else 0))
    total = min(max(RECIPE["epochs"] * per_epoch, RECIPE["min_steps"]), RECIPE["max_steps"])
    step, epoch = 0, 0
    while step < total:
        order = torch.Generator().manual_seed(RECIPE["seed"] * 1000 + epoch)
        for idx in batch_indices(len(x_all), bs, order):
            idx = idx.to(device)
            loss = nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step >= total:
                break
        epoch += 1
    return model.eval()


def _as_float(images) -> torch.Tensor:
    images = torch.as_tensor(images)
    return images.float() / 255 if images.dtype == torch.uint8 else images.float()


class FeatureClassifier:
    """A real-trained classifier used as judge: logits and features of [0, 1] images.

    Args:
        model: Module with ``forward``/``embed`` on [0, 1] input.
        description: What it is (recorded with the metrics).
        channels: Input channels the model wants (images are converted gray↔RGB).
        size: Input side the model wants (None: any).
    """

    def __init__(self, model: nn.Module, description: str, channels: int, size: int | None = None):
        self.model, self.description = model.eval(), description
        self.channels, self.size = channels, size
        self.device = next(model.parameters()).device

    def _fit_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.channels:
            x = x.repeat(1, 3, 1, 1) if self.channels == 3 else x.mean(1, keepdim=True)
        if self.size and tuple(x.shape[-2:]) != (self.size, self.size):
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear")
        return x

    @torch.no_grad()
    def run(self, images, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """``(features, logits)`` as float64 numpy."""
        feats, logits = [], []
        images = torch.as_tensor(images)
        for start in range(0, len(images), batch_size):
            x = self._fit_input(_as_float(images[start : start + batch_size]).to(self.device))
            f = self.model.embed(x)  # logits from the same features: one pass, not two
            out = self.model.head(f) if hasattr(self.model, "head") else self.model(x)
            feats.append(f.double().cpu())
            logits.append(out.double().cpu())
        return torch.cat(feats).numpy(), torch.cat(logits).numpy()


def _cache_key(data) -> str:
    spec = data.spec
    payload = json.dumps(
        [spec.datasets["a"]["digest"], list(spec.classes), spec.channels, spec.size, RECIPE],
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def default_classifier(data, device) -> FeatureClassifier:
    """SmallCNN on the real train split, trained once per data digest and cached."""
    from augplat.runtime import checkpoints as checkpoint
    from augplat.runtime.home import cache_dir

    key = _cache_key(data)
    path = cache_dir() / "gan-eval" / f"smallcnn-{key}.pt"
    k = len(data.spec.classes)
    model = SmallCNN(data.spec.channels, k, RECIPE["width"]).to(data.images.device)
    if path.is_file():
        model.load_state_dict(checkpoint.load(path)["model"])
    else:
        model = train_small_cnn(data.images, data.labels, k, data.images.device)
        checkpoint.save(path, {"model": model.state_dict(), "recipe": RECIPE})
    return FeatureClassifier(model, f"smallcnn:{key}", data.spec.channels)


def check_classifier_run(run_id: str, num_classes: int, tracking_uri: str | None = None) -> dict:
    """The params of a usable ``--classifier`` run; raises UserError before any GAN run exists."""
    from augplat import tracking
    from augplat.errors import UserError
    from augplat.runtime import checkpoints as checkpoint

    try:
        run = tracking.client(tracking_uri).get_run(run_id)
    except Exception:  # MlflowException for unknown ids
        raise UserError(f"--classifier {run_id}: no such MLflow run") from None
    if run.data.tags.get("augplat.kind") != "train":
        raise UserError(f"--classifier {run_id}: not an `augplat train` run")
    got = run.data.params.get("num_classes")
    if got != str(num_classes):
        raise UserError(f"--classifier {run_id}: has {got} classes, the GAN data {num_classes}")
    logger = tracking.RunLogger(tracking.client(tracking_uri), run_id)
    if not logger.has_artifact(f"{checkpoint.ARTIFACT_DIR}/{checkpoint.BEST}"):
        raise UserError(  # the logged model is a pickle: loading it could run any code
            f"--classifier {run_id}: the run has no {checkpoint.ARTIFACT_DIR}/{checkpoint.BEST} "
            "(only its checkpoint's weights are loaded); train one with checkpoints logged"
        )
    return run.data.params


def run_classifier(run_id: str, data, device, tracking_uri: str | None = None) -> FeatureClassifier:
    """An ``augplat train`` run's classifier as the judge (penultimate ``.embed`` features).

    The run's best checkpoint (weights only, never a pickle) is rebuilt with ``create_model``;
    a run without one is refused by :func:`check_classifier_run`.
    """
    from augplat import tracking
    from augplat.runtime import checkpoints as checkpoint

    params = check_classifier_run(run_id, len(data.spec.classes), tracking_uri)
    logger = tracking.RunLogger(tracking.client(tracking_uri), run_id)
    best = f"{checkpoint.ARTIFACT_DIR}/{checkpoint.BEST}"
    with tracking.scratch_dir() as tmp:
        ckpt = checkpoint.load(logger.download(best, tmp))
    model = _rebuild_classifier(ckpt, params)
    size = params.get("image_size", "None")  # the classifier's own input size, if it resized
    size = None if size in ("None", "") else int(size)
    return FeatureClassifier(model.to(device), f"run:{run_id}", model.in_channels, size)


def _rebuild_classifier(ckpt: dict, params: dict) -> nn.Module:
    from augplat.classify.backbones import create_model

    cfg, shape = ckpt["config"], json.loads(params["image_shape"])
    model = create_model(
        cfg["model"],
        num_classes=int(params["num_classes"]),
        in_channels=int(shape[0]),
        image_size=cfg.get("image_size") or int(shape[1]),
        stem=cfg.get("stem", "auto"),
        weights="none",
    )
    model.load_state_dict(ckpt["model"])
    return model


# ------------------------------------------------------------------- evaluation ----


def _resample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices into ``size`` items: a permutation prefix, with repeats only if needed."""
    return rng.permutation(size)[:n] if n <= size else rng.integers(0, size, n)


def synthesize(method, data, n: int, seed: int = 0) -> dict[str, Any]:
    """Synthetic images for the metrics, made the way the method is used.

    Returns a dict with ``fake`` ([0, 1] CPU tensor), ``labels`` (what each image should be),
    ``reference`` (real uint8 images to compare with), ``baseline`` (a second real set whose
    distance to ``reference`` gives scale) and ``what`` (a description).
    """
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    train_x, train_y = data.images.cpu(), data.labels.cpu().numpy()
    val_x, val_y = data.val
    kind = method.condition_kind
    if kind == "domain":  # style translation: A images → B, labels must survive
        src = _resample(n, len(train_x), rng)
        fake = method.translate(_as_float(train_x[src]), generator=gen)
        reference = data.val_b if data.val_b is not None else None
        return {
            "fake": fake,
            "labels": train_y[src],
            "sources": train_y[src],
            "reference": reference,
            "baseline": val_x,
            "what": "translated train images vs real target-domain val",
        }
    # Class mix of the real val split, so FID compares like with like.
    labels = (
        val_y[_resample(n, len(val_y), rng)]
        if len(val_y)
        else rng.integers(0, len(data.spec.classes), n)
    )
    sources = None
    if kind == "noise":
        fake = method.generate(n, torch.from_numpy(labels), generator=gen)
        what = "generated images vs real val"
    else:
        src = _resample(n, len(train_x), rng)
        sources = train_y[src]
        fake = method.translate(_as_float(train_x[src]), torch.from_numpy(labels), generator=gen)
        what = "train images moved to val-distributed target classes vs real val"
    baseline = train_x[_resample(min(n, len(train_x)), len(train_x), rng)].numpy()
    out = {"fake": fake, "labels": labels, "reference": val_x, "baseline": baseline, "what": what}
    if sources is not None:
        out["sources"] = sources
    return out


def _variations(method, data, n: int, seed: int, strength: float):
    """Same-label variations of ``n`` train images (what GAN augmentation feeds a classifier)."""
    rng = np.random.default_rng(seed + 1)
    gen = torch.Generator().manual_seed(seed + 1)
    train_x, train_y = data.images.cpu(), data.labels.cpu().numpy()
    src = _resample(n, len(train_x), rng)
    fake = method.variations(_as_float(train_x[src]), train_y[src], strength, generator=gen)
    return fake, train_y[src]


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
    fake_u8 = (syn["fake"] * 255).round().to(torch.uint8)  # what a saved synthetic set holds
    fake_feats, fake_logits = judge.run(fake_u8)
    val_x, val_y = data.val
    metrics: dict[str, float] = {}
    if len(val_y):
        _, val_logits = judge.run(torch.from_numpy(val_x))
        metrics["clf_val_acc"] = float((val_logits.argmax(1) == val_y).mean())
    hits = fake_logits.argmax(1) == syn["labels"]
    notes: dict[str, Any] = {}
    if method.condition_kind == "class-code" and "sources" in syn:
        moved = syn["labels"] != syn["sources"]  # a same-class target is near a copy: excluded
        metrics["label_fidelity"] = float(hits[moved].mean()) if moved.any() else math.nan
        notes["label_fidelity"] = (
            f"translations to another class only ({int(moved.sum())} of {len(moved)})"
        )
        if "variations" in getattr(method, "capabilities", ()):
            var, var_labels = _variations(method, data, n_samples, seed, VARIATION_STRENGTH)
            _, var_logits = judge.run((var * 255).round().to(torch.uint8))
            metrics["label_fidelity_variations"] = float(
                (var_logits.argmax(1) == var_labels).mean()
            )
            notes["label_fidelity_variations"] = (
                f"same-label variations at strength {VARIATION_STRENGTH} (GAN augmentation)"
            )
    else:
        metrics["label_fidelity"] = float(hits.mean())
    if syn["reference"] is not None and len(syn["reference"]) > 1:
        ref_feats, _ = judge.run(torch.from_numpy(syn["reference"]))
        base_feats, _ = judge.run(torch.from_numpy(np.asarray(syn["baseline"])))
        metrics["fid_clf"] = fid(ref_feats, fake_feats)
        metrics["fid_clf_baseline"] = fid(ref_feats, base_feats)
        metrics["kid_clf"], metrics["kid_clf_std"] = kid(
            ref_feats, fake_feats, subset_size=KID_SUBSET, seed=seed
        )
        size = kid_subset_size(len(ref_feats), len(fake_feats))
        metrics["kid_clf_subset_size"] = float(size)
        if size < KID_SUBSET:
            notes["kid"] = (
                f"KID subsets clipped to {size} images (real {len(ref_feats)}, synthetic "
                f"{len(fake_feats)}, fewer than the subset size {KID_SUBSET}): not comparable "
                f"with KID at {KID_SUBSET}"
            )
            log.warning("quality: %s", notes["kid"])
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
        tracking_uri=logger.client.tracking_uri,
    )
    details = result.pop("details")
    source = data.spec.datasets.get("a", {})
    details["data"] = {"name": source.get("name"), "digest": source.get("digest")}
    logger.log_metrics(result)
    logger.set_tags(
        {
            "augplat.eval_classifier": details["classifier"],
            # which dataset these metrics came from (`gan eval --data X` may differ from the run's)
            "augplat.eval_dataset": str(source.get("name")),
            "augplat.eval_dataset_digest": str(source.get("digest")),
        }
    )
    logger.log_text(json.dumps({"metrics": result, **details}, indent=2), "evaluation/quality.json")
    if reporter is not None:
        reporter.message("quality: " + " ".join(f"{k}={v:.4g}" for k, v in result.items()))
    return result
