"""Words that both the report document and its Markdown rendering use, so they match."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from cockpit.io.traffic import split_percent
from cockpit.jsonvalue import JsonValue, json_int, json_object, json_text
from cockpit.units import percent_number

INTACT_WORDS = "Chain intact"
MAX_WEIGHT = 1_000_000
"""Route 53 weights go to 255 and ALB weights to 999; a larger one read back is not a weight."""
NAMED_OUTCOMES = ("succeeded", "failed", "refused", "cancelled")


def weights_percent(raw: JsonValue) -> tuple[float, float] | None:
    """(old %, new %) from raw weights as recorded, or None when they are not two weights."""
    weights = json_object(raw)
    old, new = json_int(weights.get("old")), json_int(weights.get("new"))
    if old is None or new is None or not (0 <= old <= MAX_WEIGHT and 0 <= new <= MAX_WEIGHT):
        return None
    return split_percent(old, new)


def baseline_words(data: Mapping[str, JsonValue]) -> str:
    """'weights old 100 % / new 0 %, maintenance off' from a baseline record."""
    weights = weights_percent(data.get("weights"))
    on = data.get("maintenance_on")
    parts = [
        f"weights {weights_words(weights)}" if weights else "weights unknown",
        f"maintenance {on_off(on)}" if isinstance(on, bool) else "maintenance unknown",
    ]
    return ", ".join(parts)


def weights_words(weights: tuple[float, float]) -> str:
    """'old 95 % / new 5 %' from (old %, new %)."""
    return f"old {percent_number(weights[0])} % / new {percent_number(weights[1])} %"


def on_off(on: JsonValue) -> str:
    """'on', 'off' or 'unknown' for a recorded flag."""
    return "on" if on is True else "off" if on is False else "unknown"


def date_time(iso: JsonValue) -> str:
    """'2026-11-22 01:11:40' from an ISO timestamp; shorter text as is, '?' when empty."""
    text = json_text(iso)
    return f"{text[:10]} {text[11:19]}" if len(text) >= 19 else text or "?"


def count_words(outcomes: Counter[str], *, named: bool = False) -> str:
    """'3 succeeded, 1 failed, 2 refused, 0 cancelled, 1 aborted': the named four always."""
    shown = [f"{outcomes.get(name, 0)} {name}" for name in NAMED_OUTCOMES] if named else []
    shown += [
        f"{count} {name}"
        for name, count in sorted(outcomes.items())
        if count and not (named and name in NAMED_OUTCOMES)
    ]
    return ", ".join(shown)
