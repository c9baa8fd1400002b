"""Progress for long work: a live display on a terminal, timestamped lines elsewhere.

Builds call `phase()` when they start a step and `advance()` as make reports
objects; the reporter decides how to show it. CI logs get plain lines with a
time stamp and a percentage every ten percent, so they stay short.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Reporter(ABC):
    """Receives what long-running work is doing."""

    @abstractmethod
    def phase(self, name: str, total: int | None = None) -> None:
        """A new step starts; `total` is the expected number of units, if known."""

    @abstractmethod
    def advance(self, units: int = 1, detail: str = "") -> None:
        """Some units of the current step are done."""

    @abstractmethod
    def done(self, message: str) -> None:
        """The whole job finished."""

    @contextmanager
    def session(self) -> Iterator[Reporter]:
        yield self


class QuietReporter(Reporter):
    """Shows nothing: for the Python API and tests."""

    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, units: int = 1, detail: str = "") -> None:
        pass

    def done(self, message: str) -> None:
        pass


class LineReporter(Reporter):
    """Timestamped lines, for CI logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.total: int | None = None
        self.count = 0
        self.next_decile = 1

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        elapsed = time.monotonic() - self.start
        print(f"[{stamp} +{elapsed:6.1f}s] {text}", file=self.stream, flush=True)

    def phase(self, name: str, total: int | None = None) -> None:
        self.total, self.count, self.next_decile = total, 0, 1
        self._line(name)

    def advance(self, units: int = 1, detail: str = "") -> None:
        self.count += units
        if not self.total:
            return
        if self.total < 20:  # few steps: name each one
            self._line(f"  {self.count}/{self.total} {detail}".rstrip())
            return
        while self.next_decile <= 9 and self.count * 10 >= self.total * self.next_decile:
            self._line(f"  {self.next_decile * 10}% ({self.count}/{self.total})")
            self.next_decile += 1

    def done(self, message: str) -> None:
        self._line(message)


class RichReporter(Reporter):
    """A live progress bar on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[detail]}"),
            console=Console(stderr=True),
        )
        self.task: TaskID | None = None

    @contextmanager
    def session(self) -> Iterator[Reporter]:
        with self.progress:
            yield self

    def _finish_task(self) -> None:
        if self.task is not None:
            total = self.progress.tasks[-1].total or 1
            self.progress.update(self.task, total=total, completed=total, detail="")

    def phase(self, name: str, total: int | None = None) -> None:
        self._finish_task()
        self.task = self.progress.add_task(name, total=total, detail="")

    def advance(self, units: int = 1, detail: str = "") -> None:
        if self.task is not None:
            self.progress.update(self.task, advance=units, detail=detail[-50:])

    def done(self, message: str) -> None:
        self._finish_task()
        self.progress.console.print(message)


def default_reporter() -> Reporter:
    """Rich on an interactive terminal, plain lines otherwise (CI, pipes)."""
    import os

    if sys.stderr.isatty() and not os.environ.get("CI"):
        return RichReporter()
    return LineReporter()
