"""What a generator was trained on (:class:`GanSpec`) and one training batch (:class:`Batch`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class GanSpec:
    """What a generator was trained on: enough to rebuild its networks without the data.

    Attributes:
        channels: Image channels (1 or 3).
        size: Image side in pixels (square).
        classes: Condition classes (stargan, cgan) or the source domain's classes (cyclegan).
        domains: ``(A, B)`` dataset names for domain translation; empty otherwise.
        datasets: ``{role: {"name", "digest"}}`` of the training data.
    """

    channels: int
    size: int
    classes: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    datasets: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GanSpec:
        """Inverse of ``dataclasses.asdict``."""
        classes, domains = tuple(data.get("classes", ())), tuple(data.get("domains", ()))
        datasets = dict(data.get("datasets", {}))
        return cls(int(data["channels"]), int(data["size"]), classes, domains, datasets)


@dataclass
class Batch:
    """One training batch on the method's device, images in [-1, 1]."""

    images: torch.Tensor
    labels: torch.Tensor
    images_b: torch.Tensor | None = None
