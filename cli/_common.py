"""What every command shares: one-line errors with exit status 2, never a traceback for user errors."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from reactomenet.errors import InputError, did_you_mean

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


class RegistryChoice(click.Choice):
    """A choice among the names of a registry, read from the registry when first needed, not when the CLI starts.

    ``source`` is ``"module:attribute"``: a dict (its keys are the names) or a sequence of names. The names are read
    when a value is checked, completed or shown in the command's own ``--help``, so ``biodsnn --help`` imports no
    registry. ``in_help=False`` shows ``metavar`` instead of the names, for a registry whose module imports torch
    (the names are still checked, and listed in the error, when the command runs). ``separator`` accepts a list
    such as ``control,mean`` (the value is passed on as given) and ``extra`` words besides the names (``all``).
    An unknown name is an :class:`InputError`: one ``error:`` line with close matches, exit 2.

    Example:
        >>> kinds = RegistryChoice("biodsnn.data:KINDS", what="split kind")
        >>> kinds.convert("single", None, None)
        'single'
        >>> RegistryChoice("reactomenet.backends:BACKENDS").choices
        ('networkx', 'neo4j')
    """

    def __init__(self, source: str, *, what: str = "name", in_help: bool = True, metavar: str = "NAME",
                 separator: str | None = None, extra: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        # click.Choice.__init__ would store the choices now; they are read on first use instead
        self.source, self.what, self.in_help, self.metavar = source, what, in_help, metavar
        self.separator, self.extra, self.exclude = separator, tuple(extra), tuple(exclude)
        self.case_sensitive = True
        self._names: tuple[str, ...] | None = None

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        """The registry's names (imported on first use), minus ``exclude``, plus ``extra``."""
        if self._names is None:
            module, _, attribute = self.source.partition(":")
            names = getattr(importlib.import_module(module), attribute)
            self._names = tuple(str(n) for n in names if n not in self.exclude) + self.extra
        return self._names

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        if not self.in_help:
            return self.metavar
        names = "|".join(self.choices)
        return f"[{names}]" + (f"{self.separator}…" if self.separator else "")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        items = [i.strip() for i in str(value).split(self.separator)] if self.separator else [str(value)]
        extra = {e.lower() for e in self.extra}
        for item in items:
            if item not in self.choices and item.lower() not in extra and not (self.separator and not item):
                hint = did_you_mean(item, self.choices)
                raise InputError(f"unknown {self.what} {item!r}{hint}; choose {', '.join(self.choices)}")
        return value


CONVENTION_CHOICE = RegistryChoice("biodsnn.data:CONVENTIONS", what="convention")
#: biodsnn.variants is torch-free, so --help lists the names without importing torch.
VARIANT_CHOICE = RegistryChoice("biodsnn.variants:VARIANTS", what="BioDSNN variant")
BASELINES_CHOICE = RegistryChoice("biodsnn.baselines:BASELINES", what="baseline", separator=",", extra=("all", "none"))
LOADER_OPTION_NAMES = ("convention", "condition_key", "control_label", "delimiter", "gene_name_key", "context_key",
                       "normalize", "backed")


def _option_group(options: list[Any], func: Any) -> Any:
    """Apply ``options`` (top first, as ``--help`` lists them) to ``func``, or return the decorator that does when
    ``func`` is None: what makes an option group usable bare (``@group``) and with arguments (``@group(...)``)."""

    def decorate(f: Any) -> Any:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate(func) if func is not None else decorate


def data_options(
    func: Any = None, *, required: bool = True, help: str = "Perturbation AnnData (.h5ad or .zarr)."
) -> Any:
    """Add ``--data`` (as ``data_path``) and the data loader's options to a command: one definition for all commands.

    Usable bare (``@data_options``) or with arguments (``@data_options(required=False)``).
    """
    options = [
        click.option("--data", "data_path", required=required, type=click.Path(), help=help),
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
        click.option("--backed", is_flag=True,
                     help="Out-of-core: leave X (CSR) in the .h5ad/.zarr file and read cells on demand, for files "
                     "larger than memory (slower per epoch; docs/scaling.md)."),
    ]
    return _option_group(options, func)


def celleval_options(func: Any = None, *, context: bool = True) -> Any:
    """The options every cell-eval writer shares (labels, contexts, --overwrite): one definition.

    Unset options stay None, so the defaults live in one place (``biodsnn.evaluate._celleval``) and the CLI starts
    without importing it; :func:`celleval_kwargs` passes on the ones given. Usable bare or as
    ``@celleval_options(context=False)`` on a command whose :func:`data_options` already has ``--context-key`` (the
    same column names the contexts for the loader and for the writer).
    """
    options = [
        click.option("--pert-col", default=None,
                     help="cell-eval: obs column of the perturbation labels (default: cell-eval's target_gene)."),
        click.option("--control-pert", "control_name", default=None,
                     help="cell-eval: label of control cells (default: cell-eval's non-targeting)."),
        *([click.option("--context-key", default=None,
                        help="cell-eval: obs column of the data naming contexts (default cell_type); with several "
                             "values it is written as 'celltype' (cell-eval's --celltype-col celltype).")]
          if context else []),
        click.option("--overwrite", is_flag=True, help="cell-eval: replace an existing output file."),
    ]
    return _option_group(options, func)


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
    for flag in ("normalize", "backed"):  # flags: only when set
        if not out.get(flag):
            out.pop(flag, None)
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
