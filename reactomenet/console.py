"""The one rich progress bar every long step in this repository uses.

Progress goes to stderr so that stdout stays clean for results (`reactomenet genes-of … > genes.txt`).
Set ``BIODSNN_NO_PROGRESS=1`` (or run without a terminal under CI) to silence it.
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

stderr_console = Console(stderr=True)

#: Below this terminal width one time column (remaining, then elapsed once done) replaces the two.
WIDE = 100


class _InfoColumn(ProgressColumn):
    """A task's optional ``info`` field (loss, current item…); empty when the task has none."""

    def render(self, task: Task) -> Text:
        return Text(str(task.fields.get("info", "")))


def progress_bar(*, transient: bool = False, enabled: bool = True) -> Progress:
    """Return a rich Progress writing to stderr; disabled when BIODSNN_NO_PROGRESS is set or ``enabled`` is False
    (a caller's ``progress=False``: the bar still accepts tasks and updates, and draws nothing).

    Example:
        >>> with progress_bar() as bar:
        ...     task = bar.add_task("loading", total=2)  # info= is optional
        ...     bar.update(task, advance=2, info="done")
    """
    disabled = bool(os.environ.get("BIODSNN_NO_PROGRESS")) or not enabled
    # Every column but the bar keeps to one line, so on a narrow terminal the bar shrinks instead of the task's info
    # (a training epoch's loss and validation metric) wrapping onto a second line.
    def one_line() -> Column:
        return Column(no_wrap=True)

    times: list[ProgressColumn] = [TimeElapsedColumn(table_column=one_line()),
                                   TimeRemainingColumn(table_column=one_line())]
    if stderr_console.width < WIDE:
        times = [TimeRemainingColumn(elapsed_when_finished=True, table_column=one_line())]
    return Progress(
        TextColumn("[bold]{task.description}", table_column=one_line()),
        BarColumn(),
        MofNCompleteColumn(table_column=one_line()),
        _InfoColumn(table_column=one_line()),
        *times,
        console=stderr_console,
        transient=transient,
        disable=disabled,
    )
