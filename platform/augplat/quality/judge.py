"""The judge: a classifier trained on real data whose logits and features score synthetic images.

:func:`default_classifier` trains :class:`SmallCNN` with one fixed :data:`RECIPE` on the real
train split and caches it in ``<home>/cache/gan-eval`` keyed by the data digest, so repeated
evaluations agree; :func:`run_classifier` uses an ``augplat train`` run's best checkpoint instead.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
from torch import nn

# 10 epochs, but at least 100 steps (tiny data) and at most 2000 (FER: ~4.5 epochs) so the judge
# is trained enough yet costs seconds on a GPU and minutes at most on a CPU; cached per digest.
RECIPE = dict(
    version=2, epochs=10, min_steps=100, max_steps=2000, lr=1e-3, batch_size=64, width=32, seed=0
)


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
    x_all = as_float(images).to(device)
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


def as_float(images) -> torch.Tensor:
    """uint8 images → [0, 1] floats; float images pass through as float32."""
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
            x = self._fit_input(as_float(images[start : start + batch_size]).to(self.device))
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
    from augplat.tracking import tags as tag

    store = tracking.connect(tracking_uri)
    run = store.get_run(run_id)
    if run is None:
        raise UserError(f"--classifier {run_id}: no such MLflow run")
    if not tracking.run_is_kind(run, tag.KIND_TRAIN):
        raise UserError(f"--classifier {run_id}: not an `augplat train` run")
    got = run.data.params.get("num_classes")
    if got != str(num_classes):
        raise UserError(f"--classifier {run_id}: has {got} classes, the GAN data {num_classes}")
    if not store.has_artifact(run_id, f"{checkpoint.ARTIFACT_DIR}/{checkpoint.BEST}"):
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
    from augplat.errors import UserError
    from augplat.runtime import checkpoints as checkpoint

    params = check_classifier_run(run_id, len(data.spec.classes), tracking_uri)
    best = f"{checkpoint.ARTIFACT_DIR}/{checkpoint.BEST}"
    with tracking.scratch_dir() as tmp:
        path = tracking.connect(tracking_uri).fetch_checkpoint(run_id, checkpoint.BEST, tmp)
        if path is None:
            raise UserError(f"--classifier {run_id}: cannot download {best}")
        ckpt = checkpoint.load(path)
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
