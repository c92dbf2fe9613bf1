"""A journal record's data read back: bounded in depth and every string visible.

A journal file can be edited or damaged by anyone who can write it, so what comes back from it
is outside text: a control character in it must not reach a terminal, and a value nested
thousands deep must not reach a reader that walks it recursively.
"""

from __future__ import annotations

from cockpit.jsonvalue import JsonValue
from cockpit.visible import visible_json

MAX_DATA_DEPTH = 64
"""Levels of arrays and objects a record's data may nest; the writer's deepest is a handful."""


class UnreadableValue(ValueError):
    """A value no cockpit writes: nested too deep."""


def readable_data(
    data: dict[str, JsonValue], source_json: str | None = None
) -> dict[str, JsonValue]:
    """The data with every string made visible (line breaks and tabs kept), or UnreadableValue.

    `source_json`, the text the data was parsed from, saves the walk: when it holds no escape,
    no unprintable character and too few brackets to nest deeply, as most lines do, the data
    is readable as it is.
    """
    if source_json is not None and _plainly_readable(source_json):
        return data
    _check_depth(data, 0)
    readable = visible_json(data)
    assert isinstance(readable, dict)
    return readable


def _plainly_readable(source_json: str) -> bool:
    """Whether JSON text this plain can only hold printable strings nested a few levels."""
    brackets = source_json.count("[") + source_json.count("{")
    return brackets < MAX_DATA_DEPTH and "\\" not in source_json and source_json.isprintable()


def _check_depth(value: JsonValue, depth: int) -> None:
    """UnreadableValue when arrays and objects nest deeper than MAX_DATA_DEPTH below `value`."""
    if not isinstance(value, list | dict):
        return
    if depth >= MAX_DATA_DEPTH:
        raise UnreadableValue(f"nests deeper than {MAX_DATA_DEPTH} levels")
    for item in value.values() if isinstance(value, dict) else value:
        _check_depth(item, depth + 1)
