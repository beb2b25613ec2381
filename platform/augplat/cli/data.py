"""``augplat data``: prepare, list and inspect datasets in the data home.

How to run::

    augplat data prepare digits --fraction 0.1          # embedded, no download
    augplat data prepare fer --csv ~/data/fer2013.csv   # or icml_face_data.csv, plain or .gz
    augplat data prepare folder ~/data/pets --size 64   # ImageFolder: ROOT/train/<class>/*.png ...
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
    _record_in_project_run(ds)


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
) -> None:
    """Parse a FER2013 CSV (48x48 grey faces, 7 emotions); Usage gives train/val/test."""
    from augplat.data import prepare_fer as run

    setup_logging()
    _print_prepared(run(csv, name=name, skip_bad=skip_bad))


@prepare_app.command("folder")
def prepare_folder(
    root: Path = typer.Argument(
        ..., help="ROOT/train/<class>/* (+ optional val/, test/) or ROOT/<class>/*."
    ),
    name: str = typer.Option(
        None, "--name", help=f"{NAME_HELP} (default: ROOT's folder name)", show_default=False
    ),
    size: int = typer.Option(48, "--size", help="Resize images to SIZE×SIZE."),
    channels: Channels = typer.Option(
        Channels.auto, "--channels", help="auto = 3 if any image has colour, else 1."
    ),
    val_fraction: float = typer.Option(
        0.1, "--val-fraction", help="Share of each class carved for val when there is no val/."
    ),
    test_fraction: float = typer.Option(
        0.1, "--test-fraction", help="Share of each class carved for test when there is no test/."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the stratified split."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help=SKIP_BAD_HELP),
) -> None:
    """Read an ImageFolder tree (png, jpg, jpeg, bmp, gif, webp; RGB or grey)."""
    from augplat.data import prepare_folder as run

    setup_logging()
    ds = run(
        root,
        name=name,
        size=size,
        channels=channels.value,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        skip_bad=skip_bad,
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
    plot = Path(m["path"]) / DISTRIBUTION_PLOT
    console.print(f"distribution plot: {plot if plot.is_file() else '(missing)'}")
