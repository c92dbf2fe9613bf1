"""The event log: readings that changed status, guard changes, actions and notes, newest last."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from cockpit.jsonvalue import JsonValue
from cockpit.live.state import StatusChange
from cockpit.model import Status
from cockpit.units import coarse_duration_text

EventKind = Literal["status", "note", "action", "guard", "drift"]
DEFAULT_EVENT_LOG_SIZE = 500
FLAP_WINDOW_SECONDS = 300.0
"""Changes of one signal this close to the one before belong to the same run of flapping."""
FLAP_MIN_CHANGES = 3
"""A run this long or longer is shown as one line; shorter runs keep their own lines."""
FLAP_ARROW = "⇄"
FOLDING_KINDS: frozenset[EventKind] = frozenset({"status", "guard"})


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


def action_event_text(title: str, message: str) -> str:
    """The outcome's message, led by the action's title unless it already names it."""
    if title.casefold() in message.casefold():
        return message
    return f"{title}: {message}"


class EventFilter(StrEnum):
    """Which events the log shows; the key cycles through them in this order."""

    ALL = "all"
    ACTIONS = "actions"
    GUARDS = "guards"
    SIGNALS = "signals"
    NOTES = "notes"


FILTER_KINDS: dict[EventFilter, frozenset[EventKind]] = {
    EventFilter.ACTIONS: frozenset({"action"}),
    EventFilter.GUARDS: frozenset({"guard"}),
    EventFilter.SIGNALS: frozenset({"status", "drift"}),
    EventFilter.NOTES: frozenset({"note"}),
}


def next_filter(current: EventFilter) -> EventFilter:
    """The filter after `current`, back to ALL after the last."""
    order = list(EventFilter)
    return order[(order.index(current) + 1) % len(order)]


def filtered(events: Sequence[Event], chosen: EventFilter) -> tuple[Event, ...]:
    """The events the filter lets through, in their order."""
    if chosen is EventFilter.ALL:
        return tuple(events)
    kinds = FILTER_KINDS[chosen]
    return tuple(event for event in events if event.kind in kinds)


@dataclass(frozen=True)
class LogLine:
    """One line of the log as shown: an event, or one signal's run of flapping folded into one."""

    events: tuple[Event, ...]

    @property
    def latest(self) -> Event:
        return self.events[-1]

    @property
    def is_folded(self) -> bool:
        return len(self.events) > 1

    @property
    def span_seconds(self) -> float:
        return (self.latest.at - self.events[0].at).total_seconds()

    def states(self) -> tuple[Status, ...]:
        """The statuses the run went through, each once, in the order first seen."""
        seen = [event.status for event in self.events if event.status is not None]
        return tuple(dict.fromkeys(seen))


def fold_flapping(
    events: Sequence[Event],
    window_seconds: float = FLAP_WINDOW_SECONDS,
    min_changes: int = FLAP_MIN_CHANGES,
) -> list[LogLine]:
    """Events as log lines, each signal's (or action's) run of quick changes folded into one.

    A run is a signal's status changes (or an action's guard transitions), each within
    `window_seconds` of the one before; a run of `min_changes` or more shows as one line where
    its newest change stands. Every other event keeps a line of its own.
    """
    run_of = _runs(events, window_seconds)
    members: dict[int, list[int]] = {}
    for index, run in enumerate(run_of):
        if run is not None:
            members.setdefault(run, []).append(index)
    lines: list[LogLine] = []
    for index, run in enumerate(run_of):
        run_indexes = members[run] if run is not None else [index]
        if len(run_indexes) < min_changes:
            lines.append(LogLine((events[index],)))
        elif index == run_indexes[-1]:
            lines.append(LogLine(tuple(events[i] for i in run_indexes)))
    return lines


def _runs(events: Sequence[Event], window_seconds: float) -> list[int | None]:
    """For each event, the number of the run it belongs to; None for events that never fold."""
    latest: dict[tuple[str, str], tuple[int, datetime]] = {}
    run_of: list[int | None] = []
    for event in events:
        if event.kind not in FOLDING_KINDS:
            run_of.append(None)
            continue
        key = (event.kind, event.signal_id)
        known = latest.get(key)
        close = known is not None and (event.at - known[1]).total_seconds() <= window_seconds
        run = known[0] if close and known is not None else len(run_of)
        latest[key] = (run, event.at)
        run_of.append(run)
    return run_of


def flap_text(line: LogLine, status_word: Callable[[Status], str]) -> str:
    """'dns:app WARN⇄OK 12× in 5m'; an action's guards read READY⇄BLOCKED."""
    first = line.events[0]
    if first.kind == "guard":
        words = [guard_word(status) for status in line.states()]
    else:
        words = [status_word(status) for status in line.states()]
    took = coarse_duration_text(line.span_seconds)
    return f"{first.signal_id} {FLAP_ARROW.join(words)} {len(line.events)}× in {took}"


def guard_word(status: Status) -> str:
    """A guard event's status as the verdict it stands for."""
    return "READY" if status is Status.OK else "BLOCKED"
