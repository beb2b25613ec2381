"""Search spaces: YAML parameter specs → Optuna suggestions, conditions included.

A space is an ordered mapping of TrainConfig field → spec::

    lr:        {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    batch_size: {type: categorical, choices: [32, 64, 128]}
    epochs:    {type: int, low: 2, high: 8, step: 2}
    momentum:  {type: float, low: 0.8, high: 0.99, when: {optimizer: sgd}}

``when`` makes a parameter conditional: it is suggested only when every named, earlier
parameter has the given value (or one of a list of values); otherwise the fixed value (or the
TrainConfig default) applies. Order matters, so conditions can only look backwards.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from augplat.runtime.settings import StrictModel, first_error_message

Scalar = bool | int | float | str


class ParamSpec(StrictModel):
    """One searchable parameter."""

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Scalar] | None = None
    when: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"{self.type} needs 'low' and 'high'")
        if self.low > self.high:
            raise ValueError("'low' must not exceed 'high'")
        if self.log and self.low <= 0:
            raise ValueError("log scale needs 'low' > 0")
        if self.log and self.step is not None:
            raise ValueError("'log' and 'step' cannot be combined")
        if self.type == "int" and not (
            float(self.low).is_integer() and float(self.high).is_integer()
        ):
            raise ValueError("int bounds must be integers")
        return self

    def active(self, chosen: dict[str, Any]) -> bool:
        """Whether this parameter's ``when`` conditions hold for the values chosen so far."""
        for name, wanted in self.when.items():
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if name not in chosen or chosen[name] not in allowed:
                return False
        return True

    def suggest(self, trial, name: str) -> Any:
        """Ask an Optuna trial for a value."""
        if self.type == "categorical":
            return trial.suggest_categorical(name, self.choices)
        if self.type == "int":
            step = int(self.step) if self.step else 1
            return trial.suggest_int(name, int(self.low), int(self.high), step=step, log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self) -> list[Any]:
        """Values for the grid sampler: the choices, or an int range, or an explicit float step."""
        if self.type == "categorical":
            return list(self.choices)
        if self.type == "int":
            step = int(self.step) if self.step else 1
            return list(range(int(self.low), int(self.high) + 1, step))
        if self.step is None:
            raise ValueError("the grid sampler needs a 'step' for float parameters")
        n = round((self.high - self.low) / self.step)
        return [self.low + i * self.step for i in range(n + 1)]


def check_conditions(space: dict[str, ParamSpec]) -> None:
    """Every ``when`` must refer to an earlier parameter of the space."""
    seen: list[str] = []
    for name, spec in space.items():
        for ref in spec.when:
            if ref not in seen:
                raise ValueError(
                    f"'{name}.when' refers to '{ref}', which is not an earlier parameter"
                )
        seen.append(name)


def check_values(space: dict[str, ParamSpec], model: type[BaseModel]) -> None:
    """Both ends of every range and every choice must be valid for ``model``'s field.

    Why: a bad value (``lr: {low: -0.5, ...}``, a ``batch_size`` range holding 0) would
    otherwise surface as a validation traceback in some trial, after the study had started.
    """
    from typing import Annotated

    from pydantic import TypeAdapter, ValidationError

    for name, spec in space.items():
        field = model.model_fields[name]
        if spec.type == "float" and field.annotation is int:
            raise ValueError(f"'{name}' takes whole numbers: use type int")
        if spec.type == "categorical":
            values = list(spec.choices or [])
        else:
            cast = int if spec.type == "int" else float
            values = [cast(spec.low), cast(spec.high)]
        adapter = TypeAdapter(Annotated[field.annotation, field])
        for value in values:
            try:
                adapter.validate_python(value)
            except ValidationError as exc:
                message = first_error_message(exc)
                raise ValueError(f"'{name}' cannot be {value!r}: {message}") from None


def suggest_params(trial, space: dict[str, ParamSpec]) -> dict[str, Any]:
    """Suggest every active parameter in declaration order; inactive ones are left out."""
    chosen: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.active(chosen):
            chosen[name] = spec.suggest(trial, name)
    return chosen
