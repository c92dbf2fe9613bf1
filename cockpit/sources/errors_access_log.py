"""5xx ratio and p95 latency per side from access logs being written on this host.

Status rules: see cockpit.sources.errors_common (no requests in the window -> UNKNOWN, ratio
over the guard threshold -> CRITICAL, over half of it or p95 over its limit -> WARN, else OK).
A log that is missing or unreadable makes its side UNKNOWN; the other side is unaffected.

Lines are read in each log's configured format (cockpit.log_format: "auto", a preset, or an
nginx log_format string). Lines not understood are counted over the window and named in the
detail; when lines were written but none understood, the side is UNKNOWN with the format
named, never "0 requests". The cockpit's own probes (its user agent) are left out of every
count and counted apart. Each file is followed by byte offset: a poll
reads at most MAX_BYTES_PER_POLL new bytes and keeps a partial last line for the next one;
the first poll starts MAX_TAIL_BYTES before the end so the window fills without reading a
huge file. A rotated file (a new inode at the path) is finished, then the new file is read
from its start; a truncated file (smaller than the offset) is read again from its start.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from cockpit.config import AccessLog, ErrorsSection
from cockpit.io.context import SourceContext
from cockpit.io.http import is_probe_user_agent
from cockpit.log_format import AUTO, LineMatcher
from cockpit.model import Reading, SignalKind, Status, Value
from cockpit.sources.base import Schedule, make_reading
from cockpit.sources.errors_common import (
    Thresholds,
    WindowStats,
    classify,
    describe,
    error_values,
    in_window,
    p95_nearest_rank,
    unknown_values,
    window_bounds,
    window_text,
)
from cockpit.sources.errors_values import (
    ACCESS_LOG,
    SIDES,
    LogFollowing,
    LogWindow,
    ResponseTimes,
)
from cockpit.sources.errors_values import signal_id as errors_signal_id
from cockpit.units import size_text

AUTO_MATCHER = LineMatcher.for_config(AUTO)
MAX_TAIL_BYTES = 1 << 20
MAX_BYTES_PER_POLL = 4 << 20
MAX_LINE_BYTES = 64 << 10
MAX_ENTRIES_PER_SIDE = 250_000


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One request as the log recorded it: when it ended, its status, how long it took.

    `at` is when the line was read when the format logs no time; `is_probe` marks the
    cockpit's own health probes, which are left out of every count.
    """

    at: datetime
    status: int
    request_time_seconds: float | None
    is_probe: bool = False

    @property
    def is_5xx(self) -> bool:
        return 500 <= self.status <= 599


def parse_line(
    line: str, matcher: LineMatcher = AUTO_MATCHER, *, read_at: datetime | None = None
) -> LogEntry | None:
    """One log line as an entry; None when it is not in the matcher's format."""
    parsed = matcher.parse(line)
    if parsed is None:
        return None
    at = parsed.at or read_at
    if at is None:
        return None
    probe = parsed.user_agent is not None and is_probe_user_agent(parsed.user_agent)
    return LogEntry(at, parsed.status, parsed.latency_seconds, probe)


@dataclass(frozen=True)
class FollowOutcome:
    """What one poll of one file brought: complete new lines, and any trouble."""

    lines: tuple[bytes, ...] = ()
    error: str | None = None
    backlog_bytes: int = 0
    started_mid_file: bool = False


