"""Generator quality in classifier space: FID/KID, label fidelity, CAS (:mod:`.metrics`).

Public surface: :func:`evaluate` (a loaded generator against a dataset) and :func:`evaluate_run`
(``augplat gan eval``: a run's generator, metrics logged to the run).
"""

from augplat.quality.metrics import evaluate
from augplat.quality.run import evaluate_run, train_generator

__all__ = ["evaluate", "evaluate_run", "train_generator"]
