"""What every command shares: one-line errors with exit status 2, never a traceback for user errors."""

from __future__ import annotations

import sys
from typing import Any

import click

from reactomenet.errors import InputError

USER_ERROR_EXIT = 2


def fail(message: str) -> None:
    """Print ``error: message`` on stderr and exit with status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(USER_ERROR_EXIT)


class FriendlyGroup(click.Group):
    """A click group that turns user errors into one line on stderr and exit status 2.

    ``InputError`` (raised by all three packages for bad input) and ``OSError`` (a file that cannot
    be read or written) are user errors; anything else is a bug and keeps its traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            fail(str(exc))
        except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
            name = exc.filename or ""
            fail(f"{exc.strerror or exc}: {name}".rstrip(": "))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
