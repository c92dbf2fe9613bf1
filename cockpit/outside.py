"""Text from outside (servers, logs, AWS, DNS, journals read back) made fit to record and show.

The one sanitizer: every string that arrives from outside the process passes `outside_text`
(or `visible` when it must keep its length) before it enters a Reading, an action result or a
journal record, and again when a journal is read back.
"""

from __future__ import annotations

from cockpit.redact import known_secrets
from cockpit.visible import visible, visible_json

__all__ = ["DEFAULT_LIMIT_CHARS", "outside_text", "visible", "visible_json"]

DEFAULT_LIMIT_CHARS = 200
_WHITESPACE = frozenset("\t\n\r\v\f")


def outside_text(text: str, limit: int = DEFAULT_LIMIT_CHARS) -> str:
    """Redacted whole first, then made visible on one line, then cut with an ellipsis.

    Redacting before cutting keeps a secret from surviving as a prefix too short to recognise.
    """
    redacted = known_secrets().text(text)
    spaced = "".join(" " if char in _WHITESPACE else char for char in redacted)
    one_line = " ".join(visible(spaced).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + "…"
