"""Classification: backbone registry, models and evaluation metrics.

Public surface: :func:`create_model`, :data:`BACKBONES`, :class:`Classifier` and
:func:`classification_report`.
"""

from augplat.classify.backbones import BACKBONES, Classifier, create_model
from augplat.classify.metrics import classification_report

__all__ = ["BACKBONES", "Classifier", "classification_report", "create_model"]
