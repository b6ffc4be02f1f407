"""Condition names: the one place that parses and formats them.

GEARS' convention, canonicalised: ``ctrl`` for control, ``A+ctrl`` for a single, ``A+B`` (genes sorted) for a
double, ``A+B+C`` for more. Other conventions (PerturBench ``control``, cell-eval ``non-targeting``, a bare ``A``)
are read through the ``control_label`` and ``delimiter`` options and always written back canonically.

With several contexts (cell types or lines) the unit of a dataset is a (context, perturbation) pair, written
``CONTEXT|A+B`` (``T98G|SOX2+ctrl``, ``T98G|ctrl`` for that line's control): :func:`parse_condition` ignores the
context, :func:`split_context` and :func:`format_unit` read and write it, :func:`canonical_condition` keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable

from reactomenet.errors import InputError

CONTROL = "ctrl"
DELIMITER = "+"
#: Separates a context from its perturbation in a unit name (``T98G|SOX2+ctrl``).
CONTEXT_SEP = "|"


def split_context(name: str) -> tuple[str | None, str]:
    """Split a unit name into its context (None without one) and its condition.

    Example:
        >>> split_context("T98G|SOX2+ctrl"), split_context("A+B")
        (('T98G', 'SOX2+ctrl'), (None, 'A+B'))
    """
    text = str(name).strip()
    if CONTEXT_SEP not in text:
        return None, text
    context, rest = (t.strip() for t in text.split(CONTEXT_SEP, 1))
    if not context:
        raise InputError(f"unit {name!r} has an empty context before {CONTEXT_SEP!r}; write CONTEXT{CONTEXT_SEP}A+B")
    return context, rest


def format_unit(context: str | None, genes: Iterable[str]) -> str:
    """The canonical name of a perturbation of ``genes`` in ``context`` (None: no context).

    Example:
        >>> format_unit("T98G", ["SOX2"]), format_unit(None, ["B", "A"]), format_unit("U87MG", [])
        ('T98G|SOX2+ctrl', 'A+B', 'U87MG|ctrl')
    """
    cond = format_condition(genes)
    return cond if context is None else f"{context}{CONTEXT_SEP}{cond}"


def parse_condition(
    name: str, *, control_label: str | Iterable[str] = CONTROL, delimiter: str = DELIMITER
) -> tuple[str, ...]:
    """Return the perturbed genes of a condition name, sorted; ``()`` for control.

    Tokens equal to the control label (and always ``ctrl``) are dropped, so ``A+ctrl``, ``ctrl+A`` and a bare ``A``
    are the same single. Surrounding whitespace and a context prefix (``T98G|``) are ignored.

    Args:
        name: The condition as written in the file (``"B+A"``, ``"A+ctrl"``, ``"non-targeting"``).
        control_label: The label (or labels) that mean control in this file.
        delimiter: What separates genes in a combination.

    Returns:
        The perturbed genes, sorted and unique.

    Raises:
        InputError: When the name is empty or repeats a gene (``A+A``).

    Example:
        >>> parse_condition("B+A"), parse_condition("A+ctrl"), parse_condition("ctrl")
        (('A', 'B'), ('A',), ())
        >>> parse_condition("non-targeting", control_label="non-targeting")
        ()
    """
    labels = {control_label} if isinstance(control_label, str) else set(control_label)
    labels.add(CONTROL)
    text = split_context(name)[1]
    if not text:
        raise InputError("empty condition name: every cell needs a condition (use the control label for controls)")
    if text in labels:
        return ()
    tokens = [t.strip() for t in text.split(delimiter)] if delimiter else [text]
    genes = [t for t in tokens if t and t not in labels]
    if len(set(genes)) != len(genes):
        raise InputError(f"condition {name!r} names a gene twice; write each perturbed gene once")
    return tuple(sorted(genes))


def format_condition(genes: Iterable[str]) -> str:
    """Return the canonical name of a perturbation of ``genes`` (order does not matter).

    Example:
        >>> format_condition(("B", "A")), format_condition(("A",)), format_condition(())
        ('A+B', 'A+ctrl', 'ctrl')
    """
    unique = sorted(set(genes))
    if not unique:
        return CONTROL
    if len(unique) == 1:
        return f"{unique[0]}{DELIMITER}{CONTROL}"
    return DELIMITER.join(unique)


def canonical_condition(name: str, *, control_label: str | Iterable[str] = CONTROL, delimiter: str = DELIMITER) -> str:
    """Return the canonical spelling of a condition (or unit) name; a context prefix is kept.

    Example:
        >>> canonical_condition("B+A"), canonical_condition("A"), canonical_condition("T98G|SOX2")
        ('A+B', 'A+ctrl', 'T98G|SOX2+ctrl')
        >>> canonical_condition("control", control_label="control")
        'ctrl'
    """
    context, rest = split_context(name)
    return format_unit(context, parse_condition(rest, control_label=control_label, delimiter=delimiter))


def condition_genes(conditions: Iterable[str]) -> list[str]:
    """Return the sorted distinct genes perturbed in ``conditions`` (canonical names).

    Example:
        >>> condition_genes(["A+ctrl", "A+B", "ctrl"])
        ['A', 'B']
    """
    out: set[str] = set()
    for cond in conditions:
        out.update(parse_condition(cond))
    return sorted(out)
