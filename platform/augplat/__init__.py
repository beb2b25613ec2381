"""augplat: does GAN augmentation make an image classifier better, and with which settings?

The package is split by concept (see DESIGN.md): ``data`` (readers and the canonical dataset),
``augment`` (classic and generative augmentation), ``classify`` (backbones, training, evaluation),
``tracking`` (the only MLflow boundary), ``plots`` and ``cli``. Importing ``augplat`` is cheap on
purpose: torch, mlflow and friends are imported inside the functions that need them.
"""

__version__ = "0.1.0"
