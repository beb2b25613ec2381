"""The ``GanMethod`` contract every generator in augplat follows (trained or imported).

How to use a generator (any method)::

    from augplat.generators import load_generator
    gan = load_generator(run_id, device="cuda")
    gan.roles                          # Roles(augment=Role.VARIATION, expand=..., ...)
    x = gan.augment_batch(images, labels, 0.3, generator=g)     # if gan.roles.augment
    x = gan.expand_batch(sources, targets, generator=g)         # if gan.roles.expand
    x = gan.test_view(images)                                   # if gan.roles.test_time
    x = gan.make(Role.VARIATION, images, labels, generator=g)   # any offered role
    out = gan.translate(images, target_labels, generator=g)     # the calls behind the roles
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from augplat.errors import UserError
from augplat.generators.config import GanConfig
from augplat.generators.ema import EMA
from augplat.generators.roles import RolePlayer, Roles
from augplat.generators.spec import Batch, GanSpec
from augplat.runtime.fsutil import atomic_path, write_text

FORMAT_VERSION = 1
META_FILE, WEIGHTS_FILE = "gan.json", "weights.pt"


class GanMethod(RolePlayer):
    """Base class and contract of a GAN method.

    **Ownership.** The method owns its networks, optimisers and its whole optimisation step
    (:meth:`train_step`: discriminator and generator updates, critic ratio, pools, augmentation).
    The training loop (:mod:`augplat.generators.train`) only batches data, sets the learning
    rate per epoch (:meth:`set_lr`), checkpoints :meth:`training_state`, and logs what the step
    returns.
    Randomness inside a step comes only from the ``generator`` passed in, which the loop derives
    from ``(seed, step)``, so a resumed run repeats an uninterrupted one exactly.

    **Generation API.** Inputs and outputs are float tensors in [0, 1], ``N×C×H×W`` with the
    generator's ``spec.channels`` and ``spec.size``; work is batched (``batch_size``) on the
    method's device; outputs of ``translate``/``variations`` come back on the input's device,
    ``generate``'s on the method's device. Randomness comes from an explicit CPU
    ``torch.Generator`` (default: seeded 0, so calls are repeatable). Generation runs the
    networks in eval mode with EMA weights when ``ema`` was enabled.

    * ``translate(images, target_labels)`` — map images to a condition. Class-code methods take
      int labels ``(N,)`` or continuous conditions ``(N, K)`` (one-hots, or convex mixes for a
      point between classes); domain methods take ``None`` (A → B) or domain indices
      ``(N,)`` (0 = A, 1 = B) where they translate both ways.
    * ``variations(images, labels, strength)`` — same-label variations for augmentation.
    * ``generate(n, labels)`` — new images from noise (noise methods only).

    A method that cannot do one of these raises :class:`UserError` naming what it can do.
    :attr:`condition_semantics` says what conditions mean.

    **Roles.** :attr:`roles` (one :class:`~augplat.generators.roles.Roles` per method) says what
    the method makes for each consumer; consumers call :meth:`augment_batch`,
    :meth:`expand_batch`, :meth:`test_view` or :meth:`make` and never inspect kinds.
    :attr:`capabilities` (the calls above) follow from the roles.

    **Persistence.** :meth:`save` writes ``gan.json`` (method, config, spec, condition semantics)
    and ``weights.pt`` (generator weights only: EMA weights when enabled); :meth:`load` rebuilds
    the method from them alone. Checkpoints (:meth:`training_state`) hold everything else.

    Subclasses set the class attributes (``roles`` above all), register with
    ``@GAN_METHODS.register(name)``, and implement :meth:`build_generators`,
    :meth:`build_training`, :meth:`train_step`, :meth:`preview` and the ``_*_batch`` methods
    their roles call.
    """

    name: ClassVar[str] = ""
    trainable: ClassVar[bool] = True
    condition_kind: ClassVar[str] = "class-code"  # "class-code" | "domain" | "noise"
    roles: ClassVar[Roles] = Roles()
    capabilities: ClassVar[frozenset[str]] = frozenset()  # derived from ``roles``
    defaults: ClassVar[dict[str, Any]] = {}
    # The options model of the keys only this method reads (augplat.generators.options).
    options: ClassVar[type | None] = None
    needs_domain_b: ClassVar[bool] = False
    min_classes: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "roles" in cls.__dict__:  # declared here: check it once, derive the capabilities
            cls.roles.check(cls.name or cls.__name__)
            cls.capabilities = cls.roles.calls

    def __init__(self, cfg: GanConfig, spec: GanSpec, device: str | torch.device = "cpu"):
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        self.generators: dict[str, nn.Module] = {
            k: m.to(self.device) for k, m in self.build_generators().items()
        }
        self.discriminators: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.ema: dict[str, EMA] = {}

    # ------------------------------------------------------------------ subclass hooks ----

    def build_generators(self) -> dict[str, nn.Module]:
        """The networks generation needs, by name (saved by :meth:`save`)."""
        raise NotImplementedError

    def build_training(self) -> None:
        """Create discriminators, optimisers and helpers (pools, ADA) for training."""
        raise NotImplementedError

    def train_step(self, batch: Batch, step: int, generator: torch.Generator) -> dict[str, Any]:
        """One optimisation step; returns scalar losses (tensors, not synced) by name."""
        raise NotImplementedError

    def preview(self, images, labels, images_b, generator, columns: int = 8):
        """A sample grid from fixed inputs: ``(images in [0, 1], images per row)``.

        Args:
            images: Source images in [0, 1] (translation methods show ``columns`` of them).
            labels: Their labels.
            images_b: Domain-B images (cyclegan), else None.
            generator: CPU generator for noise.
            columns: Images per row / how many inputs to show.
        """
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """Training state beyond networks and optimisers (pools, ADA); tensors and numbers."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`extra_state`."""

    def extra_metrics(self) -> dict[str, float]:
        """Values worth logging besides losses (e.g. the ADA probability)."""
        return {}

    # -------------------------------------------------------------------- training ----

    def prepare_training(self) -> None:
        """Build everything training needs on top of the generators (and the EMA shadows)."""
        self.build_training()
        for module in [*self.generators.values(), *self.discriminators.values()]:
            module.to(self.device).train()
        if self.cfg.ema > 0:
            self.ema = {k: EMA(m, self.cfg.ema) for k, m in self.generators.items()}

    def adam(self, modules: list[nn.Module], lr: float) -> torch.optim.Adam:
        """Adam with the configured betas over the parameters of ``modules``."""
        params = [p for m in modules for p in m.parameters()]
        return torch.optim.Adam(params, lr=lr, betas=(self.cfg.beta1, self.cfg.beta2))

    def set_lr(self, factor: float) -> dict[str, float]:
        """Set every optimiser to its base rate × ``factor``; returns the rates by optimiser."""
        rates = {}
        for key, opt in self.optimizers.items():
            base = self.cfg.lr_d if key.startswith("d") else self.cfg.lr
            for group in opt.param_groups:
                group["lr"] = base * factor
            rates[f"lr_{key}"] = base * factor
        return rates

    def update_ema(self, step: int) -> None:
        """Called by subclasses after each generator update."""
        for key, shadow in self.ema.items():
            shadow.update(self.generators[key], step)

    def autocast(self):
        """bf16 autocast on CUDA when ``amp`` is on; no-op elsewhere."""
        if self.cfg.amp and self.device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def training_state(self) -> dict[str, Any]:
        """Everything a checkpoint needs to continue training bit for bit."""
        return {
            "generators": {k: m.state_dict() for k, m in self.generators.items()},
            "discriminators": {k: m.state_dict() for k, m in self.discriminators.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "ema": {k: e.state_dict() for k, e in self.ema.items()},
            "extra": self.extra_state(),
        }

    def load_training_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`training_state` (after :meth:`prepare_training`)."""
        for group, modules in (
            ("generators", self.generators),
            ("discriminators", self.discriminators),
        ):
            for key, module in modules.items():
                module.load_state_dict(state[group][key])
        for key, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][key])
        for key, shadow in self.ema.items():
            shadow.load_state_dict(state["ema"][key])
        self.load_extra_state(state.get("extra", {}))

    # ------------------------------------------------------------------ generation ----

    @property
    def condition_semantics(self) -> dict[str, Any]:
        """What a condition means: ``kind`` (class-code / domain / noise) and ``classes``."""
        semantics: dict[str, Any] = {
            "kind": self.condition_kind,
            "classes": list(self.spec.classes),
        }
        if self.spec.domains:
            semantics["domains"] = list(self.spec.domains)
        if self.condition_kind == "class-code":
            semantics["continuous"] = True  # one-hots or convex mixes of them
        return semantics

    def g(self, key: str) -> nn.Module:
        """The generator network used for generation: its EMA shadow when enabled."""
        return self.ema[key].shadow if key in self.ema else self.generators[key]

    def translate(self, images, target_labels=None, *, generator=None, batch_size: int = 256):
        """Map [0, 1] images to ``target_labels`` (see the class docstring)."""
        self._require("translate")
        if target_labels is None and self.condition_kind == "class-code":
            raise UserError(f"{self.name} translates to classes: pass target_labels")
        targets = (
            self._conditions(target_labels, len(images)) if target_labels is not None else None
        )
        return self._map(
            images, targets, lambda x, t, g: self._translate_batch(x, t), generator, batch_size
        )

    def variations(self, images, labels, strength: float = 0.3, *, generator=None, batch_size=256):
        """Same-label variations of [0, 1] images; ``strength`` in [0, 1] scales the change."""
        self._require("variations")
        if not 0.0 <= strength <= 1.0:
            raise UserError(f"variation strength must be in [0, 1], got {strength}")
        labels = torch.as_tensor(labels, dtype=torch.long)
        fn = lambda x, y, g: self._variations_batch(x, y, strength, g)  # noqa: E731
        return self._map(images, labels, fn, generator, batch_size)

    @torch.no_grad()
    def generate(self, n: int, labels=None, *, generator=None, batch_size: int = 256):
        """``n`` new [0, 1] images of ``labels``: ints ``(n,)``, ``(n, K)`` mixes, None: uniform."""
        self._require("generate")
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        if labels is None:
            labels = torch.randint(0, max(1, len(self.spec.classes)), (n,), generator=generator)
        conds = self._conditions(labels, n)
        out = []
        with self._eval():
            for start in range(0, n, batch_size):
                c = conds[start : start + batch_size].to(self.device)
                out.append(self._generate_batch(c, generator).float().add(1).div(2).clamp(0, 1))
        empty = torch.zeros(0, self.spec.channels, self.spec.size, self.spec.size)
        return torch.cat(out) if out else empty

    # ------------------------------------------------------- fitting a dataset ----

    @property
    def fixed_shape(self) -> tuple[int, int, int] | None:
        """``(C, H, W)`` of the images it takes and makes; None: any (fully convolutional)."""
        return (self.spec.channels, self.spec.size, self.spec.size)

    @property
    def label_classes(self) -> list[str] | None:
        """The classes its labels index (a dataset must match); None when labels pass through."""
        return None if self.condition_kind == "domain" else list(self.spec.classes)

    def _translate_batch(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _variations_batch(self, x, labels, strength, generator) -> torch.Tensor:
        raise NotImplementedError

    def _generate_batch(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def _require(self, what: str) -> None:
        if what not in self.capabilities:
            can = ", ".join(sorted(self.capabilities)) or "nothing"
            raise UserError(f"GAN method '{self.name}' cannot {what} (it can: {can})")

    def _conditions(self, labels, n: int) -> torch.Tensor:
        """int labels ``(n,)`` → one-hots; float ``(n, K)`` conditions pass through."""
        k = max(1, len(self.spec.classes))
        labels = torch.as_tensor(labels)
        if labels.dim() == 2 and labels.is_floating_point():
            if tuple(labels.shape) != (n, k):
                raise UserError(f"conditions must have shape ({n}, {k}), got {tuple(labels.shape)}")
            return labels.float().cpu()
        labels = labels.long().cpu().flatten()
        if len(labels) != n or (n and (labels.min() < 0 or labels.max() >= k)):
            raise UserError(f"need {n} labels in [0, {k}), got {labels.tolist()[:8]}...")
        return torch.nn.functional.one_hot(labels, k).float()

    @torch.no_grad()
    def _map(self, images, extra, fn: Callable, generator, batch_size: int) -> torch.Tensor:
        """Apply ``fn(x in [-1, 1], extra chunk, generator)`` in batches; back to [0, 1]."""
        images = torch.as_tensor(images)
        self._check_images(images)
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        out = []
        with self._eval():
            for start in range(0, len(images), batch_size):
                x = images[start : start + batch_size].to(self.device).float() * 2 - 1
                e = extra[start : start + batch_size].to(self.device) if extra is not None else None
                out.append(fn(x, e, generator).float().add(1).div(2).clamp(0, 1).to(images.device))
        return torch.cat(out) if out else images.float().clone()

    def _check_images(self, images: torch.Tensor) -> None:
        c, s = self.spec.channels, self.spec.size
        if images.dim() != 4 or tuple(images.shape[1:]) != (c, s, s):
            got = tuple(images.shape)
            raise UserError(f"{self.name} generator takes N×{c}×{s}×{s} images, got {got}")

    @contextlib.contextmanager
    def _eval(self) -> Iterator[None]:
        modules = [self.g(k) for k in self.generators]
        modes = [m.training for m in modules]
        for m in modules:
            m.eval()
        try:
            with torch.no_grad(), self.autocast():
                yield
        finally:
            for m, mode in zip(modules, modes, strict=True):
                m.train(mode)

    def to(self, device: str | torch.device) -> GanMethod:
        """Move every network (and EMA shadow) to ``device``; returns self."""
        self.device = torch.device(device)
        for m in [*self.generators.values(), *self.discriminators.values()]:
            m.to(self.device)
        for shadow in self.ema.values():
            shadow.shadow.to(self.device)
        return self

    # ----------------------------------------------------------------- persistence ----

    def metadata(self) -> dict[str, Any]:
        """The ``gan.json`` content."""
        return {
            "format": FORMAT_VERSION,
            "method": self.name,
            "config": self.cfg.model_dump(mode="json"),
            "spec": asdict(self.spec),
            "condition_semantics": self.condition_semantics,
            "capabilities": sorted(self.capabilities),
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``gan.json`` and ``weights.pt`` (generation weights) into ``directory``."""
        directory = Path(directory)
        weights = {
            k: {n: t.cpu() for n, t in self.g(k).state_dict().items()} for k in self.generators
        }
        with atomic_path(directory / WEIGHTS_FILE) as tmp:
            torch.save(weights, tmp)
        write_text(directory / META_FILE, json.dumps(self.metadata(), indent=2))
        return directory

    @classmethod
    def from_saved(cls, directory: Path, meta: dict[str, Any], device) -> GanMethod:
        """Rebuild from a saved directory (subclasses with other formats override)."""
        method = cls(
            GanConfig.model_validate(meta["config"]), GanSpec.from_json(meta["spec"]), device
        )
        weights = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        for key, module in method.generators.items():
            module.load_state_dict(weights[key])
            module.eval()
        return method


def one_hot(labels: torch.Tensor, k: int) -> torch.Tensor:
    """Float one-hot rows of int ``labels``."""
    return torch.nn.functional.one_hot(labels.long(), k).float()


# The contract is not GAN-specific (the diffusion family builds on it): a neutral name.
Generator = GanMethod
