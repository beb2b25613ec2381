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

from pathlib import Path

import typer

from augplat.cli.common import setup_logging
from augplat.cli.options import config_command, lazy_group

app = typer.Typer(help="Prepare, list and inspect datasets.", no_args_is_help=True)
# The prepare commands are built when used: their options come from pydantic models.
PrepareGroup = lazy_group(("fer", "folder", "digits"))
prepare_app = typer.Typer(
    cls=PrepareGroup,
    help="Prepare a dataset (fer, folder or digits) into the data home.",
    no_args_is_help=True,
)
app.add_typer(prepare_app, name="prepare")


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


def _settings(model, overrides: dict, **given):
    """The validated settings of a prepare command (flags and ``--set`` over the defaults)."""
    from augplat.runtime.settings import build_config

    return build_config(model, None, {**overrides, **given})


@config_command("augplat.data.prepare_config:FerPrepareConfig", exclude=("csv",))
def prepare_fer(
    overrides: dict,
    csv: Path = typer.Option(..., "--csv", help="fer2013.csv or icml_face_data.csv (or .gz)."),
) -> None:
    """Parse a FER2013 CSV (48x48 grey faces, 7 emotions); Usage gives train/val/test."""
    from augplat.data import prepare_fer as run
    from augplat.data.prepare_config import FerPrepareConfig

    setup_logging()
    cfg = _settings(FerPrepareConfig, overrides, csv=csv)
    _print_prepared(run(**cfg.model_dump()))


@config_command("augplat.data.prepare_config:FolderPrepareConfig", exclude=("root",))
def prepare_folder(
    overrides: dict,
    root: Path = typer.Argument(
        ...,
        help="ROOT/train/<class>/* (+ optional val/, test/), ROOT/<class>/*, or any files "
        "with --labels.",
    ),
) -> None:
    """Read an image folder: any format Pillow opens (TIFF, BMP, GIF, WebP, PGM, JPEG, PNG...)."""
    from augplat.data import prepare_folder as run
    from augplat.data.folder import SplitPlan
    from augplat.data.prepare_config import FolderPrepareConfig
    from augplat.data.splits import resolve_fractions

    setup_logging()
    c = _settings(FolderPrepareConfig, overrides, root=root)
    val, test = resolve_fractions(c.train_split, c.val_fraction, c.test_fraction)
    plan = SplitPlan(
        val_fraction=val, test_fraction=test, seed=c.seed, group=c.group, groups_csv=c.groups,
        group_col=c.group_col, folds=c.folds, dedupe=c.dedupe, dup_threshold=c.dup_threshold,
    )  # fmt: skip
    ds = run(
        c.root, name=c.name, size=c.size, channels=c.channels, val_fraction=val,
        test_fraction=test, seed=c.seed, skip_bad=c.skip_bad, labels=c.labels,
        label_col=c.label_col, filename_col=c.filename_col, hflip=c.hflip, plan=plan,
    )  # fmt: skip
    _print_prepared(ds)


@config_command("augplat.data.prepare_config:DigitsPrepareConfig")
def prepare_digits(overrides: dict) -> None:
    """Build the embedded scikit-learn digits (1,797 real 8x8 images, no download)."""
    from augplat.data import prepare_digits as run
    from augplat.data.prepare_config import DigitsPrepareConfig

    setup_logging()
    _print_prepared(run(**_settings(DigitsPrepareConfig, overrides).model_dump()))


PrepareGroup.add("fer", prepare_fer)
PrepareGroup.add("folder", prepare_folder)
PrepareGroup.add("digits", prepare_digits)


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
