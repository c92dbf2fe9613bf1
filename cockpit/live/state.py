"""The latest reading per signal plus a bounded history; apply() is pure.

Only the latest reading is kept whole. Older ones keep what history is read for (the numbers
sparklines draw, the weights a dwell time is measured from), so 300 polls of a DNS reading
with a thousand resolver rows do not stay in memory; each sparkline's numbers are kept as a
series of their own, extended as readings arrive rather than rebuilt for every frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from cockpit.model import Reading, Status

DEFAULT_HISTORY_LIMIT = 300
SPARKLINE_VALUES = frozenset({"replay_lag_bytes", "replay_lag_seconds", "error_ratio"})
"""The values whose history the panels draw as sparklines."""
HISTORY_VALUES = SPARKLINE_VALUES | {"weights", "raw_weights"}
"""What an older reading keeps of its values: sparkline numbers, and the weights read back."""
NO_NUMBERS: Mapping[str, tuple[float | None, ...]] = MappingProxyType({})
HELD_VALUES = ("raw_weights",)
"""The values whose unbroken run is kept: since when the weights read back have been held."""


@dataclass(frozen=True)
class Track:
    """One signal: its newest reading and the readings before it, oldest first."""

    latest: Reading
    history: tuple[Reading, ...]
    numbers: Mapping[str, tuple[float | None, ...]] = field(default_factory=lambda: NO_NUMBERS)
    """Each sparkline value over the history, oldest first, None where a reading lacks it."""
    held_since: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))
    """When each of HELD_VALUES took the value the latest reading has, in an unbroken run of
    readings with it; kept as readings arrive, so it reaches back past the history."""


@dataclass(frozen=True)
class StatusChange:
    """A signal whose status differs from its previous reading's (None: first seen)."""

    signal_id: str
    before: Status | None
    after: Status
    reading: Reading


@dataclass(frozen=True)
class State:
    """Everything the cockpit currently knows; a new State per change, never mutated."""

    tracks: Mapping[str, Track] = field(default_factory=lambda: MappingProxyType({}))
    history_limit: int = DEFAULT_HISTORY_LIMIT

    def latest(self, signal_id: str) -> Reading | None:
        track = self.tracks.get(signal_id)
        return track.latest if track else None

    def history(self, signal_id: str) -> tuple[Reading, ...]:
        track = self.tracks.get(signal_id)
        return track.history if track else ()

    def status_of(self, signal_id: str, now: datetime) -> Status:
        """UNKNOWN when never read, STALE when too old: absence is never OK."""
        reading = self.latest(signal_id)
        return reading.status_at(now) if reading else Status.UNKNOWN

    def numbers(self, signal_id: str, value_name: str) -> tuple[float, ...]:
        """A sparkline value's numbers over the history, kept as readings arrived."""
        track = self.tracks.get(signal_id)
        if track is None:
            return ()
        if track.numbers is NO_NUMBERS:
            return tuple(number for _, number in self.series(signal_id, value_name))
        return tuple(n for n in track.numbers.get(value_name, ()) if n is not None)

    def held_since(self, signal_id: str, value_name: str) -> datetime | None:
        """Since when the signal's readings have held the latest one's value (HELD_VALUES only)."""
        track = self.tracks.get(signal_id)
        return track.held_since.get(value_name) if track else None

    def series(self, signal_id: str, value_name: str) -> tuple[tuple[datetime, float], ...]:
        """(observed_at, number) points for a sparkline; readings without the number are gaps."""
        points = ((r.observed_at, r.number(value_name)) for r in self.history(signal_id))
        return tuple((at, number) for at, number in points if number is not None)

    def readings(self) -> Iterator[Reading]:
        return (track.latest for track in self.tracks.values())

    def stale_signals(self, now: datetime) -> tuple[str, ...]:
        return tuple(r.signal_id for r in self.readings() if r.is_stale(now))


def apply(state: State, readings: Iterable[Reading]) -> tuple[State, tuple[StatusChange, ...]]:
    """The state after these readings, and which signals changed status.

    A reading older than the one already held (a slow poll finishing late) is ignored.
    """
    tracks = dict(state.tracks)
    changes: list[StatusChange] = []
    for reading in readings:
        track = tracks.get(reading.signal_id)
        if track and reading.observed_at < track.latest.observed_at:
            continue
        tracks[reading.signal_id] = _extended(track, reading, state.history_limit)
        before = track.latest.status if track else None
        if before != reading.status:
            changes.append(StatusChange(reading.signal_id, before, reading.status, reading))
    new_state = State(MappingProxyType(tracks), state.history_limit)
    return new_state, tuple(changes)


def _extended(track: Track | None, reading: Reading, limit: int) -> Track:
    if track is None:
        return Track(
            reading, (reading,), _numbers(NO_NUMBERS, reading, limit), _held(None, reading)
        )
    history = (*track.history[:-1], slim(track.latest), reading)[-limit:]
    numbers = _numbers(track.numbers, reading, limit)
    return Track(reading, history, numbers, _held(track, reading))


def _held(track: Track | None, reading: Reading) -> Mapping[str, datetime]:
    """HELD_VALUES' runs extended by this reading: kept while its value equals the last one's."""
    held = {}
    for name in HELD_VALUES:
        since = track.held_since.get(name) if track else None
        same = track is not None and track.latest.values.get(name) == reading.values.get(name)
        held[name] = since if same and since is not None else reading.observed_at
    return MappingProxyType(held)


def slim(reading: Reading) -> Reading:
    """The reading as history keeps it: HISTORY_VALUES only, no detail."""
    kept = {name: value for name, value in reading.values.items() if name in HISTORY_VALUES}
    return replace(reading, values=kept, detail="")


def _numbers(
    before: Mapping[str, tuple[float | None, ...]], reading: Reading, limit: int
) -> Mapping[str, tuple[float | None, ...]]:
    """Each sparkline value extended by this reading's (None where it has none), over the same
    window of readings as the history."""
    numbers = {
        name: (*before.get(name, ()), reading.number(name))[-limit:] for name in SPARKLINE_VALUES
    }
    return MappingProxyType(numbers)
