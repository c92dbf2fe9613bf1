"""Replay playback: where in a journal the screen stands, and how that moves (headless).

`Playback` is a frozen value and every move is a pure function of it, so play, pause, speed,
seek and jump are tested without a screen; `ReplayController` adds the clock and the timeline.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cockpit.clock import Clock
from cockpit.journal.chain import END_KIND
from cockpit.journal.verify import Verification
from cockpit.jsonvalue import json_string
from cockpit.model import SignalKind
from cockpit.review.timeline import Mark, Timeline, shifted

SPEEDS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""The speeds `>` and `<` step through, in times real time."""
STEP_SECONDS = 10.0
LONG_STEP_SECONDS = 60.0


@dataclass(frozen=True)
class Playback:
    """Where a replay stands in its journal: position, playing or paused, speed.

    follow: the journal is still being written; live: the position rides its newest edge.
    """

    start: datetime
    end: datetime
    position: datetime
    playing: bool
    speed: float
    follow: bool = False
    live: bool = False

    @property
    def at_end(self) -> bool:
        """A replay that has reached the journal's last record (follow never ends this way)."""
        return not self.follow and self.position >= self.end

    @property
    def progress(self) -> float:
        """How far through the journal the position is, 0.0 to 1.0."""
        span = (self.end - self.start).total_seconds()
        if span <= 0:
            return 1.0
        done = (self.position - self.start).total_seconds() / span
        return min(1.0, max(0.0, done))


def speed_problem(speed: float) -> str | None:
    """Why `speed` cannot be a playback speed, or None when it can."""
    if math.isfinite(speed) and speed > 0:
        return None
    return f"--speed must be a positive number of times real time (1, 2, 10 ...), not {speed:g}"


def begin(start: datetime, end: datetime, *, speed: float, follow: bool) -> Playback:
    """A replay plays from the first record; a follower sits at the live edge."""
    problem = speed_problem(speed)
    if problem is not None:
        raise ValueError(problem)
    if follow:
        return Playback(start, end, end, playing=False, speed=speed, follow=True, live=True)
    return Playback(start, end, start, playing=start < end, speed=speed)


def toggled(playback: Playback) -> Playback:
    """Space: pause or play; at the journal's end it plays again from the start."""
    if playback.live:
        return replace(playback, live=False, playing=False)
    if playback.at_end:
        return replace(playback, position=playback.start, playing=True)
    return replace(playback, playing=not playback.playing)


def faster(playback: Playback) -> Playback:
    """The next speed up the ladder; the top speed stays."""
    higher = [speed for speed in SPEEDS if speed > playback.speed]
    return replace(playback, speed=higher[0] if higher else playback.speed)


def slower(playback: Playback) -> Playback:
    """The next speed down the ladder; 1x stays (a slower --speed is kept until changed)."""
    lower = [speed for speed in SPEEDS if speed < playback.speed]
    return replace(playback, speed=lower[-1] if lower else playback.speed)


def advanced(playback: Playback, elapsed_seconds: float) -> Playback:
    """The position after `elapsed_seconds` of real time at the playback speed.

    A replay pauses at its end; a follower that catches up with the journal goes live again.
    """
    if playback.live or not playback.playing or elapsed_seconds <= 0:
        return playback
    position = shifted(playback.position, timedelta(seconds=elapsed_seconds * playback.speed))
    if position < playback.end:
        return replace(playback, position=position)
    if playback.follow:
        return replace(playback, position=playback.end, playing=False, live=True)
    return replace(playback, position=playback.end, playing=False)


def moved_to(playback: Playback, at: datetime) -> Playback:
    """The position at `at`, kept within the journal; the play state is kept."""
    position = min(max(at, playback.start), playback.end)
    playing = playback.playing and (playback.follow or position < playback.end)
    return replace(playback, position=position, playing=playing, live=False)


def stepped(playback: Playback, seconds: float) -> Playback:
    """The position `seconds` later (or earlier, when negative), kept within the journal."""
    return moved_to(playback, shifted(playback.position, timedelta(seconds=seconds)))


def at_live_edge(playback: Playback, now: datetime, *, ended: bool) -> Playback:
    """A follower's position: now, or the newest record if the journal is ahead of this clock.

    Once the writer has closed the journal, the position stays on its end record, so readings
    are not shown as current after the session stopped watching them.
    """
    if not playback.live:
        return playback
    position = playback.end if ended else max(now, playback.end)
    return replace(playback, position=position)


def clock_text(moment: datetime) -> str:
    """HH:MM:SSZ, the form the screen shows times in."""
    return moment.strftime("%H:%M:%SZ")


def chain_problem(verification: Verification) -> str | None:
    """The hash chain's break in the words replay shows, or None for an intact chain."""
    if verification.intact:
        return None
    if verification.first_bad_line is None:
        return f"journal not verified: {verification.problem}"
    return (
        f"hash chain broken at line {verification.first_bad_line}: "
        "records after it cannot be trusted"
    )


def journal_kinds(timeline: Timeline) -> frozenset[SignalKind]:
    """The signal families the journal holds readings of: the panels this session had."""
    names = {member.value for member in SignalKind}
    kinds = set()
    for signal_id in timeline.signal_ids():
        readings = timeline.raw_readings(signal_id)
        kind = json_string(readings[0][1].get("kind")) if readings else None
        if kind in names:
            kinds.add(SignalKind(kind))
    return frozenset(kinds)


