"""`reactomenet`: query the Reactome pathway hierarchy (see docs/cli/reactomenet.md)."""

from __future__ import annotations

import click

from cli import _reactomenet_neo4j
from cli._common import FriendlyGroup


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="biodsnn")
def main() -> None:
    """Query the Reactome pathway hierarchy: genes, pathways, levels, masks, exports."""


for _command in _reactomenet_neo4j.COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":
    main()
