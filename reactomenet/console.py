"""The one rich progress bar every long step in this repository uses.

Progress goes to stderr so that stdout stays clean for results (`reactomenet genes-of … > genes.txt`).
Set ``BIODSNN_NO_PROGRESS=1`` (or run without a terminal under CI) to silence it.
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

stderr_console = Console(stderr=True)


def progress_bar(*, transient: bool = False) -> Progress:
    """Return a rich Progress writing to stderr; disabled when BIODSNN_NO_PROGRESS is set.

    Example:
        >>> with progress_bar() as bar:
        ...     task = bar.add_task("loading", total=2)
        ...     bar.advance(task, 2)
    """
    disabled = bool(os.environ.get("BIODSNN_NO_PROGRESS"))
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}", justify="left"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        transient=transient,
        disable=disabled,
    )