class FollowedLog:
    """A log file read incrementally across polls (offset, partial line, rotation, truncation)."""

    def __init__(
        self,
        path: Path,
        *,
        tail_bytes: int = MAX_TAIL_BYTES,
        max_bytes_per_poll: int = MAX_BYTES_PER_POLL,
    ) -> None:
        self.path = path
        self._tail_bytes = tail_bytes
        self._max_bytes = max_bytes_per_poll
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""
        self._skip_first_line = False
        self._looked = False

    def poll(self) -> FollowOutcome:
        """The complete lines written since the last poll (at most max_bytes_per_poll of them)."""
        first_look, self._looked = not self._looked, True
        try:
            identity = _identity(self.path.stat())
        except OSError as error:
            return FollowOutcome(self._finish(), error=self._trouble(error))
        finished = self._finish() if identity != self._identity else ()
        started_mid_file = False
        if self._file is None:
            try:
                started_mid_file = self._open(tail=first_look)
            except OSError as error:
                return FollowOutcome(finished, error=self._trouble(error))
        lines, backlog = self._read_new()
        return FollowOutcome(finished + lines, None, backlog, started_mid_file)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._identity = None, None

    def _trouble(self, error: OSError) -> str:
        if isinstance(error, FileNotFoundError):
            return f"access log {self.path} not found"
        return f"access log {self.path}: {error.strerror or error}"

    def _open(self, *, tail: bool) -> bool:
        """Opens the path; on the first look, a bounded tail from the line boundary before it."""
        file = self.path.open("rb")
        stat = os.fstat(file.fileno())
        self._file, self._identity = file, _identity(stat)
        start = max(0, stat.st_size - self._tail_bytes) if tail else 0
        self._offset = max(0, start - 1)
        self._partial, self._skip_first_line = b"", start > 0
        return start > 0

    def _read_new(self) -> tuple[tuple[bytes, ...], int]:
        assert self._file is not None
        size = os.fstat(self._file.fileno()).st_size
        if size < self._offset:
            self._offset, self._partial, self._skip_first_line = 0, b"", False
        self._file.seek(self._offset)
        chunk = self._file.read(min(self._max_bytes, size - self._offset))
        self._offset += len(chunk)
        return self._complete_lines(chunk), max(0, size - self._offset)

    def _complete_lines(self, chunk: bytes) -> tuple[bytes, ...]:
        data = self._partial + chunk
        if self._skip_first_line:
            newline = data.find(b"\n")
            if newline < 0:
                self._partial = b""
                return ()
            data, self._skip_first_line = data[newline + 1 :], False
        *lines, self._partial = data.split(b"\n")
        if len(self._partial) > MAX_LINE_BYTES:
            lines.append(self._partial)
            self._partial = b""
        return tuple(lines)

    def _finish(self) -> tuple[bytes, ...]:
        """The rest of a file that was rotated away or removed, then closes it."""
        if self._file is None:
            return ()
        lines, _ = self._read_new()
        last = (self._partial,) if self._partial and not self._skip_first_line else ()
        self.close()
        self._offset, self._partial, self._skip_first_line = 0, b"", False
        return lines + last


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


