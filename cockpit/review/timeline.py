"""A session journal indexed by time: the state, events, guards and marks at any moment.

Replay, follow and report all read a journal through this, so what they show is the journal.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from cockpit.actions.session_log import DRIFT_KIND
from cockpit.journal.chain import HEADER_KIND, RESUME_KIND, parse_timestamp
from cockpit.journal.reader import JournalRecord, TruncatedTail, read_journal
from cockpit.jsonvalue import JsonValue, json_int, json_number, json_string, json_text
from cockpit.live.events import Event, guard_event_text, status_event
from cockpit.live.recording import (
    COUNTDOWN_KEYS,
    KEYFRAME_KIND,
    READING_KIND,
    SCREEN_KIND,
    STALE_KIND,
    STATUS_KIND,
)
from cockpit.live.row_changes import JournaledRows
from cockpit.live.state import State, Track
from cockpit.model import (
    Reading,
    Status,
    Value,
    aware_time,
    reading_from_json,
    status_from_json,
)
from cockpit.rules.verdicts import GuardResult
from cockpit.visible import ascii_digits

REPLAY_HISTORY = 60
"""Recorded readings per signal a replayed state keeps for its sparklines."""
MAX_PID = 2**31 - 1
"""A larger (or non-positive) pid in a journal is not a process this host could have."""

ACTION_KIND = "action"
NOTE_KIND = "note"
GUARD_KIND = "guard"
DECISION_PHASES = frozenset({"override", "approved", "break-glass"})
"""Phases that record who let an action run past its guards or without a second operator."""
MARK_PHASES = frozenset({"refused", "completed", "unplannable"}) | DECISION_PHASES
GOOD_OUTCOMES = frozenset({"succeeded", "dry-run"})
MILD_OUTCOMES = frozenset({"cancelled", "busy"})

MarkKind = Literal["action", "note"]


@dataclass(frozen=True)
class Mark:
    """A moment replay can jump to: an action's decision or outcome, or an operator's note."""

    at: datetime
    kind: MarkKind
    text: str
    seq: int


@dataclass(frozen=True)
class ScreenShot:
    """The screen as plain text at one moment, as the operator saw it."""

    at: datetime
    seq: int
    reason: str
    action: str | None
    run: str | None
    phase: str | None
    text: str


@dataclass
class _SignalRecords:
    """One signal's recorded readings (parsed on first use) and staleness marks, in time order.

    `rows` rebuilds, in journal order, the rows of readings journaled as changes to the
    signal's reading before (cockpit/live/row_changes.py).
    """

    times: list[datetime] = field(default_factory=list)
    raw: list[Mapping[str, JsonValue]] = field(default_factory=list)
    parsed: dict[int, Reading | None] = field(default_factory=dict)
    stale_times: list[datetime] = field(default_factory=list)
    stale_marks: list[tuple[bool, datetime | None]] = field(default_factory=list)
    rows: JournaledRows = field(default_factory=JournaledRows)

    def reading(self, index: int) -> Reading | None:
        """The recorded reading at `index`; None when the journal holds no reading there."""
        if index not in self.parsed:
            whole = self.rows.whole_reading(self.raw[index])
            try:
                self.parsed[index] = None if whole is None else reading_from_json(whole)
            except ValueError:
                self.parsed[index] = None
        return self.parsed[index]


@dataclass(frozen=True)
class GuardsAt:
    """One action's guards as last journaled: ready or not, with every guard's verdict."""

    action: str
    title: str
    ready: bool
    guards: tuple[GuardResult, ...]


class Timeline:
    """Every record of one journal, indexed so any moment can be rebuilt quickly."""

    def __init__(self) -> None:
        self.header: dict[str, JsonValue] | None = None
        self.records: list[JournalRecord] = []
        self.truncated: TruncatedTail | None = None
        self.marks: list[Mark] = []
        self.screens: list[ScreenShot] = []
        self.operators: list[str] = []
        self.writer: tuple[str, int] | None = None
        self._signals: dict[str, _SignalRecords] = {}
        self._events: list[Event] = []
        self._event_times: list[datetime] = []
        self._guard_records: dict[str, tuple[list[datetime], list[GuardsAt]]] = {}
        self._titles: dict[str, str] = {}
        self._runs: dict[str, tuple[str, datetime, datetime | None]] = {}

    @classmethod
    def load(cls, path: Path) -> Timeline:
        """The journal at `path`, indexed; JournalError if it cannot be read."""
        records, truncated = read_journal(path)
        timeline = cls()
        timeline.add(records)
        timeline.truncated = truncated
        return timeline

    # --- building -------------------------------------------------------------------------------

    def add(self, records: Iterable[JournalRecord]) -> None:
        """Indexes more records, oldest first (follow hands them over as they are written)."""
        for record in records:
            self.records.append(record)
            self._index(record)

    def _index(self, record: JournalRecord) -> None:
        handler = _HANDLERS.get(record.kind)
        if handler is not None:
            handler(self, record)

    def _on_session(self, record: JournalRecord) -> None:
        if record.kind == HEADER_KIND and self.header is None:
            self.header = record.data
        self._add_operator(record.data.get("operator"))
        operator, pid = json_string(record.data.get("operator")), json_int(record.data.get("pid"))
        if operator is not None and pid is not None and 0 < pid <= MAX_PID:
            self.writer = (operator.rpartition("@")[2], pid)

    def _add_operator(self, name: JsonValue) -> None:
        if isinstance(name, str) and name and name not in self.operators:
            self.operators.append(name)

    def _on_reading(self, record: JournalRecord) -> None:
        self._add_reading(record.t, record.data)

    def _add_reading(self, at: datetime, data: Mapping[str, JsonValue]) -> None:
        signal_id = json_string(data.get("signal"))
        if not signal_id:
            return
        signal = self._signals.setdefault(signal_id, _SignalRecords())
        signal.rows.add(data)
        if signal.raw and signal.raw[-1].get("observed_at") == data.get("observed_at"):
            return
        signal.times.append(at)
        signal.raw.append(data)

    def _on_keyframe(self, record: JournalRecord) -> None:
        readings = record.data.get("readings")
        for data in readings if isinstance(readings, list) else ():
            if isinstance(data, dict):
                self._add_reading(record.t, data)

    def _on_stale(self, record: JournalRecord) -> None:
        signal_id = json_string(record.data.get("signal"))
        if not signal_id:
            return
        signal = self._signals.setdefault(signal_id, _SignalRecords())
        observed_at = aware_time(record.data.get("observed_at"))
        signal.stale_times.append(record.t)
        signal.stale_marks.append((record.data.get("stale") is True, observed_at))
        if record.data.get("stale") is True:
            text = f"{signal_id}: went STALE (no fresh reading)"
            self._add_event(Event(record.t, signal_id, "status", None, text))

    def _on_status(self, record: JournalRecord) -> None:
        data = record.data
        before = data.get("before")
        event = status_event(
            record.t,
            json_text(data.get("signal")),
            None if before is None else status_from_json(before),
            status_from_json(data.get("after")),
            json_text(data.get("detail")),
        )
        self._add_event(event)

    def _on_guard(self, record: JournalRecord) -> None:
        data = record.data
        action = str(data.get("action"))
        title = str(data.get("title") or action)
        reasons = [str(reason) for reason in _list(data.get("reasons"))]
        guards = tuple(
            GuardResult.from_json(item)
            for item in _list(data.get("guards"))
            if isinstance(item, dict)
        )
        ready = data.get("ready") is True
        times, states = self._guard_records.setdefault(action, ([], []))
        times.append(record.t)
        states.append(GuardsAt(action, title, ready, guards))
        text = guard_event_text(title, [] if ready else reasons or ["reason not recorded"])
        self._add_event(Event(record.t, action, "guard", Status.OK if ready else Status.WARN, text))

    def _on_action(self, record: JournalRecord) -> None:
        data = record.data
        action, run = str(data.get("action")), str(data.get("run"))
        phase = json_string(data.get("phase"))
        self._add_operator(data.get("actor"))
        key = f"{record.data.get('actor')}/{run}/{action}"
        if phase == "started":
            self._runs[key] = (action, record.t, None)
        elif phase == "completed" and key in self._runs:
            self._runs[key] = (self._runs[key][0], self._runs[key][1], record.t)
        if phase not in MARK_PHASES:
            return
        text = action_text(data)
        self.marks.append(Mark(record.t, "action", text, record.seq))
        if phase not in DECISION_PHASES:
            status = _outcome_status(str(data.get("outcome") or phase))
            self._add_event(Event(record.t, action, "action", status, text))

    def _on_drift(self, record: JournalRecord) -> None:
        signal = str(record.data.get("signal") or "")
        text = f"{signal}: {record.data.get('text')}"
        self._add_event(Event(record.t, signal, "drift", Status.WARN, text))

    def _on_note(self, record: JournalRecord) -> None:
        text = str(record.data.get("text") or "")
        operator = str(record.data.get("operator") or "")
        self._add_operator(operator)
        self.marks.append(Mark(record.t, "note", f"note by {operator}: {text}", record.seq))
        self._add_event(Event(record.t, "note", "note", None, f"note: {text}"))

    def _on_screen(self, record: JournalRecord) -> None:
        data = record.data
        if data.get("reason") == "operator":
            text = "screen saved to the journal"
            self._add_event(Event(record.t, "screen", "note", None, text))
        self.screens.append(
            ScreenShot(
                at=record.t,
                seq=record.seq,
                reason=str(data.get("reason") or ""),
                action=_text_or_none(data.get("action")),
                run=_text_or_none(data.get("run")),
                phase=_text_or_none(data.get("phase")),
                text=str(data.get("text") or ""),
            )
        )

    def _add_event(self, event: Event) -> None:
        self._events.append(event)
        self._event_times.append(event.at)

    # --- reading ---------------------------------------------------------------------------------

    @property
    def start(self) -> datetime | None:
        return self.records[0].t if self.records else None

    @property
    def end(self) -> datetime | None:
        return self.records[-1].t if self.records else None

    def signal_ids(self) -> list[str]:
        return sorted(signal_id for signal_id, records in self._signals.items() if records.raw)

    def state_at(self, at: datetime, history_limit: int = REPLAY_HISTORY) -> State:
        """The cockpit's state as it stood at `at`, rebuilt from the journal alone.

        history_limit: recorded readings kept per signal, the latest included (a report needs
        only the latest, and parsing the others is most of the cost).
        """
        tracks: dict[str, Track] = {}
        for signal_id, records in self._signals.items():
            index = bisect_right(records.times, at)
            if index == 0:
                continue
            first = max(0, index - max(1, history_limit))
            latest = _as_live(records, index - 1, at)
            if latest is None:
                continue
            history = [records.reading(i) for i in range(first, index - 1)]
            known = [reading for reading in history if reading is not None]
            tracks[signal_id] = Track(latest, (*known, latest))
        return State(MappingProxyType(tracks), REPLAY_HISTORY)

    def events_until(self, at: datetime, limit: int) -> tuple[Event, ...]:
        """The newest `limit` events up to `at`, newest last."""
        end = bisect_right(self._event_times, at)
        return tuple(self._events[max(0, end - limit) : end])

    def guards_at(self, at: datetime) -> list[GuardsAt]:
        """Every action's guards as last journaled at or before `at`."""
        found = []
        for times, states in self._guard_records.values():
            index = bisect_right(times, at)
            if index:
                found.append(states[index - 1])
        return found

    def running_at(self, at: datetime) -> list[str]:
        """The actions executing at `at` (started, not yet completed)."""
        return [
            action
            for action, started, ended in self._runs.values()
            if started <= at and (ended is None or at < ended)
        ]

    def next_mark(self, at: datetime) -> Mark | None:
        """The first action or note strictly after `at`."""
        times = [mark.at for mark in self.marks]
        index = bisect_right(times, at)
        return self.marks[index] if index < len(self.marks) else None

    def previous_mark(self, at: datetime) -> Mark | None:
        """The last action or note strictly before `at`."""
        times = [mark.at for mark in self.marks]
        index = bisect_left(times, at)
        return self.marks[index - 1] if index else None

    def series(self, signal_id: str, value_name: str) -> list[tuple[datetime, float]]:
        """(record time, number) of every recorded reading of the signal that carries the number."""
        records = self._signals.get(signal_id)
        if records is None:
            return []
        points = []
        for at, raw in zip(records.times, records.raw, strict=True):
            values = raw.get("values")
            number = json_number(values.get(value_name)) if isinstance(values, dict) else None
            if number is not None:
                points.append((at, number))
        return points

    def raw_readings(self, signal_id: str) -> list[tuple[datetime, Mapping[str, JsonValue]]]:
        """Every recorded reading of one signal as journaled, with its record time (a DNS
        reading's rows may be journaled as changes: read them through state_at)."""
        records = self._signals.get(signal_id)
        return list(zip(records.times, records.raw, strict=True)) if records else []


