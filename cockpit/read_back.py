"""A journal record's data read back: bounded in depth and every string visible.

A journal file can be edited or damaged by anyone who can write it, so what comes back from it
is outside text: a control character in it must not reach a terminal, and a value nested
thousands deep must not reach a reader that walks it recursively.
"""

from __future__ import annotations

from cockpit.jsonvalue import JsonValue
from cockpit.outside import visible

MAX_DATA_DEPTH = 64
"""Levels of arrays and objects a record's data may nest; the writer's deepest is a handful."""


class UnreadableValue(ValueError):
    """A value no cockpit writes: nested too deep."""


def readable_data(
    data: dict[str, JsonValue], source_json: str | None = None
) -> dict[str, JsonValue]:
    """The data with every string made visible (line breaks and tabs kept), or UnreadableValue.

    Keys are spelled out entirely, as a key is always shown on one line. `source_json`, the
    text the data was parsed from, saves the walk: when it holds no escape, no unprintable
    character and too few brackets to nest deeply, as most lines do, the data is readable.
    """
    if source_json is not None and _plainly_readable(source_json):
        return data
    return {visible(key): _readable(value, 1) for key, value in data.items()}


def _plainly_readable(source_json: str) -> bool:
    """Whether JSON text this plain can only hold printable strings nested a few levels."""
    brackets = source_json.count("[") + source_json.count("{")
    return brackets < MAX_DATA_DEPTH and "\\" not in source_json and source_json.isprintable()


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
    if not isinstance(value, list | dict):
        return value
    if depth >= MAX_DATA_DEPTH:
        raise UnreadableValue(f"nests deeper than {MAX_DATA_DEPTH} levels")
    if isinstance(value, list):
        return [_readable(item, depth + 1) for item in value]
    return {visible(key): _readable(item, depth + 1) for key, item in value.items()}
