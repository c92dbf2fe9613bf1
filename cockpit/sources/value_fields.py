"""Tolerant readers of single reading values, shared by the families' typed decoders.

A value read back from a journal may hold anything, so each reader returns None for a value of
the wrong type, as every consumer treated it before the values were typed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def number_field(value: object) -> float | None:
    """A number as the reading holds it (an int stays an int); None for anything else or a bool."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return value if math.isfinite(float(value)) else None
    except OverflowError:
        return None


def whole_field(value: object) -> int | None:
    """A whole number; an integral float counts as one, anything else (a bool too) is None."""
    number = number_field(value)
    if isinstance(number, float):
        return int(number) if number.is_integer() else None
    return number


def bool_field(value: object) -> bool | None:
    """True or False; None for anything else."""
    return value if isinstance(value, bool) else None


def text_field(value: object) -> str | None:
    """A string; None for anything else."""
    return value if isinstance(value, str) else None


def mapping_field(value: object) -> Mapping[str, object] | None:
    """A table of values (a JSON object or a frozen mapping); None for anything else."""
    return value if isinstance(value, Mapping) else None


def sequence_field(value: object) -> Sequence[object] | None:
    """A list of values (a JSON list or a frozen tuple); None for anything else, text included."""
    return value if isinstance(value, list | tuple) else None


def rows_of(value: object) -> tuple[Mapping[str, object], ...]:
    """The tables in a list of values; an entry that is not a table is skipped."""
    items = sequence_field(value) or ()
    return tuple(item for item in items if isinstance(item, Mapping))


def said_text(value: object) -> str | None:
    """Any value that says something (not empty, not 0, not False), as text; None otherwise."""
    return str(value) if value else None


def texts_field(value: object) -> tuple[str, ...]:
    """The strings of a list of values; empty when it is not a list."""
    return tuple(item for item in sequence_field(value) or () if isinstance(item, str))
