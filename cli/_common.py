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


CONVENTION_CHOICE = click.Choice(["gears", "perturbench", "pertpy", "cell-eval"])
LOADER_OPTION_NAMES = ("convention", "condition_key", "control_label", "delimiter", "gene_name_key", "context_key",
                       "normalize")


def data_options(
    func: Any = None, *, required: bool = True, help: str = "Perturbation AnnData (.h5ad)."
) -> Any:
    """Add ``--data`` (as ``data_path``) and the data loader's options to a command: one definition for all commands.

    Usable bare (``@data_options``) or with arguments (``@data_options(required=False)``).
    """

    def decorate(f: Any) -> Any:
        options = [
            click.option("--data", "data_path", required=required, type=click.Path(dir_okay=False), help=help),
            click.option(
                "--convention", type=CONVENTION_CHOICE, default=None,
                help="Naming convention of the file: gears, perturbench, pertpy, cell-eval (default: detected).",
            ),
            click.option("--condition-key", default=None, help="obs column holding the perturbation."),
            click.option("--control-label", default=None, help="Label of control cells."),
            click.option("--delimiter", default=None, help="Separator between genes of a combination (default +)."),
            click.option(
                "--gene-name-key", default=None, help="var column with gene symbols (default gene_name or var_names)."
            ),
            click.option(
                "--context-key", default=None,
                help="obs column holding the context (cell type or line; default cell_type when present). With "
                "several values each (context, perturbation) pair is a unit with its own context's control.",
            ),
            click.option("--normalize", is_flag=True, help="X holds raw counts: normalise to 1e4 per cell and log1p."),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return decorate(func) if func is not None else decorate


def celleval_options(func: Any) -> Any:
    """The options every cell-eval writer shares (labels, contexts, --overwrite): one definition.

    Unset options stay None, so the defaults live in one place (``biodsnn.evaluate._celleval``) and the CLI starts
    without importing it; :func:`celleval_kwargs` passes on the ones given.
    """
    options = [
        click.option("--pert-col", default=None,
                     help="cell-eval: obs column of the perturbation labels (default: cell-eval's target_gene)."),
        click.option("--control-pert", "control_name", default=None,
                     help="cell-eval: label of control cells (default: cell-eval's non-targeting)."),
        click.option("--context-key", default=None,
                     help="cell-eval: obs column of the data naming contexts (default cell_type); with several values "
                          "it is written as 'celltype' (cell-eval's --celltype-col celltype)."),
        click.option("--overwrite", is_flag=True, help="cell-eval: replace an existing output file."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def celleval_kwargs(pert_col: str | None, control_name: str | None, context_key: str | None) -> dict[str, str]:
    """The keyword arguments of the cell-eval writers among :func:`celleval_options`' values (unset ones left out).

    Example:
        >>> celleval_kwargs("gene", None, None)
        {'pert_col': 'gene'}
    """
    given = {"pert_col": pert_col, "control_label": control_name, "context_key": context_key}
    return {k: v for k, v in given.items() if v is not None}


def loader_options(values: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for ``load_perturb_data`` among a command's option values (unset ones left out).

    Example:
        >>> loader_options({"convention": "pertpy", "delimiter": None, "normalize": False, "epochs": 3})
        {'convention': 'pertpy'}
    """
    out = {k: values[k] for k in LOADER_OPTION_NAMES if k in values and values[k] is not None}
    if not out.get("normalize"):
        out.pop("normalize", None)
    return out


def load_data(data_path: str, values: dict[str, Any]) -> Any:
    """Load a perturbation AnnData with the loader options found in ``values`` (a command's option values)."""
    from pathlib import Path

    from biodsnn.data import load_perturb_data

    return load_perturb_data(str(Path(data_path).resolve()), **loader_options(values))


def setting_value(text: str) -> object:
    """A ``KEY=VALUE`` option's value: ``true``/``false`` → bool, then int, then float, else the text.

    Example:
        >>> [setting_value(t) for t in ("true", "3", "0.95", "cell")]
        [True, 3, 0.95, 'cell']
    """
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
