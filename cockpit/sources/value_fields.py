"""Tolerant readers of one reading value: the type a reader expects, or None (never a made-up 0).

A reading read back from a journal may hold anything, so every typed decoder goes through these.
"""

from __future__ import annotations

from cockpit.jsonvalue import json_int, json_number
from cockpit.model import Value


def number(value: Value) -> float | None:
    """A number as a float, or None when it is not one (as Reading.number reads it)."""
    return json_number(value) if isinstance(value, int | float) else None


def whole_number(value: Value) -> int | None:
    """A number cut to an int, as a count is shown; None when it is not a number."""
    found = number(value)
    return None if found is None else int(found)


def exact_int(value: Value) -> int | None:
    """An int (not a bool, not a float), or None."""
    return json_int(value) if isinstance(value, int) else None


def text(value: Value) -> str | None:
    return value if isinstance(value, str) else None


def said_text(value: Value) -> str | None:
    """Any value that says something (not empty, not 0), as text; None otherwise."""
    return str(value) if value else None


def flag(value: Value) -> bool | None:
    return value if isinstance(value, bool) else None


def texts(value: Value) -> tuple[str, ...]:
    """The strings of a list; empty when it is not one."""
    if not isinstance(value, tuple):
        return ()
    return tuple(item for item in value if isinstance(item, str))
