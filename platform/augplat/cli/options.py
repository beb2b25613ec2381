"""Command-line options generated from a config model's fields, plus ``--set KEY=VALUE``.

How to use::

    @config_command("augplat.classify.config:TrainConfig", flags={"data": ("--data", "-d")})
    def train(overrides: dict, config: Path = typer.Option(None, "--config")) -> None:
        cfg = build_config(TrainConfig, config, overrides)

    GROUP = lazy_group()                    # the Typer app's group class: typer.Typer(cls=GROUP)
    GROUP.add("train", train)

Every field of the model becomes an option: ``weight_decay`` → ``--weight-decay``, its type from
the annotation (a bool is ``--x/--no-x``, a ``Literal`` a choice, a list a comma-separated
string), its help from ``Field(description=...)`` and the default shown from the model. Options
show the model's default but only flags the user typed count (click's parameter source), so a
config file's values are never overridden by a default. The command receives the given values
as ``overrides``.

Why lazy: building these options imports pydantic and the model's package, too slow for
``augplat --help``; a :class:`LazyGroup` builds a config command only when it runs or shows
its own help.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Literal

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info
from typer.models import ArgumentInfo, CommandInfo

CTX = "augplat_ctx"  # the click context Typer passes in; tells typed flags from defaults
SET_HELP = "Set any config field: KEY=VALUE, VALUE in YAML (repeatable; flags win)."


def flag_name(field: str) -> str:
    """The option spelling of a field: ``weight_decay`` → ``--weight-decay``."""
    return "--" + field.replace("_", "-")


def _cli_type(annotation: Any) -> tuple[Any, bool]:
    """The annotation Typer parses a field as, and whether it is a (comma-separated) list."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        annotation = kept[0] if len(kept) == 1 else str
        args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set):
        return str, True
    if origin is Literal and not all(isinstance(a, str) for a in args):
        return type(args[0]), False  # Literal[1, 3]: a number; the model checks the value
    if origin is Literal or annotation in (bool, int, float, str, Path):
        return annotation, False
    return str, False


def _help(name: str, field) -> str:
    """The option's help: the field's description as a sentence."""
    text = (field.description or name.replace("_", " ")).strip()
    words = text.split()
    # A sentence starts with a capital; a value ("none | ...") or a name ("torch.compile") not.
    first = words[0].replace("-", "")
    if first.isalpha() and first.islower() and words[1:2] != ["|"]:
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?")) else text + "."


def field_parameter(
    name: str, field, decls: tuple[str, ...] | None = None, panel: str | None = None
) -> inspect.Parameter:
    """The keyword parameter (with its ``typer.Option``) for one model field.

    ``panel``: the generator method that alone reads the field; its help says so (plain
    click help has no headings, and the rich panels Typer offers need rich installed).
    """
    annotation, _ = _cli_type(field.annotation)
    if decls is None:
        flag = flag_name(name)
        decls = (f"{flag}/--no-{flag[2:]}",) if annotation is bool else (flag,)
    default = None if field.is_required() else field.get_default(call_default_factory=True)
    if isinstance(default, list | tuple):
        default = ",".join(str(v) for v in default)
    # The model's default is the option's, so help shows it; whether the user typed the flag
    # comes from click's parameter source, so a default never overrides the config file.
    text = _help(name, field) if panel is None else f"[{panel}] {_help(name, field)}"
    option = typer.Option(default, *decls, help=text, show_default=True, rich_help_panel=panel)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation | None
    )


