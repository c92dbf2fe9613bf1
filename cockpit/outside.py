"""Text from outside (servers, logs, AWS, DNS) made fit for a reading, the journal and a screen."""

from __future__ import annotations

from cockpit.redact import Redactor

DEFAULT_LIMIT_CHARS = 200
_SHAPE_REDACTOR = Redactor()


def outside_text(text: str, limit: int = DEFAULT_LIMIT_CHARS) -> str:
    """Redacted whole first, then printable on one line, then cut with an ellipsis.

    Redacting before cutting keeps a secret from surviving as a prefix too short to recognise.
    """
    redacted = _SHAPE_REDACTOR.text(text)
    printable = "".join(char if char.isprintable() else " " for char in redacted)
    one_line = " ".join(printable.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + "…"
