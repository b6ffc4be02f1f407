"""`biodsnn` command group."""

from __future__ import annotations

import click

from cli._common import FriendlyGroup


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="biodsnn")
def main() -> None:
    """biodsnn commands."""


if __name__ == "__main__":
    main()
