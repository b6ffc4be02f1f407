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
from rich.text import Text

stderr_console = Console(stderr=True)


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
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _InfoColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        transient=transient,
        disable=disabled,
    )