def parse_sets(items: list[str] | None, model) -> dict[str, Any]:
    """``["lr=0.01", "classes=[a, b]"]`` → field values; VALUE is read as YAML.

    Raises:
        ConfigError: An item without ``=``, a key that is no field, or a bad YAML value.
    """
    import yaml

    from augplat.errors import ConfigError

    values: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item}: expected KEY=VALUE")
        if key not in model.model_fields:
            close = difflib.get_close_matches(key, list(model.model_fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"--set: unknown key '{key}'{hint}")
        try:  # an empty VALUE is the empty string ("diffaug=" turns DiffAugment off)
            values[key] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            raise ConfigError(f"--set {key}: invalid YAML value '{raw}'") from None
    return values


class ConfigCommand:
    """A command callback whose options are generated from a config model on first use.

    The wrapped function takes its own parameters (``--config``, ``--resume``...) and
    ``overrides``: the field values given by flags and ``--set``.
    """

    def __init__(self, func, model: str | type, flags: dict[str, tuple[str, ...]], exclude: tuple):
        functools.update_wrapper(self, func)
        self.__annotations__ = {}  # Typer reads the types from __signature__
        self._func, self._model_path = func, model
        self._flags, self._exclude = flags, set(exclude)

    @functools.cached_property
    def model(self):
        """The pydantic config class (imported now, not at start-up)."""
        if not isinstance(self._model_path, str):
            return self._model_path
        module, _, name = self._model_path.partition(":")
        return getattr(importlib.import_module(module), name)

    def _own(self) -> list[inspect.Parameter]:
        params = inspect.signature(self._func, eval_str=True).parameters.values()
        return [p for p in params if p.name != "overrides"]

    def fields(self) -> dict[str, Any]:
        """The model fields that get an option of their own."""
        skip = self._exclude | {p.name for p in self._own()}
        return {k: f for k, f in self.model.model_fields.items() if k not in skip}

    @functools.cached_property
    def __signature__(self) -> inspect.Signature:
        own = self._own()
        groups = self.model.option_groups() if hasattr(self.model, "option_groups") else {}
        generated = [
            field_parameter(k, f, self._flags.get(k), groups.get(k))
            for k, f in self.fields().items()
        ]
        set_param = inspect.Parameter(
            "set_",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(None, "--set", help=SET_HELP, metavar="KEY=VALUE"),
            annotation=list[str] | None,
        )
        ctx = inspect.Parameter(CTX, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        # Order in --help: arguments, --config, the model's fields, --set, the command's own rest.
        first = [p for p in own if isinstance(p.default, ArgumentInfo) or p.name == "config"]
        rest = [p for p in own if p not in first]
        return inspect.Signature([ctx, *first, *generated, set_param, *rest])

    def __call__(self, **kwargs: Any) -> Any:
        ctx = kwargs.pop(CTX)
        fields = self.fields()
        overrides = parse_sets(kwargs.pop("set_", None), self.model)
        for name in fields:
            value = kwargs.pop(name, None)
            source = ctx.get_parameter_source(name)
            if value is None or source is None or source.name != "COMMANDLINE":
                continue
            if _cli_type(fields[name].annotation)[1] and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()] or None
            if value is not None:  # `--group-by ""` is "not given": the default grouping
                overrides[name] = value  # a typed flag wins over --set
        return self._func(overrides=overrides, **kwargs)


def config_command(
    model: str | type, *, flags: dict[str, tuple[str, ...]] | None = None, exclude: tuple = ()
):
    """Decorator: generate a command's options from ``model`` (``"module:Class"``).

    Args:
        model: Where the pydantic config class lives (``"module:Class"``, imported when the
            command is built), or the class itself.
        flags: Option spellings that differ from ``--field-name`` (short names, aliases).
        exclude: Fields without an option of their own (``--set`` still takes them).
    """
    return lambda func: ConfigCommand(func, model, flags or {}, exclude)


class LazyGroup(TyperGroup):
    """A Typer group that builds its :class:`ConfigCommand` commands on first use."""

    lazy: ClassVar[dict[str, Any]] = {}
    order: ClassVar[tuple[str, ...]] = ()
    _listing = False

    @classmethod
    def add(cls, name: str, callback) -> None:
        """Register ``callback`` as command ``name``, built when first needed."""
        cls.lazy[name] = callback

    def list_commands(self, ctx) -> list[str]:
        names = [*self.lazy, *(n for n in self.commands if n not in self.lazy)]
        rank = {n: i for i, n in enumerate(self.order)}
        return sorted(names, key=lambda n: rank.get(n, len(rank)))

    def get_command(self, ctx, cmd_name: str):
        if cmd_name not in self.commands and cmd_name in self.lazy:
            callback = self.lazy[cmd_name]
            if self._listing:  # the group's help needs the first docstring line only
                return TyperCommand(cmd_name, help=inspect.getdoc(callback))
            info = CommandInfo(name=cmd_name, callback=callback)
            self.commands[cmd_name] = get_command_from_info(
                info, pretty_exceptions_short=True, rich_markup_mode=self.rich_markup_mode
            )
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except typer.TyperException as exc:  # suggest lazy names too, as Typer does for its own
            message = getattr(exc, "message", None)
            close = difflib.get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if close and message and "Did you mean" not in message:
                names = ", ".join(repr(m) for m in close)
                exc.message = f"{message.rstrip('.')}. Did you mean {names}?"
            raise

    def format_commands(self, ctx, formatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


def lazy_group(order: tuple[str, ...] = ()) -> type[LazyGroup]:
    """A fresh :class:`LazyGroup` class for one Typer app (``typer.Typer(cls=...)``)."""
    return type("Group", (LazyGroup,), {"lazy": {}, "order": order})
