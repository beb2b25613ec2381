"""Pretrained image-to-image translators as plug-ins: a TorchScript file becomes a generator.

How to run::

    augplat gan import cartoongan_hayao.pt --name hayao --channels 3 --range -1,1
    augplat gan sample <run-id> --data fer          # translate FER faces with it

Seed 000 turned FER2013 into cartoons with a pretrained CartoonGAN. Any such model exported with
``torch.jit.script``/``torch.jit.trace`` (CartoonGAN, AnimeGAN ports, ...) can be imported: the file
is validated (it loads, and maps an ``N×C×H×W`` float batch to the same shape), copied into a new
MLflow run tagged like a trained generator (``augplat.gan_method=imported``), and from then on
``load_generator(run_id)`` returns an :class:`ImportedTranslator` whose ``translate`` works like
CycleGAN's A→B. Grayscale inputs are replicated to RGB for an RGB model and converted back.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from augplat.errors import DataError, UserError
from augplat.generators.base import META_FILE, GanMethod
from augplat.generators.config import GanConfig
from augplat.generators.registry import GAN_METHODS
from augplat.generators.roles import STYLE_TRANSLATOR
from augplat.generators.spec import GanSpec
from augplat.runtime.fsutil import file_sha256
from augplat.tracking import tags as tag

MODEL_FILE = "model.pt"
RANGES = ("0,1", "-1,1")


def _first_sentence(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].split(". ")[0][:200] if text else type(exc).__name__


def _load_script(path: Path) -> torch.jit.ScriptModule:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():  # TorchScript's deprecation notice is not the user's error
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # torch raises RuntimeError/ValueError/... for non-TorchScript files
        raise DataError(f"{path}: not a TorchScript model ({_first_sentence(exc)})") from None


def validate_translator(
    path: str | Path, channels: int = 3, size: int = 32
) -> torch.jit.ScriptModule:
    """Load a TorchScript file and check it maps a ``2×C×S×S`` float batch to the same shape.

    Raises:
        DataError: Missing file, not TorchScript, fails on the probe batch, or wrong output.
    """
    path = Path(path).expanduser()
    module = _load_script(path)
    probe = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(0))
    want = f"a 2×{channels}×{size}×{size} float tensor"
    try:
        with torch.no_grad():
            out = module(probe)
    except Exception as exc:
        raise DataError(
            f"{path}: fails on {want} ({_first_sentence(exc)}); check --channels/--size"
        ) from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(probe.shape):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise DataError(f"{path}: must map {want} to the same shape, got {got}")
    if not out.is_floating_point() or not torch.isfinite(out).all():
        raise DataError(f"{path}: output on {want} is not finite floats")
    return module


@GAN_METHODS.register("imported")
class ImportedTranslator(GanMethod):
    """A TorchScript image-to-image model behind the ``GanMethod`` API (not trainable).

    Args:
        cfg: Placeholder config (method ``imported``).
        spec: Channels and probe size the model was validated with.
        device: Where the model runs.
        module: The loaded TorchScript module.
        value_range: ``"0,1"`` or ``"-1,1"``: the pixel range the model expects and returns.
    """

    name = "imported"
    trainable = False
    condition_kind = "domain"
    roles = STYLE_TRANSLATOR

    def __init__(self, cfg, spec, device="cpu", module=None, value_range: str = "0,1"):
        if module is None:
            raise UserError("an imported generator needs its TorchScript module")
        self._module, self.value_range = module, value_range
        super().__init__(cfg, spec, device)

    def build_generators(self):
        return {"model": self._module}

    @property
    def fixed_shape(self) -> None:
        """None: fully convolutional, any size, 1 or 3 channels (converted)."""
        return None

    def _check_images(self, images: torch.Tensor) -> None:
        # Translators are fully convolutional: any size, 1 or 3 channels (converted below).
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise UserError(f"images must be N×C×H×W with C in (1, 3), got {tuple(images.shape)}")

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] batch with any channel count → model → [-1, 1] with the input's channels."""
        in_c, model_c = x.shape[1], self.spec.channels
        if in_c == 1 and model_c == 3:
            x = x.repeat(1, 3, 1, 1)
        elif in_c == 3 and model_c == 1:
            x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(
                1, keepdim=True
            )
        y = self.g("model")(x if self.value_range == "-1,1" else (x + 1) / 2).float()
        y = y if self.value_range == "-1,1" else y * 2 - 1
        if in_c == 1 and model_c == 3:
            y = (y * torch.tensor([0.299, 0.587, 0.114], device=y.device).view(1, 3, 1, 1)).sum(
                1, keepdim=True
            )
        elif in_c == 3 and model_c == 1:
            y = y.repeat(1, 3, 1, 1)
        return y.clamp(-1, 1)

    def _translate_batch(self, x, cond):
        return self._run(x)

    def _variations_batch(self, x, labels, strength, generator):
        return torch.lerp(x, self._run(x), strength)

    def preview(self, images, labels, images_b, generator, columns: int = 8):
        """Two rows: ``columns`` inputs and their translations."""
        x = images[:columns]
        return torch.cat([x, self.translate(x, generator=generator)]), len(x)

    def _conditions(self, labels, n: int) -> torch.Tensor:
        raise UserError(
            "an imported translator has one direction: call translate(images) without targets"
        )

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "value_range": self.value_range, "model_file": MODEL_FILE}

    def save(self, directory: str | Path) -> Path:
        """Write ``model.pt`` (TorchScript) and ``gan.json``."""
        from augplat.runtime.fsutil import atomic_path, write_text

        directory = Path(directory)
        with atomic_path(directory / MODEL_FILE) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(self._module, str(tmp))
        write_text(directory / META_FILE, json.dumps(self.metadata(), indent=2))
        return directory

    @classmethod
    def from_saved(cls, directory: Path, meta: dict[str, Any], device) -> ImportedTranslator:
        module = _load_script(directory / meta.get("model_file", MODEL_FILE)).to(device)
        cfg = GanConfig.model_validate(meta["config"])
        spec = GanSpec.from_json(meta["spec"])
        return cls(cfg, spec, device, module=module, value_range=meta.get("value_range", "0,1"))


