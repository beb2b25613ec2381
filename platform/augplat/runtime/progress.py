"""Progress reporting for long loops: a rich bar on a terminal, plain log lines otherwise.

Library loops call a :class:`Reporter`; the CLI picks the implementation, so library code never
prints and CI logs stay readable (one line per epoch instead of redrawn bars).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

log = logging.getLogger("augplat")


def _fmt(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in metrics.items())


class Reporter:
    """Plain reporter: one log line per finished epoch. Also the interface."""

    def start(self, total_epochs: int, first_epoch: int = 1) -> None:
        """Called once before the first epoch."""
        self.total_epochs = total_epochs

    def start_epoch(self, epoch: int, total_batches: int) -> None:
        """Called at the start of every epoch."""

    def advance(self, n: int = 1) -> None:
        """Called after every training batch."""

    def end_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Called with the epoch's metrics."""
        log.info("epoch %d/%d %s", epoch, self.total_epochs, _fmt(metrics))

    def message(self, text: str) -> None:
        """A one-off status line."""
        log.info("%s", text)

    def close(self) -> None:
        """Called once at the end (also after errors)."""


class RichReporter(Reporter):
    """A live progress bar over the batches of each epoch and over the epochs."""

    def start(self, total_epochs: int, first_epoch: int = 1) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.total_epochs = total_epochs
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.epochs_task = self.progress.add_task(
            "epochs", total=total_epochs, completed=first_epoch - 1, info=""
        )
        self.batch_task = None

    def start_epoch(self, epoch: int, total_batches: int) -> None:
        if self.batch_task is not None:
            self.progress.remove_task(self.batch_task)
        self.batch_task = self.progress.add_task(f"epoch {epoch}", total=total_batches, info="")

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.batch_task, n)

    def end_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self.progress.update(self.epochs_task, advance=1, info=_fmt(metrics))
        self.console.log(f"epoch {epoch}/{self.total_epochs} {_fmt(metrics)}")

    def message(self, text: str) -> None:
        self.console.log(text)

    def close(self) -> None:
        if getattr(self, "progress", None) is not None:
            self.progress.stop()


class MessagesOnly(Reporter):
    """Passes messages to ``inner`` and drops per-epoch lines: a step inside a bigger job (a
    study's generator) says what it does, not every epoch."""

    def __init__(self, inner: Reporter):
        self.inner = inner

    def end_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        pass

    def message(self, text: str) -> None:
        self.inner.message(text)


def default_reporter() -> Reporter:
    """A rich bar when stderr is a terminal, plain log lines otherwise."""
    return RichReporter() if sys.stderr.isatty() else Reporter()