def _as_live(records: _SignalRecords, index: int, at: datetime) -> Reading | None:
    """The recorded reading as the screen showed it at `at`; None when it cannot be read.

    A reading is journaled only when it changes, so between records the live screen held a
    fresh copy of it: its age is kept and its countdowns run on. A signal the cockpit saw go
    stale keeps the time of its last real reading, so it shows STALE here too.
    """
    reading = records.reading(index)
    if reading is None:
        return None
    recorded_at = records.times[index]
    mark = bisect_right(records.stale_times, at)
    if mark and records.stale_times[mark - 1] >= recorded_at:
        stale, observed_at = records.stale_marks[mark - 1]
        if stale:
            return _replaced(reading, observed_at or reading.observed_at, reading.values)
    elapsed = at - recorded_at
    values = _counted_down(reading.values, elapsed.total_seconds())
    return _replaced(reading, shifted(reading.observed_at, elapsed), values)


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """`moment` moved by `delta`, held at the calendar's ends (a journal's times may be)."""
    try:
        return moment + delta
    except OverflowError:
        if delta > timedelta(0):
            return datetime.max.replace(tzinfo=moment.tzinfo)
        return datetime.min.replace(tzinfo=moment.tzinfo)


def _replaced(reading: Reading, observed_at: datetime, values: Mapping[str, Value]) -> Reading:
    return Reading(
        signal_id=reading.signal_id,
        kind=reading.kind,
        status=reading.status,
        observed_at=observed_at,
        values=values,
        detail=reading.detail,
        stale_after_seconds=reading.stale_after_seconds,
    )