def import_translator(
    path: str | Path,
    name: str,
    *,
    channels: int = 3,
    size: int = 32,
    value_range: str = "0,1",
    experiment: str = "augplat",
    tracking_uri: str | None = None,
) -> str:
    """Validate a TorchScript translator and register it as a generator run; returns the run id.

    Raises:
        DataError: The file is missing, not TorchScript, or does not map a batch to its shape.
        ConfigError: Bad channels or value range.
    """
    from augplat import tracking
    from augplat.errors import ConfigError
    from augplat.generators import serving

    if channels not in (1, 3):
        raise ConfigError(f"--channels must be 1 or 3, got {channels}")
    if value_range not in RANGES:
        raise ConfigError(f"--range must be one of {', '.join(RANGES)}, got {value_range!r}")
    path = Path(path).expanduser().resolve()
    module = validate_translator(path, channels, size)
    tracking.check_reachable(tracking.resolve_tracking_uri(tracking_uri))
    sha = file_sha256(path)
    cfg = GanConfig(method="imported", data="", eval=False)
    spec = GanSpec(channels=channels, size=size, classes=(), domains=("input", name))
    method = ImportedTranslator(cfg, spec, "cpu", module=module, value_range=value_range)
    tags = {
        tag.KIND: tag.KIND_GAN,
        tag.GAN_METHOD: "imported",
        tag.GAN_NAME: name,
        tag.GAN_FINGERPRINT: sha[:16],
        tag.GAN_COMPLETE: "true",
        tag.CONDITION_KIND: "domain",
    }
    logger = tracking.start_run(experiment, name, tags=tags, tracking_uri=tracking_uri)
    with logger.closing():
        logger.log_params(
            {
                "method": "imported",
                "name": name,
                "source_file": str(path),
                "sha256": sha,
                "channels": channels,
                "probe_size": size,
                "value_range": value_range,
            }
        )
        with tracking.scratch_dir() as tmp:
            method.save(tmp / "generator")
            logger.log_artifact(tmp / "generator", "generator")
            serving.log_model(logger, method, tmp / "generator")
    return logger.run_id
