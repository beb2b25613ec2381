"""``augplat data``: prepare, list and inspect datasets in the data home.

How to run::

    augplat data prepare digits --fraction 0.1          # embedded, no download
    augplat data prepare fer --csv ~/data/fer2013.csv   # or icml_face_data.csv, plain or .gz
    augplat data prepare folder ~/data/pets --size 64   # ImageFolder: ROOT/train/<class>/*.png ...
    augplat data prepare folder ~/data/ckplus --group '^(S[0-9]+)_' --folds 10   # subject-aware
    augplat data prepare folder ~/data/affectnet --labels labels.csv --train-split 0.8
    augplat data list
    augplat data show fer

Parsing and printing only; the work is in :mod:`augplat.data`. numpy, pandas and Pillow are
imported inside the commands so ``augplat --help`` stays instant.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from augplat.cli.common import setup_logging

app = typer.Typer(help="Prepare, list and inspect datasets.", no_args_is_help=True)
prepare_app = typer.Typer(
    help="Prepare a dataset (fer, folder or digits) into the data home.", no_args_is_help=True
)
app.add_typer(prepare_app, name="prepare")

NAME_HELP = "Dataset name: letters, digits, '-', '_', '.'."
SKIP_BAD_HELP = "Skip bad rows / unreadable images (counted in the manifest) instead of failing."
DEDUPE_HELP = (
    "Remove val/test images that duplicate (exactly or nearly) an image of an earlier split; "
    "default: report them in the manifest only."
)
DUP_THRESHOLD_HELP = "Near-duplicate: dHash distance up to N bits of 64 (0 = identical hash)."


class Channels(str, Enum):
    """Channels of a prepared image folder."""

    auto = "auto"
    one = "1"
    three = "3"


def _console():
    from rich.console import Console

    # No markup: class names and paths are user data and may contain brackets.
    return Console(highlight=False, markup=False)


def _split_totals(counts: dict[str, dict[str, int]]) -> str:
    return ", ".join(f"{split} {sum(per_class.values())}" for split, per_class in counts.items())


def _print_prepared(ds) -> None:
    """Short summary after a prepare: name, path, counts per split, skipped count."""
    from augplat.data import dataset_dir

    console = _console()
    shape = "×".join(map(str, ds.shape))
    console.print(f"prepared {ds.name} → {dataset_dir(ds.name)}")
    console.print(f"  {_split_totals(ds.counts())} images; {ds.num_classes} classes; {shape}")
    skipped = ds.skipped.get("count", 0)
    hint = f" (see `augplat data show {ds.name}`)" if skipped else ""
    console.print(f"  skipped {skipped} bad input(s){hint}")
    for line in _check_lines(ds.manifest()):
        console.print(f"  {line}")
    _record_in_project_run(ds)


def _check_lines(manifest: dict) -> list[str]:
    """One line each for hflip, folds, subject groups and duplicates of a manifest."""
    lines = [f"hflip keeps labels: {'yes' if manifest.get('hflip', True) else 'no'}"]
    if manifest.get("folds"):
        lines.append(f"folds: {manifest['folds']} (fold 0 tests, fold 1 validates by default)")
    groups = manifest.get("groups")
    if groups:
        per = ", ".join(f"{k} {v}" for k, v in groups["per_split"].items())
        state = "disjoint across splits" if groups["disjoint"] else "CROSS splits"
        lines.append(f"groups: {groups['count']} ({per}), {state}")
    dup = manifest.get("duplicates")
    if dup:
        exact, near = dup["exact"], dup["near"]
        scope = dup.get("scope", "splits")
        lines.append(
            f"duplicates: {exact['groups']} exact group(s), {exact['cross_groups']} across "
            f"{scope}; {near['groups']} near group(s) (≤{dup['threshold']} bits), "
            f"{near['cross_groups']} across {scope}"
        )
        if dup.get("removed"):
            lines.append(f"dedupe: removed {dup['removed']} val/test image(s) with a twin")
        elif near["leaking"]:
            lines.append(
                f"dedupe: report only, {near['leaking']} image(s) kept that repeat an earlier "
                f"{scope[:-1]}'s (pass --dedupe to remove them)"
            )
    return lines


def _record_in_project_run(ds) -> None:
    """Under `mlflow run` (a pipeline's prepare step), tag that run with the dataset made."""
    from augplat.data import dataset_dir
    from augplat.tracking import record_prepared_dataset

    run_id = record_prepared_dataset(ds, dataset_dir(ds.name))
    if run_id:
        typer.echo(f"run_id={run_id}")


@prepare_app.command("fer")
def prepare_fer(
    csv: Path = typer.Option(..., "--csv", help="fer2013.csv or icml_face_data.csv (or .gz)."),
    name: str = typer.Option("fer", "--name", help=NAME_HELP),
    skip_bad: bool = typer.Option(False, "--skip-bad", help=SKIP_BAD_HELP),
    dedupe: bool = typer.Option(False, "--dedupe", help=DEDUPE_HELP),
    dup_threshold: int = typer.Option(4, "--dup-threshold", min=0, max=32, help=DUP_THRESHOLD_HELP),
) -> None:
    """Parse a FER2013 CSV (48x48 grey faces, 7 emotions); Usage gives train/val/test."""
    from augplat.data import prepare_fer as run

    setup_logging()
    _print_prepared(
        run(csv, name=name, skip_bad=skip_bad, dedupe=dedupe, dup_threshold=dup_threshold)
    )


@prepare_app.command("folder")
def prepare_folder(
    root: Path = typer.Argument(
        ...,
        help="ROOT/train/<class>/* (+ optional val/, test/), ROOT/<class>/*, or any files "
        "with --labels.",
    ),
    name: str = typer.Option(
        None, "--name", help=f"{NAME_HELP} (default: ROOT's folder name)", show_default=False
    ),
    size: int = typer.Option(48, "--size", help="Resize images to SIZE×SIZE."),
    channels: Channels = typer.Option(
        Channels.auto, "--channels", help="auto = 3 if any image has colour, else 1."
    ),
    labels: Path = typer.Option(
        None,
        "--labels",
        help="CSV of labels and file names (relative to ROOT) instead of class folders.",
        show_default=False,
    ),
    label_col: str = typer.Option("label", "--label-col", help="Label column of --labels."),
    filename_col: str = typer.Option(
        "filename", "--filename-col", help="File-name column of --labels and --groups."
    ),
    train_split: float = typer.Option(
        None,
        "--train-split",
        help="Share for train; the rest is halved between val and test "
        "(unless one of their fractions is given).",
        show_default=False,
    ),
    val_fraction: float = typer.Option(
        None,
        "--val-fraction",
        help="Share of each class carved for val when there is no val/ [default: 0.1].",
        show_default=False,
    ),
    test_fraction: float = typer.Option(
        None,
        "--test-fraction",
        help="Share of each class carved for test when there is no test/ [default: 0.1].",
        show_default=False,
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the stratified split and folds."),
    group: str = typer.Option(
        None,
        "--group",
        help="Subject of a file: first capture group of this regular "
        "expression in its name; no subject crosses splits or folds.",
        show_default=False,
    ),
    groups: Path = typer.Option(
        None,
        "--groups",
        help="CSV of file names and subjects (instead of --group).",
        show_default=False,
    ),
    group_col: str = typer.Option("group", "--group-col", help="Subject column of --groups."),
    folds: int = typer.Option(
        0,
        "--folds",
        help="Prepare K stratified (subject-aware with --group) folds for "
        "`augplat train --fold I` / `--folds K`; 0 = one split.",
    ),
    hflip: bool = typer.Option(
        True,
        "--hflip/--no-hflip",
        help="Whether a mirrored image keeps its label "
        "(classic policies drop their flip when not).",
    ),
    dedupe: bool = typer.Option(False, "--dedupe", help=DEDUPE_HELP),
    dup_threshold: int = typer.Option(4, "--dup-threshold", min=0, max=32, help=DUP_THRESHOLD_HELP),
    skip_bad: bool = typer.Option(False, "--skip-bad", help=SKIP_BAD_HELP),
) -> None:
    """Read an image folder: any format Pillow opens (TIFF, BMP, GIF, WebP, PGM, JPEG, PNG...)."""
    from augplat.data import prepare_folder as run
    from augplat.data.folder import SplitPlan
    from augplat.data.splits import resolve_fractions

    setup_logging()
    val, test = resolve_fractions(train_split, val_fraction, test_fraction)
    plan = SplitPlan(
        val_fraction=val, test_fraction=test, seed=seed, group=group, groups_csv=groups,
        group_col=group_col, folds=folds, dedupe=dedupe, dup_threshold=dup_threshold,
    )  # fmt: skip
    ds = run(
        root,
        name=name,
        size=size,
        channels=channels.value,
        val_fraction=val,
        test_fraction=test,
        seed=seed,
        skip_bad=skip_bad,
        labels=labels,
        label_col=label_col,
        filename_col=filename_col,
        hflip=hflip,
        plan=plan,
    )
    _print_prepared(ds)


@prepare_app.command("digits")
def prepare_digits(
    name: str = typer.Option("digits", "--name", help=NAME_HELP),
    fraction: float = typer.Option(
        1.0, "--fraction", help="Keep this share of the train split (0 < f <= 1); val/test stay."
    ),
    size: int = typer.Option(
        16, "--size", help="Resize the 8x8 digits to SIZE×SIZE (16 keeps every detail)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the split and the subsample."),
) -> None:
    """Build the embedded scikit-learn digits (1,797 real 8x8 images, no download)."""
    from augplat.data import prepare_digits as run

    setup_logging()
    _print_prepared(run(name=name, fraction=fraction, size=size, seed=seed))


@app.command("list")
def list_() -> None:
    """List the prepared datasets: name, shape, images per split, digest."""
    from rich.table import Table

    from augplat.data import list_datasets

    setup_logging()
    manifests = list_datasets()
    console = _console()
    if not manifests:
        console.print("no prepared datasets; try `augplat data prepare digits`")
        return
    table = Table("name", "shape", "classes", "train", "val", "test", "digest", "source")
    for m in manifests:
        totals = {split: sum(c.values()) for split, c in m.get("counts", {}).items()}
        table.add_row(
            m["name"],
            "×".join(map(str, m.get("shape", []))),
            str(len(m.get("classes", []))),
            *(str(totals.get(split, 0)) for split in ("train", "val", "test")),
            m.get("digest", ""),
            m.get("source", {}).get("reader", ""),
        )
    console.print(table)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Prepared dataset name or directory."),
) -> None:
    """Show a dataset's manifest: source, counts per split and class, skipped inputs, plot."""
    from rich.table import Table

    from augplat.data.store import DISTRIBUTION_PLOT, read_manifest

    setup_logging()
    m = read_manifest(name)
    console = _console()
    source = m.get("source", {})
    console.print(f"{m['name']}  {m['path']}")
    console.print(f"  shape {'×'.join(map(str, m['shape']))}, {m['num_images']} images")
    console.print(f"  digest {m['digest']}, created {m.get('created_at', '?')}")
    console.print(f"  source {source.get('reader', '?')}: {source.get('path', '?')}")
    console.print(f"  sha256 {source.get('sha256', '?')}")
    options = ", ".join(f"{k}={v}" for k, v in source.get("options", {}).items())
    console.print(f"  options {options or '-'}")
    counts = m["counts"]
    table = Table("class", *counts, "total")
    for cls in m["classes"]:
        row = [counts[split].get(cls, 0) for split in counts]
        table.add_row(cls, *map(str, row), str(sum(row)))
    totals = [sum(per_class.values()) for per_class in counts.values()]
    table.add_row("total", *map(str, totals), str(sum(totals)), style="bold")
    console.print(table)
    skipped = m.get("skipped", {})
    console.print(f"skipped {skipped.get('count', 0)} bad input(s)")
    if skipped.get("count"):
        for example in skipped.get("examples", []):
            console.print(f"  {example}")
    for line in _check_lines(m):
        console.print(line)
    for example in m.get("duplicates", {}).get("near", {}).get("examples", [])[:5]:
        console.print(f"  twins: {' = '.join(example)}")
    plot = Path(m["path"]) / DISTRIBUTION_PLOT
    console.print(f"distribution plot: {plot if plot.is_file() else '(missing)'}")