def writer_alive(timeline: Timeline) -> bool:
    """Whether the process that last opened the journal may still be writing it.

    Judged by the pid its header or resume record gives, on this host only (another host's
    process cannot be seen from here, so it counts as alive); the writer's lock is not probed,
    as even a brief probe could turn away a cockpit resuming the journal at that instant.
    """
    if timeline.writer is None:
        return True
    host, pid = timeline.writer
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


class ReplayController:
    """A playback over a timeline, moved by a clock: each tick adds the time passed times speed.

    Every method returns what the operator should be told, in words, or None.
    """

    def __init__(
        self,
        timeline: Timeline,
        clock: Clock,
        *,
        speed: float,
        follow: bool,
        alive: Callable[[Timeline], bool] = writer_alive,
    ) -> None:
        self._timeline = timeline
        self._clock = clock
        self._alive = alive
        now = clock()
        self._last_tick = now
        start, end = timeline.start or now, timeline.end or now
        self.playback = begin(start, end, speed=speed, follow=follow)
        self.playback = at_live_edge(self.playback, now, ended=self._stopped())

    @property
    def session_ended(self) -> bool:
        """Whether the newest record is the writer's end record (a resume may still follow)."""
        records = self._timeline.records
        return bool(records) and records[-1].kind == END_KIND

    @property
    def writer_gone(self) -> bool:
        """Follow: the writer stopped without an end record (crashed or killed)."""
        if not self.playback.follow or self.session_ended or not self._timeline.records:
            return False
        return not self._alive(self._timeline)

    def _stopped(self) -> bool:
        """Nothing more will be written: the live edge stays on the newest record."""
        return self.session_ended or self.writer_gone

    def tick(self) -> Playback:
        """Moves the playback by the time passed since the last tick (a follower to the edge)."""
        now = self._clock()
        elapsed = (now - self._last_tick).total_seconds()
        self._last_tick = now
        self.playback = advanced(self.playback, elapsed)
        self.playback = at_live_edge(self.playback, now, ended=self._stopped())
        return self.playback

    def records_added(self) -> None:
        """The timeline grew (follow): the journal's span reaches its newest record."""
        start, end = self._timeline.start, self._timeline.end
        if start is None or end is None:
            return
        position = max(self.playback.position, start)
        self.playback = replace(self.playback, start=start, end=end, position=position)
        self.playback = at_live_edge(self.playback, self._clock(), ended=self._stopped())

    def toggle(self) -> None:
        self._last_tick = self._clock()
        self.playback = toggled(self.playback)

    def faster(self) -> str | None:
        before = self.playback.speed
        self.playback = faster(self.playback)
        return None if self.playback.speed != before else f"already at {before:g}x, the fastest"

    def slower(self) -> str | None:
        before = self.playback.speed
        self.playback = slower(self.playback)
        return None if self.playback.speed != before else f"already at {before:g}x, the slowest"

    def step(self, seconds: float) -> None:
        """Moves by `seconds` of journal time, keeping play or pause."""
        self.playback = stepped(self.playback, seconds)

    def to_start(self) -> None:
        self.playback = moved_to(self.playback, self.playback.start)

    def to_end(self) -> str | None:
        """End: a replay pauses on its last record; a follower goes back to the live edge."""
        if self.playback.follow:
            self.playback = replace(self.playback, live=True, playing=False)
            self.playback = at_live_edge(self.playback, self._clock(), ended=self._stopped())
            return "back to live"
        self.playback = replace(self.playback, position=self.playback.end, playing=False)
        return "end of journal"

    def seek(self, at: datetime) -> str:
        """Pauses at `at` so that moment stays on screen; a time outside the journal is clamped."""
        playback = self.playback
        if at > playback.end and playback.follow:
            self.to_end()
            return f"{clock_text(at)} is past the newest record: back to live"
        self.playback = replace(moved_to(playback, at), playing=False)
        if at > playback.end:
            return f"{clock_text(at)} is after the journal's end: showing its end, " + _full(
                playback.end
            )
        if at < playback.start:
            return f"{clock_text(at)} is before the journal's start: showing its start, " + _full(
                playback.start
            )
        return f"at {clock_text(at)}"

    def next_mark(self) -> str:
        """Pauses on the next action or note after the position."""
        mark = self._timeline.next_mark(self.playback.position)
        if mark is None:
            return f"no action or note after {clock_text(self.playback.position)}"
        return self._land(mark)

    def previous_mark(self) -> str:
        """Pauses on the last action or note before the position."""
        mark = self._timeline.previous_mark(self.playback.position)
        if mark is None:
            return f"no action or note before {clock_text(self.playback.position)}"
        return self._land(mark)

    def _land(self, mark: Mark) -> str:
        self.playback = replace(moved_to(self.playback, mark.at), playing=False)
        return f"{clock_text(mark.at)} {mark.text}"

    def mark_hints(self) -> tuple[Mark | None, Mark | None]:
        """(previous, next) action or note around the position."""
        position = self.playback.position
        return self._timeline.previous_mark(position), self._timeline.next_mark(position)

    def last_record_age(self) -> float | None:
        """Seconds since the newest record by this clock (follow), None without records."""
        end = self._timeline.end
        return None if end is None else max(0.0, (self._clock() - end).total_seconds())


def _full(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")
