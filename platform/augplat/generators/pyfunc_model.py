"""The MLflow models-from-code file of every augplat generator model.

``mlflow.pyfunc.load_model`` executes this file (a copy logged with each model) and takes the
model registered by ``set_model`` below; augplat itself never imports it. Loading and serving
live in :mod:`augplat.generators.serving`; MLflow's base class comes through
:mod:`augplat.tracking.pyfunc` (only the tracking layer imports MLflow).
"""

from __future__ import annotations

from augplat.generators import serving
from augplat.tracking.pyfunc import PythonModel, set_model


class GeneratorModel(PythonModel):
    """A saved generator (``artifacts["generator"]``) serving its roles through ``predict``."""

    # Inputs are checked by the logged tensor signature; MLflow's type-hint validation (and its
    # "add type hints" warning at every load) has nothing to add.
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        """Load the generator (``model_config={"device": "cuda"}`` at load time moves it)."""
        artifacts = context.artifacts
        self.method = serving.load(
            artifacts[serving.ARTIFACT], artifacts.get("settings"), context.model_config
        )

    def predict(self, context, model_input, params=None):
        """Images out for ``model_input`` (``images``, ``labels``) and ``params["role"]``."""
        return serving.predict(self.method, model_input, params)


set_model(GeneratorModel())