def _counted_down(values: Mapping[str, Value], seconds: float) -> Mapping[str, Value]:
    if seconds <= 0:
        return values
    return {key: _count_down(key, value, seconds) for key, value in values.items()}


def _count_down(key: str, value: Value, seconds: float) -> Value:
    if isinstance(value, Mapping):
        return _counted_down(value, seconds)
    if isinstance(value, tuple):
        return tuple(_count_down(key, item, seconds) for item in value)
    number = json_number(value) if key in COUNTDOWN_KEYS else None
    if number is None:
        return value
    left = max(0.0, number - seconds)
    return int(left) if isinstance(value, int) else left


def action_text(data: Mapping[str, JsonValue]) -> str:
    """One line for an action record: who, what, and how it ended or why it was refused."""
    action, actor, phase = data.get("action"), data.get("actor"), data.get("phase")
    if phase == "completed":
        outcome = str(data.get("outcome") or "?")
        message = data.get("message")
        return f"{action} by {actor}: {outcome.upper()}" + (f": {message}" if message else "")
    if phase == "refused":
        reasons = [
            str(g.get("reason"))
            for g in _list(data.get("guards"))
            if isinstance(g, dict) and g.get("passed") is False
        ]
        return f"{action} by {actor}: REFUSED: " + "; ".join(reasons or [str(data.get("why"))])
    if phase == "override":
        return f"{action} by {actor}: GUARDS OVERRIDDEN: {data.get('reason')}"
    if phase == "approved":
        return (
            f"{action} by {actor}: APPROVED by {data.get('approver')} "
            f"(requested by {data.get('requester')}): {data.get('reason')}"
        )
    if phase == "break-glass":
        return f"{action} by {actor}: BREAK-GLASS (no second operator): {data.get('reason')}"
    return f"{action} by {actor}: {str(phase).upper()}: {data.get('error')}"


