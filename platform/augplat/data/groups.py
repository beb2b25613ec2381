"""Subject groups of image files, and what the manifest says about them.

Lab face sets hold many frames of each subject; a split that puts one subject in train and
test measures recognition of the person, not of the expression. A group is the first capture
group of a regular expression searched in the file name (``--group 'S(\\d+)_'``), or a column
of a CSV (``--groups FILE.csv``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from augplat.data.dataset import SPLIT_CODES, SPLITS
from augplat.errors import DataError, UserError

MAX_LISTED = 200  # group names listed per split in the manifest; counts are always complete


def compile_group_pattern(pattern: str) -> re.Pattern:
    """The compiled ``--group`` expression, or :class:`UserError` naming the problem."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UserError(f"--group {pattern!r} is not a valid regular expression ({exc})") from None


def groups_from_pattern(files: list[Path], pattern: str) -> list[str]:
    """The group of every file: the first capture group (or whole match) in its name.

    Raises:
        DataError: A file name the expression does not match (naming the file).
    """
    regex = compile_group_pattern(pattern)
    out = []
    for path in files:
        match = regex.search(path.name)
        if match is None:
            raise DataError(f"{path}: file name does not match --group {pattern!r}")
        out.append(match.group(1) if regex.groups else match.group(0))
    return out


def group_summary(groups: np.ndarray, split: np.ndarray, source: str) -> dict[str, Any]:
    """Manifest entry: groups per split, their counts, and whether any group crosses splits."""
    per_split = {s: sorted(set(groups[split == SPLIT_CODES[s]].tolist())) for s in SPLITS}
    crossing = sorted(
        set(per_split["train"]) & (set(per_split["val"]) | set(per_split["test"]))
        | (set(per_split["val"]) & set(per_split["test"]))
    )
    return {
        "source": source,
        "count": len(set(groups.tolist())),
        "disjoint": not crossing,
        "crossing": crossing[:MAX_LISTED],
        "per_split": {s: len(names) for s, names in per_split.items()},
        "names": {s: names[:MAX_LISTED] for s, names in per_split.items()},
    }
