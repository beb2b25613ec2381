"""Arms of a study: which settings each arm trains with, and its own search when tuned per arm.

How it works::

    arms, baseline = spec.final.resolved_arms(may_use_generator(spec))
    sub = arm_search_spec(spec, "classic", {"aug": "classic"})   # tune: per-arm
    plans = shared_plans(arms, winner_params, trials)            # tune: shared

``tune: shared`` gives every arm the search winner's settings with the arm's overrides on top.
``tune: per-arm`` gives every (non-ensemble) arm a search of its own, with the same number of
trials, in the space where the arm's settings are fixed: the override keys leave the space,
``generative: off`` drops every generative choice, and conditions (``when``) on a fixed key
are decided once. A baseline tuned as hard as the generative arm is the point of this mode.
"""

from __future__ import annotations

from typing import Any

from augplat.study.final import ArmPlan
from augplat.study.final_spec import GENERATIVE, GENERATIVE_OFF, GENERATOR_ONLY, apply_overrides


def may_use_generator(spec) -> bool:
    """Whether the search, the fixed settings or any arm may need a generator."""
    from augplat.classify.config import TrainConfig
    from augplat.study.generator import _may_use_generator as search_may_use_generator

    if search_may_use_generator(spec):
        return True
    for overrides in (spec.final.arms or {}).values():
        probe = TrainConfig.model_construct(**{**spec.train, **overrides})
        if "ensemble" not in overrides and (probe.uses_generator() or probe.train_on == "expanded"):
            return True
    return False


def shared_plans(arms: dict[str, dict[str, Any]], winner: dict[str, Any], train: dict, trials):
    """Every arm = the winner's settings (over the fixed ``train`` keys) with its overrides."""
    plans = {}
    for name, overrides in arms.items():
        params = {} if "ensemble" in overrides else apply_overrides({**train, **winner}, overrides)
        plans[name] = ArmPlan(name, overrides, params, trials)
    return plans


def _fixed_space(space: dict, train: dict[str, Any], overrides: dict[str, Any]) -> dict:
    """The search space with an arm's settings fixed (see the module docstring); a setting
    that ends with a single choice moves into ``train``."""
    from augplat.classify.config import TrainConfig

    space = dict(space)
    for key in overrides:
        if key == GENERATIVE:
            for setting, mapping in GENERATIVE_OFF.items():
                param = space.get(setting)
                if param is not None and param.choices:
                    # each generative choice becomes what `generative: off` makes of it (as in
                    # shared tuning): gan → none, both → classic
                    mapped = list(dict.fromkeys(mapping.get(c, c) for c in param.choices))
                    if len(mapped) == 1:
                        space.pop(setting)
                        train[setting] = mapped[0]
                    else:
                        space[setting] = param.model_copy(update={"choices": mapped})
            for setting in GENERATOR_ONLY:
                space.pop(setting, None)
        else:
            space.pop(key, None)
    result: dict = {}
    for name, param in space.items():
        if param.type == "categorical" and not param.choices:
            continue  # every choice was generative: the fixed value applies
        when, keep = {}, True
        for ref, wanted in param.when.items():
            if ref in result:
                when[ref] = wanted
                continue
            allowed = wanted if isinstance(wanted, list) else [wanted]
            value = train.get(ref, TrainConfig.model_fields[ref].default)
            keep = keep and value in allowed
        if keep:
            result[name] = param.model_copy(update={"when": when})
    return result


def arm_search_spec(spec, name: str, overrides: dict[str, Any]):
    """The study of one arm under ``tune: per-arm``: same budget, the arm's settings fixed."""
    train = apply_overrides(dict(spec.train), overrides)
    if train.get("generator") is None:
        train.pop("generator", None)
    space = _fixed_space(spec.space, train, overrides)
    return spec.model_copy(
        update={
            "name": f"{spec.name}.{name}",
            "train": train,
            "space": space,
            "experiment": spec.experiment_name,
        }
    )
