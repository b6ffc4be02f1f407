"""Errors that mean "the user gave us something we cannot use".

Every package in this repository (reactomenet, kg_build, biodsnn) raises a subclass of
:class:`InputError` for bad input. The command-line layer turns it into one line on
stderr and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(ValueError):
    """Bad user input: the message names the problem and the way out.

    Example:
        >>> raise InputError("gene list genes.txt is empty: give one symbol per line")
        Traceback (most recent call last):
        ...
        reactomenet.errors.InputError: gene list genes.txt is empty: give one symbol per line
    """


class NotFoundError(InputError, KeyError):
    """A pathway, gene or file the user named does not exist (the message may suggest close matches)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ReleaseFormatError(InputError):
    """A Reactome release file (or other input table) is malformed or truncated."""


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 3, cutoff: float = 0.6) -> str:
    """The " (did you mean a, b?)" hint of an error message for a name not among ``choices``; "" if nothing is close.

    One place for the suggestion every "unknown name" error of the toolkit gives (difflib's close matches).

    Example:
        >>> did_you_mean("ful", ["full", "noVAE", "gears"])
        ' (did you mean full?)'
        >>> did_you_mean("adcy9", ["ADCY9", "ADCY1"], n=1)
        ' (did you mean ADCY9?)'
        >>> did_you_mean("xyz", ["full"])
        ''
    """
    choices = list(choices)
    # a case slip (adcy9 for ADCY9) first: difflib alone scores it low
    same = [c for c in choices if c.lower() == word.lower() and c != word]
    by_lower: dict[str, list[str]] = {}
    for c in choices:
        by_lower.setdefault(c.lower(), []).append(c)
    close = [c for low in difflib.get_close_matches(word.lower(), list(by_lower), n=n, cutoff=cutoff)
             for c in by_lower[low]]
    close = list(dict.fromkeys([*same, *(c for c in close if c != word)]))[:n]
    return f" (did you mean {', '.join(close)}?)" if close else ""
