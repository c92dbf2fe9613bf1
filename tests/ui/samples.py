"""Readings recorded from the real sandbox (cockpit check --json), for screen tests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from cockpit.model import Reading, SignalKind, Status, reading_from_json
from widgets.panel import GUTTER

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def recorded_readings(name: str = "check_busy.json") -> tuple[Reading, ...]:
    """Sandbox readings: lag building, split 75/25, an error burst on new, a failing resolver."""
    document = json.loads((FIXTURES / name).read_text())
    return tuple(reading_from_json(item) for item in document["readings"])


def moment_after(readings: tuple[Reading, ...], seconds: float = 1.0) -> datetime:
    """A frozen 'now' just after the newest reading, so every reading is fresh."""
    return max(r.observed_at for r in readings) + timedelta(seconds=seconds)


def failed(signal_id: str, kind: SignalKind, at: datetime, reason: str) -> Reading:
    """What the poller makes of a failed poll: UNKNOWN with the reason."""
    return Reading(signal_id, kind, Status.UNKNOWN, at, {"error": reason}, reason, 5.0)


def without_gutter(drawn: str) -> str:
    """A panel's drawn text without the selection column left of every line."""
    return "\n".join(line[GUTTER:] for line in drawn.split("\n"))
