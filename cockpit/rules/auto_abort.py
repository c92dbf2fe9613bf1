"""Auto-abort: after a step up, if the new side's 5xx ratio stays over the limit, step back.

Pure: judge() takes the watch and the state and returns the next watch and a verdict; the app
runs the shift back when the verdict says fire. No data pauses the watch: it neither fires nor
lets the weight go further (the weight-up guard blocks on no data too).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from cockpit.config import AutoAbort
from cockpit.jsonvalue import JsonValue
from cockpit.live.state import State
from cockpit.model import SignalKind, Status
from cockpit.sources import errors_values
from cockpit.units import age_text, percent_number

VerdictKind = Literal["off", "idle", "watching", "over", "paused", "fire"]


@dataclass(frozen=True)
class AutoAbortWatch:
    """Armed by a completed step up; remembers since when the new side has been over."""

    armed_at: datetime | None = None
    over_since: datetime | None = None


@dataclass(frozen=True)
class AutoAbortVerdict:
    """What auto-abort thinks now, in a line for the screen and facts for the journal."""

    kind: VerdictKind
    text: str
    facts: dict[str, JsonValue]


def armed(now: datetime) -> AutoAbortWatch:
    return AutoAbortWatch(armed_at=now)


def new_side_ratio(state: State, now: datetime) -> tuple[float | None, str]:
    """The highest fresh new-side 5xx ratio, or None and why there is none."""
    readings = [r for r in state.readings() if r.kind is SignalKind.ERRORS]
    new_side = [r for r in readings if errors_values.is_new_side(r.signal_id)]
    usable = [
        ratio
        for r in new_side
        if r.status_at(now) not in (Status.STALE, Status.UNKNOWN)
        and (ratio := errors_values.from_reading(r).error_ratio) is not None
    ]
    if not usable:
        return None, "no fresh 5xx data from the new side"
    return max(usable), ""


def judge(
    watch: AutoAbortWatch, state: State, settings: AutoAbort, now: datetime
) -> tuple[AutoAbortWatch, AutoAbortVerdict]:
    """The watch after looking at `state` at `now`, and whether to shift back now."""
    if not settings.enabled:
        return watch, AutoAbortVerdict("off", "auto-abort off (guards.auto_abort.enabled)", {})
    if watch.armed_at is None:
        return watch, AutoAbortVerdict("idle", "auto-abort: armed after the next step up", {})
    ratio, why = new_side_ratio(state, now)
    limit = settings.max_error_ratio
    if ratio is None:
        return watch, AutoAbortVerdict("paused", f"auto-abort PAUSED: {why}", {})
    facts: dict[str, JsonValue] = {"new_error_ratio": ratio, "max_error_ratio": limit}
    said = f"new 5xx {percent_number(ratio * 100)} %"
    if ratio <= limit:
        text = f"auto-abort watching: {said} ≤ {percent_number(limit * 100)} %"
        return replace(watch, over_since=None), AutoAbortVerdict("watching", text, facts)
    over_since = watch.over_since or now
    held = (now - over_since).total_seconds()
    facts |= {"over_for_seconds": round(held, 1), "hold_seconds": settings.hold_seconds}
    if held >= settings.hold_seconds:
        text = (
            f"new side 5xx {percent_number(ratio * 100)} % over {percent_number(limit * 100)} % "
            f"for {age_text(held)}"
        )
        return AutoAbortWatch(), AutoAbortVerdict("fire", text, facts)
    text = (
        f"auto-abort: {said} > {percent_number(limit * 100)} % for {age_text(held)} "
        f"of {age_text(settings.hold_seconds)}"
    )
    return replace(watch, over_since=over_since), AutoAbortVerdict("over", text, facts)
