"""MLflow's pyfunc base class and ``set_model``, for models-from-code files in higher layers.

A models-from-code file (``mlflow.pyfunc.log_model(python_model=<path to a .py file>)``) is
executed by ``mlflow.pyfunc.load_model`` and registers its model with ``set_model``. augplat's
generator model lives in :mod:`augplat.generators.pyfunc_model` (it must load generators, which
this layer may not import) and takes MLflow's pieces from here, so ``mlflow`` is still imported
by ``augplat.tracking`` only.

Importing this module imports ``mlflow.pyfunc`` (slow): only model-code files import it.
"""

from __future__ import annotations

from mlflow.models import set_model
from mlflow.pyfunc import PythonModel, PythonModelContext

__all__ = ["PythonModel", "PythonModelContext", "set_model"]
