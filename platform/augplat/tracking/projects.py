"""MLflow Projects: run one entry point (locally, synchronous; on Kubernetes, submitted)."""

from __future__ import annotations

from typing import Any


class ProjectRunError(Exception):
    """MLflow refused or failed the project run; ``message`` is MLflow's own text."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def run_project(uri: str, **kwargs: Any):
    """``mlflow.projects.run(uri, **kwargs)``; its errors become :class:`ProjectRunError`."""
    import mlflow.projects
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.projects.run(uri, **kwargs)
    except MlflowException as exc:
        raise ProjectRunError(str(exc.message)) from None