@dataclass
class SideWindow:
    """The recent entries of one side's logs, pruned to the window and bounded in number.

    Lines not understood have no time of their own: they count from when they were read.
    """

    max_entries: int = MAX_ENTRIES_PER_SIDE
    matchers: tuple[LineMatcher, ...] = (AUTO_MATCHER,)
    entries: deque[LogEntry] = field(default_factory=deque)
    not_understood: deque[datetime] = field(default_factory=deque)
    unparsed_lines: int = 0
    understood_lines: int = 0
    covered_since: datetime | None = None

    def add(
        self,
        lines: Iterable[bytes],
        *,
        started_mid_file: bool,
        read_at: datetime | None = None,
        matcher: LineMatcher | None = None,
    ) -> int:
        """Parses and keeps the lines (in `matcher`'s format); returns how many were not parsed."""
        read_at = read_at or datetime.now(UTC)
        matcher = matcher or self.matchers[0]
        unparsed, understood, first = 0, 0, None
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            entry = parse_line(line, matcher, read_at=read_at)
            if entry is None:
                if raw.strip():
                    unparsed += 1
                    self.not_understood.append(read_at)
                continue
            first = first or entry
            understood += 1
            self.entries.append(entry)
        self.unparsed_lines += unparsed
        self.understood_lines += understood
        if started_mid_file and first is not None:
            self._covered_from(first.at)
        return unparsed

    def prune(self, window_start: datetime) -> None:
        """Drops entries older than the window; beyond max_entries the oldest go, and are noted."""
        while self.entries and self.entries[0].at < window_start:
            self.entries.popleft()
        while len(self.entries) > self.max_entries:
            self.entries.popleft()
            self._covered_from(self.entries[0].at)
        while self.not_understood and (
            self.not_understood[0] < window_start or len(self.not_understood) > self.max_entries
        ):
            self.not_understood.popleft()

    @property
    def probes_told_apart(self) -> bool:
        """Whether every format logs $http_user_agent, so the cockpit's probes can be left out."""
        return all(m.has_user_agent for m in self.matchers)

    @property
    def format_description(self) -> str:
        return " / ".join(dict.fromkeys(m.description for m in self.matchers))

    def _covered_from(self, moment: datetime) -> None:
        if self.covered_since is None or moment > self.covered_since:
            self.covered_since = moment

    def stats(self, start: datetime, end: datetime) -> tuple[WindowStats, LogWindow]:
        """Counts, p95 and response-time extras of the entries within [start, end].

        The cockpit's own probes are counted apart and left out of the requests.
        """
        inside = [e for e in self.entries if in_window(e.at, start, end)]
        served = [e for e in inside if not e.is_probe]
        times = [e.request_time_seconds for e in served if e.request_time_seconds is not None]
        errors = sum(1 for e in served if e.is_5xx)
        stats = WindowStats.from_counts(len(served), errors, p95_nearest_rank(times))
        probes = len(inside) - len(served)
        average = sum(times) / len(times) if times else None
        extras = LogWindow(
            times=ResponseTimes(average, max(times) if times else None),
            window_complete=self.covered_since is None or self.covered_since <= start,
            lines_not_understood=sum(1 for at in self.not_understood if at >= start),
            probe_lines_excluded=probes if self.probes_told_apart else None,
            format=self.format_description,
            latency_logged=any(m.has_latency for m in self.matchers),
        )
        return stats, extras


@dataclass(frozen=True)
class SidePoll:
    """One side after one poll: its window's stats, or the trouble with its logs."""

    stats: WindowStats
    window: LogWindow
    following: LogFollowing
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def extras(self) -> dict[str, Value]:
        """The backend's own values of the reading."""
        return {**self.window.to_values(), **self.following.to_values()}


