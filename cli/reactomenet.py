"""`reactomenet`: query the Reactome pathway hierarchy (see docs/cli/reactomenet.md)."""

from __future__ import annotations

import click

from cli._common import FriendlyGroup


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="biodsnn")
def main() -> None:
    """Query the Reactome pathway hierarchy: genes, pathways, levels, masks, exports."""


if __name__ == "__main__":
    main()
