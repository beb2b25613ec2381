"""Training losses: cross-entropy, optionally regularised by the contrastive-center loss.

How to use::

    loss_fn = build_loss(cfg, feature_dim=model.head.in_features, num_classes=10)
    if loss_fn.needs_features:            # the loop passes penultimate features too
        feats = model.embed(x); loss = loss_fn(model.head(feats), y, feats)
    else:
        loss = loss_fn(model(x), y)

Contrastive-center loss (Qi & Su, 2017) for a batch of features ``x_i`` with labels ``y_i`` and
learnable class centres ``c_j``::

    L_ct-c = 1/2 · mean_i  ||x_i − c_{y_i}||² / (Σ_{j≠y_i} ||x_i − c_j||² + δ)

It pulls a sample towards its own centre and pushes it away from the others; seed 000 reports it
left top-1 unchanged and raised top-5 by 0.5 point on its task. The centres are a module, so they
are trained by the run's optimizer and saved in its checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn


class ContrastiveCenterLoss(nn.Module):
    """The contrastive-center term alone (see the module docstring)."""

    def __init__(self, num_classes: int, feature_dim: int, delta: float = 1.0):
        super().__init__()
        if num_classes < 2:
            raise ValueError("contrastive-center loss needs at least two classes")
        self.delta = delta
        self.centers = nn.Parameter(torch.randn(num_classes, feature_dim) * 0.01)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        features = features.float()
        dist = torch.cdist(features, self.centers.float()).pow(2)  # N×K squared distances
        own = dist.gather(1, labels.view(-1, 1)).squeeze(1)
        others = dist.sum(1) - own
        return 0.5 * (own / (others + self.delta)).mean()


class TrainLoss(nn.Module):
    """Cross-entropy (with label smoothing) plus ``ccl_lambda`` × contrastive-center loss.

    Attributes:
        needs_features: True when the loop must pass penultimate features.
    """

    def __init__(
        self,
        label_smoothing: float = 0.0,
        ccl_lambda: float = 0.0,
        num_classes: int = 0,
        feature_dim: int = 0,
    ):
        super().__init__()
        self.ce = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.ccl_lambda = ccl_lambda
        self.ccl = ContrastiveCenterLoss(num_classes, feature_dim) if ccl_lambda > 0 else None
        self.needs_features = self.ccl is not None
        self._ccl_sum: torch.Tensor | None = None
        self._batches = 0

    def forward(
        self, logits: torch.Tensor, labels: torch.Tensor, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        loss = self.ce(logits, labels)
        if self.ccl is None:
            return loss
        if features is None:
            raise ValueError("contrastive-center loss needs the batch's penultimate features")
        term = self.ccl(features, labels)
        # Kept on device: reading it per batch would sync the GPU every step.
        detached = term.detach()
        self._ccl_sum = detached if self._ccl_sum is None else self._ccl_sum + detached
        self._batches += 1
        return loss + self.ccl_lambda * term

    def pop_stats(self) -> dict[str, float]:
        """Mean contrastive-center term since the last call (one epoch); empty without CCL."""
        if self.ccl is None:
            return {}
        mean = float(self._ccl_sum) / self._batches if self._batches else 0.0
        self._ccl_sum, self._batches = None, 0
        return {"train_ccl_loss": mean}


def build_loss(cfg, num_classes: int, feature_dim: int) -> TrainLoss:
    """The :class:`TrainLoss` of a :class:`~augplat.classify.config.TrainConfig`."""
    return TrainLoss(cfg.label_smoothing, cfg.ccl_lambda, num_classes, feature_dim)
