"""The event log: readings that changed status, guard changes, actions and notes, newest last."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cockpit.model import Status
from cockpit.state import StatusChange

EventKind = Literal["status", "note", "action", "guard"]
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
    if change.before is None:
        moved = f"{change.after.value} (first reading)"
    else:
        moved = f"{change.before.value} → {change.after.value}"
    detail = change.reading.detail
    text = f"{change.signal_id}: {moved}" + (f": {detail}" if detail else "")
    return Event(change.reading.observed_at, change.signal_id, "status", change.after, text)


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
