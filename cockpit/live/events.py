"""The event log: readings that changed status, guard changes, actions and notes, newest last."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cockpit.jsonvalue import JsonValue
from cockpit.live.state import StatusChange
from cockpit.model import Status

EventKind = Literal["status", "note", "action", "guard", "drift"]
DEFAULT_EVENT_LOG_SIZE = 500


@dataclass(frozen=True)
class Event:
    """One thing that happened, at the moment it was observed, in a sentence."""

    at: datetime
    signal_id: str
    kind: EventKind
    status: Status | None
    text: str


def event_from_change(change: StatusChange) -> Event:
    """'replication: ok → warn: replay paused'; a first reading says '(first reading)'."""
    reading = change.reading
    return status_event(
        reading.observed_at, change.signal_id, change.before, change.after, reading.detail
    )


def status_event(
    at: datetime, signal_id: str, before: Status | None, after: Status, detail: str
) -> Event:
    """The event for one signal's status change, live or read back from a journal."""
    text = status_text(signal_id, before.value if before else None, after.value, detail)
    return Event(at, signal_id, "status", after, text)


def status_text(signal_id: str, before: str | None, after: JsonValue, detail: str) -> str:
    """'replication: ok → warn: replay paused', or 'ok (first reading)' for a first sight."""
    moved = f"{after} (first reading)" if before is None else f"{before} → {after}"
    return f"{signal_id}: {moved}" + (f": {detail}" if detail else "")


def events_from_changes(changes: Sequence[StatusChange]) -> list[Event]:
    """One status event per change, in the order the changes came."""
    return [event_from_change(change) for change in changes]


class EventLog:
    """The newest events, oldest dropped first once `maxlen` is reached."""

    def __init__(self, maxlen: int = DEFAULT_EVENT_LOG_SIZE) -> None:
        if maxlen < 1:
            raise ValueError(f"an event log holds at least one event, not {maxlen}")
        self._events: deque[Event] = deque(maxlen=maxlen)

    @property
    def maxlen(self) -> int:
        return self._events.maxlen or 0

    def __len__(self) -> int:
        return len(self._events)

    def add(self, events: Iterable[Event]) -> None:
        """Appends these events after the ones held (newest last)."""
        self._events.extend(events)

    def latest(self, n: int) -> tuple[Event, ...]:
        """The newest `n` events, newest last; () for n under 1."""
        if n < 1:
            return ()
        return tuple(self._events)[-n:]


def guard_event_text(title: str, reasons: Sequence[str]) -> str:
    """'Promote replica: READY', or BLOCKED with the first reason and how many guards block."""
    if not reasons:
        return f"{title}: READY"
    count = f" ({len(reasons)} guards)" if len(reasons) > 1 else ""
    return f"{title}: BLOCKED{count}: {reasons[0]}"
