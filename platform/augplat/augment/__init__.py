"""Augmentation: classic policies on batched tensors, and GAN augmentation (online or banked).

Public surface: :class:`ClassicAugment`, the named :data:`POLICIES` and :func:`load_policy`;
:class:`GanAugment` (replace samples by generated variants with probability p) and
:class:`ChainAugment` (GAN, then classic).
"""

from augplat.augment.classic import ClassicAugment
from augplat.augment.generative import ChainAugment, GanAugment
from augplat.augment.policy import POLICIES, load_policy

__all__ = ["POLICIES", "ChainAugment", "ClassicAugment", "GanAugment", "load_policy"]
