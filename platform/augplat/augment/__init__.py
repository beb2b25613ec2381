"""Augmentation: classic policies on batched tensors (GAN augmentation joins later).

Public surface: :class:`ClassicAugment`, the named :data:`POLICIES` and :func:`load_policy`.
"""

from augplat.augment.classic import ClassicAugment
from augplat.augment.policy import POLICIES, load_policy

__all__ = ["POLICIES", "ClassicAugment", "load_policy"]
