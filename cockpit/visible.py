"""Strings made harmless to a terminal: every character it could act on spelled out as text."""

from __future__ import annotations

from cockpit.jsonvalue import JsonValue

_LAYOUT = frozenset("\n\t")


def visible(text: str, *, multiline: bool = False) -> str:
    """Every character a terminal could act on spelled out (ESC as `\\x1b`), nothing removed.

    `multiline` keeps line breaks and tabs (a saved screen, a report); otherwise they are
    spelled out too, so one value stays one line.
    """
    if text.isprintable():
        return text
    keep = _LAYOUT if multiline else frozenset()
    return "".join(char if char.isprintable() or char in keep else _escape(char) for char in text)


def ascii_digits(text: str) -> bool:
    """Whether the text is a plain whole number, 0-9 only: str.isdigit() also takes '²', which
    int() refuses, so text from outside checked with it can still raise."""
    return text.isascii() and text.isdigit()


def _escape(char: str) -> str:
    """A non-printable character as the escape a Python reader would recognise."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _items(value: dict[str, JsonValue]) -> list[tuple[str, JsonValue]]:
    """An object's items with its keys made visible on one line."""
    return [(visible(key), item) for key, item in value.items()]


def visible_json(value: JsonValue, *, multiline: bool = True) -> JsonValue:
    """The same JSON value with every string made visible; keys always on one line."""
    if isinstance(value, str):
        return visible(value, multiline=multiline)
    if isinstance(value, list):
        return [visible_json(item, multiline=multiline) for item in value]
    if isinstance(value, dict):
        return {name: visible_json(item, multiline=multiline) for name, item in _items(value)}
    return value