class AccessLogErrorsSource:
    """Each configured side's 5xx ratio and latency from its access logs (all logs aggregated)."""

    def __init__(self, context: SourceContext, section: ErrorsSection) -> None:
        self._context = context
        self._schedule = Schedule.from_config(section)
        self._window_seconds = section.window_seconds
        self._thresholds = Thresholds.from_guards(context.config.guards)
        self._logs = _logs_by_side(section.access_logs)
        self._windows = {
            side: SideWindow(matchers=tuple(log.matcher for log in logs))
            for side, logs in self._logs.items()
        }
        self.name = "errors (access log)"
        self.kind = SignalKind.ERRORS
        self.schedule = self._schedule
        self.signal_ids = tuple(errors_signal_id(ACCESS_LOG, side) for side in self._logs)

    async def read(self) -> list[Reading]:
        now = self._context.clock()
        polls = await asyncio.to_thread(self._poll_all, now)
        return [self._reading(side, poll, now) for side, poll in polls.items()]

    def close(self) -> None:
        """Closes every followed file (the source reopens them on its next read)."""
        for logs in self._logs.values():
            for log in logs:
                log.followed.close()

    def _poll_all(self, now: datetime) -> dict[str, SidePoll]:
        return {side: self._poll_side(side, now) for side in self._logs}

    def _poll_side(self, side: str, now: datetime) -> SidePoll:
        window = self._windows[side]
        outcomes = [(log, log.followed.poll()) for log in self._logs[side]]
        for log, o in outcomes:
            window.add(
                o.lines, started_mid_file=o.started_mid_file, read_at=now, matcher=log.matcher
            )
        start, end = window_bounds(now, self._window_seconds)
        window.prune(start)
        stats, extras = window.stats(start, end)
        backlog = sum(o.backlog_bytes for _, o in outcomes)
        following = LogFollowing(
            unparsed_lines=window.unparsed_lines,
            backlog_bytes=backlog,
            paths=tuple(str(log.followed.path) for log in self._logs[side]),
        )
        problems = tuple(o.error for _, o in outcomes if o.error)
        notes = _notes(extras, backlog, window, start)
        return SidePoll(stats, extras, following, problems, notes)

    def _reading(self, side: str, poll: SidePoll, now: datetime) -> Reading:
        signal_id = errors_signal_id(ACCESS_LOG, side)
        if poll.problems:
            reason = "; ".join(poll.problems)
            values = unknown_values(self._thresholds, self._window_seconds, reason)
            return make_reading(self, signal_id, Status.UNKNOWN, now, reason, values)
        not_understood = poll.window.lines_not_understood or 0
        if poll.stats.requests == 0 and not_understood:
            return self._not_understood_reading(side, poll, now, not_understood)
        values = error_values(poll.stats, self._thresholds, self._window_seconds, poll.extras)
        detail = describe(
            poll.stats,
            self._thresholds,
            window_text(self._window_seconds),
            p95_missing=_p95_missing(poll.window),
        )
        detail = "; ".join((detail, *poll.notes))
        status = classify(poll.stats, self._thresholds)
        return make_reading(self, signal_id, status, now, detail, values)

    def _not_understood_reading(
        self, side: str, poll: SidePoll, now: datetime, not_understood: int
    ) -> Reading:
        """No request understood but lines were written: the format is wrong, not the traffic."""
        window = self._windows[side]
        form = window.format_description
        span = window_text(self._window_seconds)
        if window.understood_lines == 0:
            reason = (
                f"the log does not match the configured format {form}: none of its "
                f"{not_understood} lines ({span}) understood; set errors.access_logs.format"
            )
        else:
            reason = (
                f"no request understood ({span}): {not_understood} lines not understood as {form}"
            )
        notes = [note for note in poll.notes if not note.endswith(f"not understood as {form}")]
        reason = "; ".join((reason, *notes))
        values = {**poll.extras, **unknown_values(self._thresholds, self._window_seconds, reason)}
        signal_id = errors_signal_id(ACCESS_LOG, side)
        return make_reading(self, signal_id, Status.UNKNOWN, now, reason, values)


def _p95_missing(extras: LogWindow) -> str:
    if extras.latency_logged:
        return "p95 unavailable (no request times logged)"
    return "p95 unavailable (the log format has no $request_time or $upstream_response_time)"


def _notes(extras: LogWindow, backlog: int, window: SideWindow, start: datetime) -> tuple[str, ...]:
    """What the detail must add so the numbers are not read as more than they are.

    The count of lines not understood comes last, so a reading about them can drop it.
    """
    notes = []
    if window.covered_since is not None and window.covered_since > start:
        since = window.covered_since.astimezone(UTC)
        notes.append(f"log read from {since:%H:%M:%S} UTC only")
    if backlog:
        notes.append(f"reading behind: {size_text(backlog)} not read yet")
    probes = extras.probe_lines_excluded
    if probes:
        notes.append(f"{probes} cockpit probe lines left out")
    not_understood = extras.lines_not_understood
    if not_understood:
        notes.append(f"{not_understood} lines not understood as {window.format_description}")
    return tuple(notes)


@dataclass(frozen=True)
class _SideLog:
    """One configured log file and the format its lines are in."""

    followed: FollowedLog
    matcher: LineMatcher


def _logs_by_side(access_logs: Sequence[AccessLog]) -> dict[str, list[_SideLog]]:
    """The followed files per side, old first, only for sides that have a log."""
    by_side: dict[str, list[_SideLog]] = {}
    for side in SIDES:
        logs = [
            _SideLog(FollowedLog(Path(log.path)), LineMatcher.for_config(log.format))
            for log in access_logs
            if log.side == side
        ]
        if logs:
            by_side[side] = logs
    return by_side


def build_access_log_sources(context: SourceContext) -> list[AccessLogErrorsSource]:
    """The access log error source, or [] when no [[errors.access_logs]] is configured."""
    section = context.config.errors
    if section is None or not section.access_logs:
        return []
    return [AccessLogErrorsSource(context, section)]
