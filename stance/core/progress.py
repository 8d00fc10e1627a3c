"""Progress bars for long work, on stderr, only when stderr is a terminal.

Library functions take a `progress` argument (a `Progress`; `NO_PROGRESS`, which
draws nothing, by default) and open one task per stage:

    task = progress.task("labelling", total=len(turns), unit="turns")
    task.advance(len(batch))

The CLI and the benchmarks pass `progress_bars(enabled)`: rich bars with the
count, the rate (turns/s, folds/s...) and the time left, drawn on stderr when it
is a terminal and `--quiet` was not given. Piped or redirected stderr gets no
bars, so logs and the one-line messages stay clean.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


class Task:
    """One stage of work; `advance` by the units done. This one does nothing."""

    def advance(self, n: int = 1) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass


class Progress:
    """Opens tasks; this one draws nothing (`NO_PROGRESS`)."""

    def task(self, description: str, total: int | None = None, unit: str = "turns"):
        return Task()


NO_PROGRESS = Progress()


def on_terminal(stream=None) -> bool:
    """Whether `stream` (default stderr) is an interactive terminal."""
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _RichTask(Task):
    def __init__(self, bars, task_id):
        self._bars, self._id = bars, task_id

    def advance(self, n: int = 1) -> None:
        self._bars.advance(self._id, n)

    def set_total(self, total: int | None) -> None:
        self._bars.update(self._id, total=total)


class _RichProgress(Progress):
    def __init__(self, bars):
        self._bars = bars

    def task(self, description: str, total: int | None = None, unit: str = "turns"):
        return _RichTask(
            self._bars, self._bars.add_task(description, total=total, unit=unit)
        )


def _rate_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Units done out of the total, and units per second."""

        def render(self, task):
            unit = task.fields.get("unit", "")
            done = f"{int(task.completed):,}" + (
                f"/{int(task.total):,}" if task.total is not None else ""
            )
            speed = task.finished_speed or task.speed
            rate = f"{speed:,.1f} {unit}/s" if speed else f"? {unit}/s"
            return Text(f"{done} {unit}, {rate}", style="progress.data.speed")

    return RateColumn()


@contextlib.contextmanager
def progress_bars(enabled: bool | None = None) -> Iterator[Progress]:
    """Rich bars on stderr when `enabled` (default: stderr is a terminal)."""
    if enabled is None:
        enabled = on_terminal()
    if not enabled:
        yield NO_PROGRESS
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import (
        Progress as RichBars,
    )

    bars = RichBars(
        TextColumn("{task.description}"),
        BarColumn(),
        _rate_column(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        # stdout is the command's output (rows, a batch): never drawn on the bars
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with bars:
        yield _RichProgress(bars)
