"""Text from outside (servers, logs, AWS, DNS, journals read back) made fit to record and show.

The one sanitizer: every string that arrives from outside the process passes `outside_text`
(or `visible` when it must keep its length) before it enters a Reading, an action result or a
journal record, and again when a journal is read back.
"""

from __future__ import annotations

from cockpit.jsonvalue import JsonValue
from cockpit.redact import known_secrets

DEFAULT_LIMIT_CHARS = 200
_WHITESPACE = frozenset("\t\n\r\v\f")


def visible(text: str) -> str:
    """Every character a terminal could act on spelled out (ESC as `\\x1b`), nothing removed.

    Line breaks and tabs are also spelled out here; `outside_text` turns them into spaces.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    """A non-printable character as the escape a Python reader would recognise."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def outside_text(text: str, limit: int = DEFAULT_LIMIT_CHARS) -> str:
    """Redacted whole first, then made visible on one line, then cut with an ellipsis.

    Redacting before cutting keeps a secret from surviving as a prefix too short to recognise.
    """
    redacted = known_secrets().text(text)
    spaced = "".join(" " if char in _WHITESPACE else char for char in redacted)
    one_line = " ".join(visible(spaced).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + "…"


def visible_json(value: JsonValue) -> JsonValue:
    """The same JSON value with every string (keys too) made visible, however nested."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, list):
        return [visible_json(item) for item in value]
    if isinstance(value, dict):
        return {visible(key): visible_json(item) for key, item in value.items()}
    return value
