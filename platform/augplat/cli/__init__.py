"""The ``augplat`` command line.

How to run::

    augplat --help
    augplat data prepare digits
    augplat train --data digits --epochs 5

Each group lives in its own module and only parses and prints; the work happens in library
functions. Heavy libraries (torch, mlflow) are imported inside commands so ``--help`` is instant.
"""

from __future__ import annotations

import sys

import typer

from augplat.cli import compare as compare_cli
from augplat.cli import data as data_cli
from augplat.cli import ensemble as ensemble_cli
from augplat.cli import expand as expand_cli
from augplat.cli import gan as gan_cli
from augplat.cli import gc as gc_cli
from augplat.cli import launch as launch_cli
from augplat.cli import pipeline as pipeline_cli
from augplat.cli import server as server_cli
from augplat.cli import study as study_cli
from augplat.cli import train as train_cli
from augplat.cli.common import one_line_warnings
from augplat.cli.options import lazy_group
from augplat.errors import USER_ERROR_EXIT_CODE, UserError

# Config commands are built when they run (their options come from pydantic models, too slow
# to import for `augplat --help`); the order is the listing's.
ORDER = ("data", "gan", "expand", "train", "study", "server", "ui", "launch", "pipeline")
Group = lazy_group((*ORDER, "ensemble", "compare", "gc"))
Group.add("expand", expand_cli.expand)
Group.add("train", train_cli.train)
Group.add("ensemble", ensemble_cli.ensemble)
Group.add("compare", compare_cli.compare)

app = typer.Typer(
    cls=Group,
    name="augplat",
    help="Find out, with evidence, whether GAN augmentation makes an image classifier better.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(data_cli.app, name="data")
app.add_typer(gan_cli.app, name="gan")
app.command("study")(study_cli.study)
app.command("server")(server_cli.server)
app.command("ui")(server_cli.ui)
app.command("launch")(launch_cli.launch)
app.command("pipeline")(pipeline_cli.pipeline)
app.command("gc")(gc_cli.gc)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; user errors become one line on stderr and exit code 2.

    Click's usage errors (a bad option value, an unknown option) too: one line naming the
    option, not click's three (Usage / Try / Error).
    """
    one_line_warnings()
    try:
        code = app(args=argv, standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except typer.TyperException as exc:  # click's usage errors, as typer vendors them
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as before
            print(message, file=sys.stderr)
            raise SystemExit(exc.exit_code) from None
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        raise SystemExit(getattr(exc, "exit_code", USER_ERROR_EXIT_CODE)) from None
    if isinstance(code, int) and code:
        raise SystemExit(code)  # typer.Exit(code) comes back as the return value
