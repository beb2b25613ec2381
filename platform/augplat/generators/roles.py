"""Roles: what a generator makes for each consumer, declared once per method.

A method class says in one :class:`Roles` value what it does for online augmentation, dataset
expansion, test-time views and quality evaluation; consumers call the role
(:meth:`~augplat.generators.base.GanMethod.augment_batch`, ``expand_batch``, ``test_view``,
``make``) and never look at condition kinds or capability strings. Example (StarGAN)::

    roles = Roles(
        augment=Role.VARIATION,          # a same-label variation replaces a training sample
        expand=Role.TRANSLATION,         # images of other classes moved to the target class
        quality=(Role.TRANSLATION, Role.VARIATION),
    )
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from augplat.errors import UserError


class Role(StrEnum):
    """One thing a generator can make; each maps to one generation call."""

    VARIATION = "variation"  # a same-label variation of a given image (needs its label)
    TRANSLATION = "translation"  # a given image moved to a target class (label = the target)
    STYLE = "style"  # a given image in another domain's style (label kept; needs no label)
    SAMPLE = "sample"  # a fresh image of a given label, from noise (no input image)

    @property
    def call(self) -> str:
        """The generation call that makes it: ``variations``, ``translate`` or ``generate``."""
        return _CALLS[self]

    @property
    def plural(self) -> str:
        """How metric names and messages say "several of these"."""
        return _PLURALS[self]

    @property
    def source(self) -> str | None:
        """Which real image an output starts from for a target label.

        ``"other"`` (an image of another class), ``"same"`` (one of the target class) or None
        (no image: a noise sample).
        """
        return _SOURCES[self]

    @property
    def keeps_label(self) -> bool:
        """Whether an output keeps the label of the image it was made from."""
        return self is not Role.TRANSLATION

    @property
    def needs_label(self) -> bool:
        """Whether the call needs the true label (a test-time view must not)."""
        return self in (Role.VARIATION, Role.SAMPLE)

    @property
    def deterministic(self) -> bool:
        """Whether the same input always gives the same output (one bank variant suffices)."""
        return self is Role.STYLE


_CALLS = {
    Role.VARIATION: "variations",
    Role.TRANSLATION: "translate",
    Role.STYLE: "translate",
    Role.SAMPLE: "generate",
}
_PLURALS = {
    Role.VARIATION: "variations",
    Role.TRANSLATION: "translations",
    Role.STYLE: "style_copies",
    Role.SAMPLE: "samples",
}
_SOURCES = {
    Role.VARIATION: "same",
    Role.TRANSLATION: "other",
    Role.STYLE: "same",
    Role.SAMPLE: None,
}


@dataclass(frozen=True)
class Roles:
    """What a method does for each consumer (None: it cannot serve that consumer).

    Attributes:
        augment: Online / bank GAN augmentation: replaces a training sample, keeping its label.
        expand: Dataset expansion: a new image of a target class.
        test_time: ``--test-mode gan|both``: a view of a test image made without its label.
        quality: Judged by ``gan eval``: the first role makes the synthetic set (FID/KID, label
            fidelity, CAS); each further role is judged for label fidelity only.
        extra: Roles offered for direct calls only (``augplat gan sample --strength``).
    """

    augment: Role | None = None
    expand: Role | None = None
    test_time: Role | None = None
    quality: tuple[Role, ...] = ()
    extra: frozenset[Role] = field(default_factory=frozenset)

    @property
    def offered(self) -> frozenset[Role]:
        """Every role the method can play."""
        used = {self.augment, self.expand, self.test_time, *self.quality, *self.extra}
        return frozenset(r for r in used if r is not None)

    @property
    def calls(self) -> frozenset[str]:
        """The generation calls the offered roles need (the method's capabilities)."""
        return frozenset(r.call for r in self.offered)

    def check(self, owner: str) -> None:
        """Raise TypeError for a combination no consumer could use (a bug in the method).

        Args:
            owner: The method's name, for the message.
        """
        if self.augment is not None and not self.augment.keeps_label:
            raise TypeError(f"{owner}: augmentation keeps labels; {self.augment} changes them")
        view = self.test_time
        if view is not None and (view.needs_label or not view.keeps_label):
            raise TypeError(
                f"{owner}: a test-time view needs no label and keeps it; {view} does not"
            )
        if len(set(self.quality)) != len(self.quality):
            raise TypeError(f"{owner}: a quality role is listed twice")


class RolePlayer:
    """The consumer side of the contract: calls that play a declared role.

    Mixed into :class:`~augplat.generators.base.GanMethod`; anything with ``name``, ``roles`` and
    the generation calls (``variations``, ``translate``, ``generate``) can use it.
    """

    name: ClassVar[str] = ""
    roles: ClassVar[Roles] = Roles()

    def make(
        self,
        role: Role,
        images=None,
        labels=None,
        *,
        strength=0.3,
        generator=None,
        batch_size: int = 256,
    ) -> Any:
        """What ``role`` makes, in [0, 1] (see :class:`~augplat.generators.roles.Role`).

        Args:
            role: One of :attr:`roles` ``.offered``.
            images: Input images (None for :attr:`Role.SAMPLE`).
            labels: Their labels (variation), target classes (translation, sample) or None.
            strength: Variation strength in [0, 1].
            generator: CPU generator for noise.
            batch_size: Generation batch size.

        Raises:
            UserError: The method does not offer ``role``.
        """
        if role not in self.roles.offered:
            can = ", ".join(sorted(self.roles.offered)) or "nothing"
            raise UserError(f"GAN method '{self.name}' has no {role} role (it offers: {can})")
        kw = {"generator": generator, "batch_size": batch_size}
        if role is Role.SAMPLE:
            return self.generate(len(labels), labels, **kw)
        if role is Role.STYLE:
            return self.translate(images, **kw)
        if role is Role.TRANSLATION:
            return self.translate(images, labels, **kw)
        return self.variations(images, labels, strength, **kw)

    def augment_batch(self, images, labels, strength=0.3, *, generator=None, batch_size=256):
        """Replacements for training samples that keep their labels (``roles.augment``)."""
        return self.make(
            self._role("augment"),
            images,
            labels,
            strength=strength,
            generator=generator,
            batch_size=batch_size,
        )

    def expand_batch(self, sources, targets, *, strength=0.3, generator=None, batch_size=256):
        """New images of class ``targets`` (``roles.expand``).

        ``sources`` are real images chosen as ``roles.expand.source`` says (None for samples).
        """
        return self.make(
            self._role("expand"),
            sources,
            targets,
            strength=strength,
            generator=generator,
            batch_size=batch_size,
        )

    def test_view(self, images, *, generator=None, batch_size: int = 256) -> Any:
        """The label-free view of test ``images`` for ``--test-mode gan|both``."""
        return self.make(
            self._role("test_time"), images, None, generator=generator, batch_size=batch_size
        )

    def _role(self, consumer: str) -> Role:
        role = getattr(self.roles, consumer)
        if role is None:
            raise UserError(f"GAN method '{self.name}' has no {consumer} role")
        return role


# A domain translator (CycleGAN, an imported CartoonGAN): style translation everywhere (seed 000's
# cartoons) keeps the label and needs none, so it also gives the test-time view; ``variations``
# (a blend of an image and its translation) is for direct calls.
STYLE_TRANSLATOR = Roles(
    augment=Role.STYLE,
    expand=Role.STYLE,
    test_time=Role.STYLE,
    quality=(Role.STYLE,),
    extra=frozenset({Role.VARIATION}),
)
