"""What ``augplat data prepare`` reads for each source: one settings model per reader.

The CLI options of ``data prepare digits|fer|folder`` are generated from these fields (help from
the descriptions, defaults from the models), and ``--set KEY=VALUE`` takes any of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from augplat.runtime.settings import JobConfig

NAME_HELP = "dataset name: letters, digits, '-', '_', '.'"
SKIP_BAD_HELP = "skip bad rows / unreadable images (counted in the manifest) instead of failing"
DEDUPE_HELP = (
    "remove val/test images that duplicate (exactly or nearly) an image of an earlier split; "
    "default: report them in the manifest only"
)
DUP_THRESHOLD_HELP = "near-duplicate: dHash distance up to N bits of 64 (0 = identical hash)"


class DigitsPrepareConfig(JobConfig):
    """The embedded scikit-learn digits (1,797 real 8x8 images)."""

    name: str = Field("digits", description=NAME_HELP)
    fraction: float = Field(
        1.0, description="keep this share of the train split (0 < f <= 1); val/test stay"
    )
    size: int = Field(16, description="resize the 8x8 digits to SIZE×SIZE (16 keeps every detail)")
    seed: int = Field(0, description="seed of the split and the subsample")


class FerPrepareConfig(JobConfig):
    """A FER2013 CSV (48x48 grey faces, 7 emotions); its Usage column gives the splits."""

    csv: Path = Field(description="fer2013.csv or icml_face_data.csv (or .gz)")
    name: str = Field("fer", description=NAME_HELP)
    skip_bad: bool = Field(False, description=SKIP_BAD_HELP)
    dedupe: bool = Field(False, description=DEDUPE_HELP)
    dup_threshold: int = Field(4, ge=0, le=32, description=DUP_THRESHOLD_HELP)


class FolderPrepareConfig(JobConfig):
    """An image folder (class folders, or any files with a labels CSV)."""

    root: Path = Field(
        description="ROOT/train/<class>/* (+ optional val/, test/), ROOT/<class>/*, or any files "
        "with --labels"
    )
    name: str | None = Field(None, description=f"{NAME_HELP} (default: ROOT's folder name)")
    size: int = Field(48, description="resize images to SIZE×SIZE")
    channels: Literal["auto", "1", "3"] = Field(
        "auto", description="auto = 3 if any image has colour, else 1"
    )
    labels: Path | None = Field(
        None, description="CSV of labels and file names (relative to ROOT) instead of class folders"
    )
    label_col: str = Field("label", description="label column of --labels")
    filename_col: str = Field("filename", description="file-name column of --labels and --groups")
    train_split: float | None = Field(
        None,
        description="share for train; the rest is halved between val and test (unless one of "
        "their fractions is given)",
    )
    val_fraction: float | None = Field(
        None, description="share of each class carved for val when there is no val/ (0.1 unset)"
    )
    test_fraction: float | None = Field(
        None, description="share of each class carved for test when there is no test/ (0.1 unset)"
    )
    seed: int = Field(0, description="seed of the stratified split and folds")
    group: str | None = Field(
        None,
        description="subject of a file: first capture group of this regular expression in its "
        "name; no subject crosses splits or folds",
    )
    groups: Path | None = Field(
        None, description="CSV of file names and subjects (instead of --group)"
    )
    group_col: str = Field("group", description="subject column of --groups")
    folds: int = Field(
        0,
        description="prepare K stratified (subject-aware with --group) folds for "
        "`augplat train --fold I` / `--folds K`; 0 = one split",
    )
    hflip: bool = Field(
        True,
        description="whether a mirrored image keeps its label (classic policies drop their flip "
        "when not)",
    )
    dedupe: bool = Field(False, description=DEDUPE_HELP)
    dup_threshold: int = Field(4, ge=0, le=32, description=DUP_THRESHOLD_HELP)
    skip_bad: bool = Field(False, description=SKIP_BAD_HELP)
