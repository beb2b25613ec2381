"""A run's arm: the strategy its tags and params say, and labels that keep arms apart.

A run's arm (:func:`base_strategy`): a study cell's ``augplat.arm`` tag; else its
``augplat.strategy`` tag (ensembles); else ``expanded`` when it trained on a dataset made by
``augplat expand`` (known from the expand run's digest tags or the run's logged manifest, or
``--train-on expanded``); else ``synthetic`` / ``united``; else from its ``aug`` param:
``none`` → ``baseline``, ``classic``, ``gan``, ``both`` → ``gan+classic``. An arm is every
resolved setting except the seed (and fold): runs of one strategy that differ in any other
setting (lr, generator, gan_prob, test mode, ...) get the differing settings in their labels
(:func:`label_strategies`), so they are never pooled; ``group_by`` lets a user choose the
settings instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from augplat.tracking import tags as tag

AUG_STRATEGY = {"none": "baseline", "classic": "classic", "gan": "gan", "both": "gan+classic"}
ARM_TAG, FRACTION_TAG = tag.ARM, tag.FRACTION
# An arm is every resolved setting of a run except these: which seed or fold it is (what pairs
# runs), where the data came from by name (the digest decides), and switches that change
# bookkeeping or speed, not what is learned.
NOT_IDENTITY = frozenset(
    {
        "seed",
        "fold",
        "folds",
        "data",
        "expanded",
        "run_name",
        "experiment",
        "device",
        "amp",
        "channels_last",
        "compile",
        "eval_batch_size",
        "tsne",
        "log_model",
        "log_checkpoints",
        "checkpoint_interval",
        "test_eval",
        "members",
        "member_models",
        "num_members",
    }
)
# How a setting reads in a label; any other reads " key=value".
_LABEL_FORMAT = {
    "gan_prob": " p={}",
    "gan_method": " {}",
    "rule": " {}",
    "test_mode": " test={}",
    "ccl_lambda": " ccl={}",
}
# Runs from before a setting existed.
DEFAULTS = {"test_mode": "regular", "train_on": "original", "ccl_lambda": "0.0"}


def setting_value(
    tags: Mapping[str, str], params: Mapping[str, str], param: str, tag_key: str = ""
) -> str:
    """A setting of a run: its param, else its tag ``tag_key``, else the setting's default."""
    found = params.get(param) or (tags.get(tag_key) if tag_key else None)
    return found or DEFAULTS.get(param, "?")


def base_strategy(tags: Mapping[str, str], params: Mapping[str, str], expanded: bool) -> str:
    """The strategy a run's tags and params say, before labels are made unique.

    Args:
        tags: The run's tags.
        params: The run's params.
        expanded: Its dataset was made by ``augplat expand`` (``--data <expanded>``).
    """
    if tags.get(ARM_TAG):
        return tags[ARM_TAG]
    if tags.get(tag.STRATEGY):
        return tags[tag.STRATEGY]
    if tags.get(tag.KIND) == tag.KIND_ENSEMBLE:
        return "ensemble"
    train_on = setting_value(tags, params, "train_on", tag.TRAIN_ON)
    if expanded or train_on == "expanded":
        return "expanded"
    if train_on in ("synthetic", "united"):
        return train_on
    aug = setting_value(tags, params, "aug", tag.AUG)
    return AUG_STRATEGY.get(aug, f"aug={aug}")


def _detail(key: str, value: str) -> str:
    if key == "aug":
        return "" if value == "none" else f"+{value}"
    if key == "test_mode" and value == "regular":
        return ""
    if key == "ccl_lambda" and float(value) == 0:
        return ""
    return _LABEL_FORMAT.get(key, f" {key}={{}}").format(value)


def identity_keys(tags: Mapping[str, str], params: Mapping[str, str]) -> list[str]:
    """The settings that make a run's arm: every resolved setting but :data:`NOT_IDENTITY`.

    A training run's resolved settings are the TrainConfig fields it logged as params; an
    ensemble's are its rule (its members differ per seed by design). A study cell is already
    named by its ``augplat.arm`` tag.
    """
    if tags.get(ARM_TAG):
        return []
    if tags.get(tag.KIND) == tag.KIND_ENSEMBLE:
        return ["rule"]
    from augplat.classify.config import TrainConfig

    return [k for k in TrainConfig.model_fields if k not in NOT_IDENTITY and k in params] + [
        k for k in DEFAULTS if k not in params
    ]


def label_strategies(
    runs: Sequence[tuple[str, Mapping[str, str], Mapping[str, str]]],
    group_by: Sequence[str] | None = None,
) -> list[str]:
    """Final arm labels for ``(base, tags, params)`` per run, in order.

    Within one base strategy, every identity setting (:func:`identity_keys`, or ``group_by``
    when given: the user chooses what makes an arm) in which the runs differ joins the label,
    so runs that differ in anything but the seed are never pooled. Then, runs of different
    seed groups that reuse a seed get the group id added, so pairing stays one run per seed.
    """
    by_base: dict[str, list[int]] = defaultdict(list)
    for i, (base, _, _) in enumerate(runs):
        by_base[base].append(i)
    labels = [base for base, _, _ in runs]
    for members in by_base.values():
        keys: dict[str, None] = {}
        for i in members:
            found = list(group_by) if group_by is not None else identity_keys(*runs[i][1:])
            keys.update(dict.fromkeys(found))
        for key in sorted(keys, key=lambda k: (k not in _LABEL_FORMAT, k)):
            values = {i: _setting(runs[i][1], runs[i][2], key) for i in members}
            if len(set(values.values())) > 1:
                for i in members:
                    labels[i] += _detail(key, values[i])
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    for members in by_label.values():
        seeds = [pair_key(runs[i][2], runs[i][1]) for i in members]
        groups = {runs[i][1].get(tag.SEED_GROUP) for i in members}
        if len(set(seeds)) < len(seeds) and len(groups) > 1:
            for i in members:
                group = runs[i][1].get(tag.SEED_GROUP)
                labels[i] += f" [{group[:8]}]" if group else " [-]"
    return labels


def _setting(tags: Mapping[str, str], params: Mapping[str, str], key: str) -> str:
    """A setting's value: the param, else the ``augplat.<key>`` tag, else its default."""
    return setting_value(tags, params, key, f"{tag.PREFIX}{key}")


def pair_key(params: Mapping[str, str], tags: Mapping[str, str] | None = None) -> str | None:
    """Seed, and fold when the run has one: what pairs runs of different arms.

    A study's ensemble cell has no seed param (it trains nothing); its ``augplat.seed`` tag
    names the seed of the members it combines.
    """
    seed = params.get("seed") or (tags or {}).get(tag.SEED)
    fold = params.get("fold") or (tags or {}).get(tag.FOLD)
    if seed is None:
        return None
    return f"{seed}/fold{fold}" if fold not in (None, "", "None") else str(seed)