def _outcome_status(outcome: str) -> Status:
    if outcome in GOOD_OUTCOMES:
        return Status.OK
    return Status.WARN if outcome in MILD_OUTCOMES else Status.CRITICAL


def _list(value: JsonValue) -> list[JsonValue]:
    return value if isinstance(value, list) else []


def _text_or_none(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def moment(text: str, timeline: Timeline) -> datetime:
    """A time the operator typed: a full timestamp, or HH:MM[:SS] on the session's first day."""
    start = timeline.start
    try:
        return parse_timestamp(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is None and "T" in text:
        raise ValueError(f"{text!r} has no time zone: add Z for UTC, e.g. {text}Z")
    if parsed is not None and parsed.tzinfo is not None:
        return parsed
    if start is None:
        raise ValueError("the journal has no records")
    clock = _clock_time(text)
    candidate = start.replace(hour=clock[0], minute=clock[1], second=clock[2], microsecond=0)
    return candidate if candidate >= start - timedelta(seconds=1) else candidate + timedelta(days=1)


def _clock_time(text: str) -> tuple[int, int, int]:
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(ascii_digits(part) for part in parts):
        raise ValueError(f"{text!r} is not a time: use HH:MM, HH:MM:SS or a full UTC timestamp")
    hour, minute, second = (int(part) for part in (*parts, "0")[:3])
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{text!r} is not a time of day")
    return hour, minute, second


_HANDLERS = {
    HEADER_KIND: Timeline._on_session,
    RESUME_KIND: Timeline._on_session,
    READING_KIND: Timeline._on_reading,
    KEYFRAME_KIND: Timeline._on_keyframe,
    STALE_KIND: Timeline._on_stale,
    STATUS_KIND: Timeline._on_status,
    GUARD_KIND: Timeline._on_guard,
    ACTION_KIND: Timeline._on_action,
    NOTE_KIND: Timeline._on_note,
    DRIFT_KIND: Timeline._on_drift,
    SCREEN_KIND: Timeline._on_screen,
}
