"""The JSON value type shared by the journal, the redactor and reports, and safe accessors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

JsonScalar: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]


def json_string(value: JsonValue) -> str | None:
    """The value when it is a JSON string, else None (never a list or number as text)."""
    return value if isinstance(value, str) else None


def json_text(value: JsonValue) -> str:
    """The value as text; empty for null."""
    return "" if value is None else str(value)


def json_texts(value: JsonValue) -> list[str]:
    """Each item of a JSON array as text; empty when it is not an array."""
    return [json_text(item) for item in json_items(value)]


def json_text_values(value: JsonValue) -> list[JsonValue]:
    """Each item of a JSON array as text, typed as JSON values for a document."""
    return [json_text(item) for item in json_items(value)]


def json_items(value: JsonValue) -> list[JsonValue]:
    """The items of a JSON array; empty when the value is not an array."""
    return value if isinstance(value, list) else []


def json_object(value: JsonValue) -> dict[str, JsonValue]:
    """The JSON object; empty when the value is not an object."""
    return value if isinstance(value, dict) else {}


def json_number(value: JsonValue) -> float | None:
    """The number as a float; None for booleans, anything not a number and integers too large
    for a float (a journal read back may hold one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def json_int(value: JsonValue) -> int | None:
    """The value when it is a JSON integer (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def json_distinct(values: Iterable[JsonValue]) -> list[JsonValue]:
    """The non-null values in first-seen order, each once."""
    found: list[JsonValue] = []
    for value in values:
        if value is not None and value not in found:
            found.append(value)
    return found
