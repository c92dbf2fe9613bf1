"""A journal record's data read back: bounded in depth, numbers finite, every string visible.

A journal file can be edited or damaged by anyone who can write it, so what comes back from it
is outside text: a control character in it must not reach a terminal, and a value nested
thousands deep or an infinite number (`1e999` parses as one) must not reach a reader.
"""

from __future__ import annotations

import math

from cockpit.jsonvalue import JsonValue
from cockpit.outside import visible

MAX_DATA_DEPTH = 64
"""Levels of arrays and objects a record's data may nest; the writer's deepest is a handful."""


class UnreadableValue(ValueError):
    """A value no cockpit writes: nested too deep, or an infinite number."""


def readable_data(data: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """The data with every string made visible (line breaks and tabs kept), or UnreadableValue.

    Keys are spelled out entirely, as a key is always shown on one line.
    """
    return {visible(key): _readable(value, 1) for key, value in data.items()}


def readable_text(text: str) -> str:
    """The text with every control character spelled out (ESC as `\\x1b`) but line breaks and
    tabs, which a multi-line value such as a saved screen needs."""
    if text.isprintable():
        return text
    return "\n".join(
        "\t".join(visible(part) for part in line.split("\t")) for line in text.split("\n")
    )


def _readable(value: JsonValue, depth: int) -> JsonValue:
    """One value made readable at `depth` levels below the data."""
    if isinstance(value, str):
        return readable_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, int):
        return value
    if depth >= MAX_DATA_DEPTH:
        raise UnreadableValue(f"nests deeper than {MAX_DATA_DEPTH} levels")
    if isinstance(value, list):
        return [_readable(item, depth + 1) for item in value]
    return {visible(key): _readable(item, depth + 1) for key, item in value.items()}


def _finite(value: float) -> float:
    """The number, when it is finite: the writer refuses infinity, so one here is damage."""
    if not math.isfinite(value):
        raise UnreadableValue(f"holds the number {value}, which no cockpit writes")
    return value
