"""Hyper-parameter studies over training and augmentation settings (Optuna or Ray Tune).

Public surface: :func:`load_study_spec`, :class:`StudySpec`, :func:`run_study`,
:class:`StudyResult`.
"""

from augplat.study.runner import StudyResult, run_study
from augplat.study.spec import StudySpec, load_study_spec

__all__ = ["StudyResult", "StudySpec", "load_study_spec", "run_study"]
