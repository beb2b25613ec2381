"""GAN methods behind one contract: train, load by run id, translate / vary / generate.

Public surface:

* :class:`GanMethod` (the documented contract; alias :class:`Generator`), :class:`GanSpec`,
  :data:`GAN_METHODS`; :class:`Role` / :class:`Roles` (what a method makes for each consumer);
* :class:`GanConfig` and :func:`train_gan` (one tracked, resumable training run);
* :func:`load_generator` (a run's generator), :func:`find_finished_run` (reuse a finished run);
* :func:`import_translator` (a TorchScript image-to-image model as a generator run);

Importing this package imports torch; the CLI imports it lazily.
"""

from augplat.generators.base import GanMethod, Generator
from augplat.generators.config import GanConfig
from augplat.generators.imported import import_translator
from augplat.generators.lookup import find_finished_run, load_generator
from augplat.generators.registry import GAN_METHODS, load_builtin_methods, trainable_methods
from augplat.generators.roles import Role, Roles
from augplat.generators.spec import GanSpec
from augplat.generators.train import GanTrainResult, train_gan

load_builtin_methods()

__all__ = [
    "GAN_METHODS",
    "GanConfig",
    "GanMethod",
    "GanSpec",
    "GanTrainResult",
    "Generator",
    "Role",
    "Roles",
    "find_finished_run",
    "import_translator",
    "load_generator",
    "train_gan",
    "trainable_methods",
]
