"""What of the live readings goes into the journal: changes that matter, keyframes, staleness.

Journaling every poll would make an 8-hour session hundreds of megabytes, so a reading is
written only when its status changes or one of its values moves meaningfully; a keyframe of
every latest reading is written periodically; and a signal going stale (or fresh again) is
written as it happens, so a replay shows exactly when the screen stopped being current.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cockpit.jsonvalue import JsonValue
from cockpit.live.row_changes import RowChanges
from cockpit.live.state import State, StatusChange
from cockpit.model import Reading, Value, reading_to_json
from cockpit.sources import dns_values, errors_values, integrity_values, replication_values

READING_KIND = "reading"
STATUS_KIND = "status"
SCREEN_KIND = "screen"
KEYFRAME_KIND = "keyframe"
STALE_KIND = "stale"

DEFAULT_KEYFRAME_SECONDS = 300.0
VALUE_CHANGE_SPACING_SECONDS = 5.0
"""A value-only change of one signal is journaled at most this often; status changes at once."""
LONGEST_VALUE_CHANGE_SPACING_SECONDS = 30.0
"""A signal whose values keep moving poll after poll is journaled ever less often, down to once
in this long, until it settles or its status changes; a press journals every signal's latest
reading, so the record of what the screen showed at that moment stays exact."""

COUNTDOWN_KEYS = dns_values.COUNTDOWN_KEYS
"""Values that count down by themselves: a replay ages them instead of the journal holding
every tick (a hundred resolvers' TTLs would otherwise write the DNS reading every second)."""

UNTRACKED_KEYS = frozenset(
    {
        *COUNTDOWN_KEYS,
        dns_values.OLD_GONE_AT,
        *replication_values.WAL_POSITION_KEYS,
        replication_values.RECEIVE_LAG_BYTES,
        replication_values.SINCE_REPLAY_KEY,
        errors_values.MAX_RESPONSE_SECONDS,
        *errors_values.COUNT_KEYS,
        *integrity_values.PROGRESS_KEYS,
    }
)
"""Values that move with every write, tick or single request and say nothing the replay lag,
the error ratio, the p95, the TTLs or a check's result do not. They are still written with
every reading that is written for another reason, and in every keyframe."""

RELATIVE_TOLERANCE = 0.10
ABSOLUTE_TOLERANCE_BY_SUFFIX = (
    ("_ratio", 0.001),
    ("_fraction", 0.001),
    ("_bytes", 4096.0),
    ("_seconds", 0.05),
    ("_per_second", 1024.0),
)
"""How far a number may drift before it counts as changed: 10 % of its size and at least the
unit's floor (0.1 percentage point, 4 KiB, 50 ms); moving to or from zero always counts."""


def values_differ(before: Mapping[str, Value], after: Mapping[str, Value]) -> bool:
    """Whether two readings' values differ in a way a person reading the screen would notice."""
    return _mapping_differs(before, after)


def _mapping_differs(before: Mapping[str, Value], after: Mapping[str, Value]) -> bool:
    for key, old in before.items():
        if key in UNTRACKED_KEYS:
            continue
        if key not in after or _differs(key, old, after[key]):
            return True
    return any(key not in before and key not in UNTRACKED_KEYS for key in after)


def _differs(key: str, before: Value, after: Value) -> bool:
    if before is after:
        return False
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        return _mapping_differs(before, after)
    if isinstance(before, tuple) and isinstance(after, tuple):
        return len(before) != len(after) or any(
            _differs(key, old, new) for old, new in zip(before, after, strict=True)
        )
    if _is_number(before) and _is_number(after):
        assert isinstance(before, int | float) and isinstance(after, int | float)
        return _number_differs(key, float(before), float(after))
    return before != after


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_differs(key: str, before: float, after: float) -> bool:
    if before == after:
        return False
    if before == 0 or after == 0:
        return True
    tolerance = max(_absolute_tolerance(key), RELATIVE_TOLERANCE * max(abs(before), abs(after)))
    return abs(after - before) > tolerance


def _absolute_tolerance(key: str) -> float:
    for suffix, floor in ABSOLUTE_TOLERANCE_BY_SUFFIX:
        if key.endswith(suffix):
            return floor
    return 0.0


@dataclass(frozen=True)
class JournalEntry:
    """One record the recorder wants written: its kind and data."""

    kind: str
    data: dict[str, JsonValue]


@dataclass
class Recorder:
    """Decides, poll by poll, which readings the journal keeps; holds only what it last wrote."""

    keyframe_seconds: float = DEFAULT_KEYFRAME_SECONDS
    _written: dict[str, tuple[Reading, datetime]] = field(default_factory=dict)
    _spacing: dict[str, float] = field(default_factory=dict)
    _row_changes: RowChanges = field(default_factory=RowChanges)
    _stale: set[str] = field(default_factory=set)
    _last_keyframe_at: datetime | None = None

    def readings(self, readings: Iterable[Reading], now: datetime) -> list[JournalEntry]:
        """The reading records for this batch: first sight, new status, or values that moved."""
        entries = []
        for reading in readings:
            if self._worth_writing(reading, now):
                self._space_out(reading, now)
                self._written[reading.signal_id] = (reading, now)
                entries.append(JournalEntry(READING_KIND, self._journaled(reading)))
        return entries

    def unwritten(self, state: State, now: datetime) -> list[JournalEntry]:
        """Every signal's latest reading not yet journaled: what the screen shows right now."""
        entries = []
        for reading in sorted(state.readings(), key=lambda reading: reading.signal_id):
            written = self._written.get(reading.signal_id)
            if written is None or written[0].observed_at < reading.observed_at:
                self._written[reading.signal_id] = (reading, now)
                entries.append(JournalEntry(READING_KIND, self._journaled(reading)))
        return entries

    def _space_out(self, reading: Reading, now: datetime) -> None:
        """The signal's next value-only write waits twice as long when its values kept moving
        (written again as soon as allowed), and the shortest time again once they settle."""
        written = self._written.get(reading.signal_id)
        spacing = self._spacing.get(reading.signal_id, VALUE_CHANGE_SPACING_SECONDS)
        kept_moving = (
            written is not None
            and written[0].status is reading.status
            and now - written[1] <= timedelta(seconds=2 * spacing)
        )
        longer = min(LONGEST_VALUE_CHANGE_SPACING_SECONDS, 2 * spacing)
        self._spacing[reading.signal_id] = longer if kept_moving else VALUE_CHANGE_SPACING_SECONDS

    def _journaled(self, reading: Reading) -> dict[str, JsonValue]:
        """The reading as the journal holds it (a DNS reading's rows as changes: row_changes)."""
        return self._row_changes.journaled(reading_to_json(reading))

    def _worth_writing(self, reading: Reading, now: datetime) -> bool:
        written = self._written.get(reading.signal_id)
        if written is None:
            return True
        previous, written_at = written
        if reading.observed_at <= previous.observed_at:
            return False
        if previous.status is not reading.status:
            return True
        spacing = self._spacing.get(reading.signal_id, VALUE_CHANGE_SPACING_SECONDS)
        spaced = now - written_at >= timedelta(seconds=spacing)
        return spaced and values_differ(previous.values, reading.values)

    def tick(self, state: State, now: datetime) -> list[JournalEntry]:
        """Staleness changes since the last tick, and a keyframe when one is due.

        Every signal's first reading is journaled anyway, so the first keyframe comes one
        interval after the first tick.
        """
        entries = self._staleness(state, now)
        if self._last_keyframe_at is None:
            self._last_keyframe_at = now
        if now - self._last_keyframe_at >= timedelta(seconds=self.keyframe_seconds):
            self._last_keyframe_at = now
            readings = sorted(state.readings(), key=lambda reading: reading.signal_id)
            for reading in readings:
                self._written[reading.signal_id] = (reading, now)
            keyframe: list[JsonValue] = [self._journaled(reading) for reading in readings]
            entries.append(JournalEntry(KEYFRAME_KIND, {"readings": keyframe}))
        return entries

    def _staleness(self, state: State, now: datetime) -> list[JournalEntry]:
        stale_now = set(state.stale_signals(now))
        entries = []
        for signal_id in sorted(stale_now ^ self._stale):
            reading = state.latest(signal_id)
            observed = reading.observed_at.isoformat() if reading else None
            data: dict[str, JsonValue] = {
                "signal": signal_id,
                "stale": signal_id in stale_now,
                "observed_at": observed,
            }
            entries.append(JournalEntry(STALE_KIND, data))
        self._stale = stale_now
        return entries


def status_entry(change: StatusChange) -> JournalEntry:
    """The record of one signal's status change (before None: its first reading)."""
    data: dict[str, JsonValue] = {
        "signal": change.signal_id,
        "before": change.before.value if change.before else None,
        "after": change.after.value,
        "detail": change.reading.detail,
    }
    return JournalEntry(STATUS_KIND, data)
