"""A study whose space includes GAN augmentation gets its generator first.

How it works::

    # studies/my.yaml
    train: {data: digits, model: simplecnn}
    space:
      aug: {type: categorical, choices: [classic, gan, both]}
      gan_prob: {type: float, low: 0.1, high: 0.9, when: {aug: [gan, both]}}
    gan: {method: stargan, epochs: 5}          # GanConfig keys; data defaults to train.data

When some trial could need a generator (``aug`` gan/both, ``train_on`` synthetic/united or a GAN
test mode, fixed or in the space) and ``train.generator`` names none, the study trains one
from the ``gan`` section before its first trial — or reuses a finished GAN run that learned
exactly that (same method, parameters and data digests: ``find_finished_run``). Every trial
then gets that run id; workers and resumed studies find the same run instead of training again.

Either way the generator's training images are checked against the trials' dataset first
(:func:`augplat.generators.provenance.check`: none of its val/test images, and by default only
images of its train split, unless ``train.allow_foreign_generator``); a ``gan.data`` override that
breaks the rule stops the study before anything is trained.
"""

from __future__ import annotations

from typing import Any

from augplat.errors import ConfigError
from augplat.tracking import tags as tag

_GAN_VALUES = {"aug": {"gan", "both"}, "train_on": {"synthetic", "united"}}


def _may_use_generator(spec) -> bool:
    from augplat.classify.config import TrainConfig

    fixed = TrainConfig.model_validate(spec.train)
    if fixed.uses_generator():
        return True
    for key, values in _GAN_VALUES.items():
        param = spec.space.get(key)
        if param is not None and values & {str(c) for c in (param.choices or [])}:
            return True
    test_mode = spec.space.get("test_mode")
    return test_mode is not None and any(c != "regular" for c in test_mode.choices or [])


def gan_config(spec):
    """The :class:`~augplat.generators.GanConfig` of the spec's ``gan`` section (data: train)."""
    from pydantic import ValidationError

    from augplat.generators import GanConfig
    from augplat.runtime.settings import validation_error_line

    values: dict[str, Any] = {"data": spec.train.get("data", "digits"), **(spec.gan or {})}
    values.setdefault("experiment", spec.experiment_name)
    values.setdefault("run_name", f"study-{spec.name}-gan")
    try:
        return GanConfig.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(validation_error_line(exc, prefix="gan.", what="gan")) from None


def _trial_data(spec):
    """The dataset the trials train on (``train.data``) and whether foreign use is allowed."""
    from augplat.classify.config import TrainConfig
    from augplat.data import load_dataset

    fixed = TrainConfig.model_validate(spec.train)
    return load_dataset(fixed.data), fixed.allow_foreign_generator


def _check_planned(spec, cfg) -> None:
    """The ``gan:`` section's training images (its ``data`` override included) must pass the
    provenance rule against the trials' dataset (:mod:`augplat.generators.provenance`)."""
    from augplat.generators import provenance

    dataset, allow = _trial_data(spec)
    prov = provenance.planned(cfg)
    prov.run_id = f"of study '{spec.name}' (gan: section)"
    provenance.check(prov, dataset, allow_foreign=allow)


def _check_named(spec, ref: str, tracking_uri: str | None) -> None:
    """``train.generator`` must pass the provenance rule against ``train.data``."""
    from augplat.generators.lookup import load_generator
    from augplat.generators.provenance import check_generator_use

    dataset, allow = _trial_data(spec)
    check_generator_use(load_generator(ref, tracking_uri, "cpu"), dataset, allow_foreign=allow)


def ensure_generator(spec, tracking_uri: str | None = None, reporter=None) -> str | None:
    """Set ``spec.train['generator']`` when trials may need one; returns the run id (or None).

    Raises:
        ConfigError: A trial may need a generator and the spec neither names one nor has a
            ``gan`` section to train it from.
    """
    named = spec.train.get("generator")
    if named:
        if _may_use_generator(spec):
            _check_named(spec, named, tracking_uri)
            if str(named).startswith("models:/"):  # pin the alias: every cell, one generator
                from augplat.augment.generative import resolve_generator_run

                named = spec.train["generator"] = resolve_generator_run(named, tracking_uri)
        return named
    if not _may_use_generator(spec):
        return None
    if spec.gan is None:
        raise ConfigError(
            f"study '{spec.name}': the search may use GAN augmentation but names no generator; "
            "set train.generator to a GAN run id, or add a `gan:` section (e.g. "
            "`gan: {method: stargan}`) so the study trains one first"
        )
    from augplat.generators.lookup import find_finished_run

    cfg = gan_config(spec)
    _check_planned(spec, cfg)  # before minutes of GAN training, not after
    run_id = find_finished_run(cfg, tracking_uri)
    if run_id is not None:
        if reporter is not None:
            reporter.message(f"generator: reusing finished {cfg.method} run {run_id}")
    else:
        from augplat.quality import train_generator

        if reporter is not None:
            reporter.message(f"generator: training {cfg.method} on '{cfg.data}' first")
        tags = {tag.STUDY: spec.name}
        result = train_generator(cfg, tracking_uri=tracking_uri, reporter=reporter, tags=tags)
        run_id = result.run_id
    spec.train["generator"] = run_id
    return run_id
