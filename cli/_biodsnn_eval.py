"""Commands contributed to a command group (registered through COMMANDS)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
