"""`biodsnn`: simulate and load perturbation data, fit and apply the model, evaluate against baselines."""

from __future__ import annotations

import click

from cli import _biodsnn_data, _biodsnn_eval, _biodsnn_model
from cli._common import FriendlyGroup


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="biodsnn")
def main() -> None:
    """Predict genetic perturbation responses with BioDSNN, and score them against baselines."""


for _module in (_biodsnn_data, _biodsnn_model, _biodsnn_eval):
    for _command in _module.COMMANDS:
        main.add_command(_command)

if __name__ == "__main__":
    main()
