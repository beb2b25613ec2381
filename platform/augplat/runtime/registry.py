"""A tiny name → object registry, the one pattern behind backbones and GAN methods.

Registries are explicit on purpose (see DESIGN.md): an entry exists because a module said
``@REG.register("name")``, so tests can parametrize over ``REG.names()`` and a new entry is
smoke-tested for free. Usage::

    BACKBONES = Registry("backbone")

    @BACKBONES.register("resnet18")
    def _resnet18(...): ...

    factory = BACKBONES.get("resnet18")   # unknown names raise ConfigError listing the known ones
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from augplat.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind (backbones, GAN methods, ...).

    Args:
        kind: What an entry is, used in error messages ("unknown backbone 'x'").
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that adds the decorated object under ``name`` and returns it unchanged.

        Raises:
            ValueError: ``name`` is already taken (two modules claiming one name is a bug).
        """
        if not name or not isinstance(name, str):
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        """The entry called ``name``.

        Raises:
            ConfigError: No such entry; the message lists the available names.
        """
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            available = ", ".join(self.names()) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r} (available: {available})") from None

    def names(self) -> list[str]:
        """Registered names, sorted so listings and test ids are stable."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"
