"""Compact Unicode charts for reports: one block character per time bucket, gaps left visible.

Pure functions over plain numbers and times, so a report draws the same chart every time and a
test can check a spike or a gap column by column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

BLOCKS = "▁▂▃▄▅▆▇█"
GAP = "·"
MARK = "^"


@dataclass(frozen=True)
class Span:
    """A value held from `start` until `end` (a reading stays true until the next one)."""

    start: datetime
    end: datetime
    value: float


@dataclass(frozen=True)
class Window:
    """The time axis of a chart: `width` equal buckets from `start` to `end`."""

    start: datetime
    end: datetime
    width: int

    @property
    def seconds(self) -> float:
        """The axis length; at least a second, so a one-record journal still has a bucket."""
        return max(1.0, (self.end - self.start).total_seconds())

    def position(self, at: datetime) -> float:
        """Where `at` falls on the axis, in buckets from the start (0 to width)."""
        return (at - self.start).total_seconds() / self.seconds * self.width

    def column(self, at: datetime) -> int:
        """The bucket holding `at`, clamped to the axis."""
        return min(self.width - 1, max(0, int(self.position(at))))


def column_maxima(spans: Iterable[Span], window: Window) -> list[float | None]:
    """The highest value held in each bucket; None where no value was held (never a made-up 0)."""
    columns: list[float | None] = [None] * window.width
    origin, scale, last_column = (
        window.start.timestamp(),
        window.width / window.seconds,
        window.width - 1,
    )
    for span in spans:
        first = min(last_column, max(0, int((span.start.timestamp() - origin) * scale)))
        end = math.ceil((span.end.timestamp() - origin) * scale) - 1
        for index in range(first, max(first, min(last_column, end)) + 1):
            held = columns[index]
            if held is None or span.value > held:
                columns[index] = span.value
    return columns


def bar_line(columns: Sequence[float | None], top: float, *, log_scale: bool = False) -> str:
    """One block per bucket scaled to `top`: ▁ is zero, any positive value at least ▂."""
    return "".join(_block(value, top, log_scale) for value in columns)


def _block(value: float | None, top: float, log_scale: bool) -> str:
    if value is None:
        return GAP
    if value <= 0 or top <= 0:
        return BLOCKS[0]
    share = math.log1p(value) / math.log1p(top) if log_scale else value / top
    level = math.ceil(min(1.0, share) * (len(BLOCKS) - 1))
    return BLOCKS[max(1, level)]


def marker_line(columns: Iterable[int], width: int) -> str:
    """A ^ under each bucket in `columns` (e.g. where an action happened), spaces elsewhere."""
    cells = [" "] * width
    for column in columns:
        if 0 <= column < width:
            cells[column] = MARK
    return "".join(cells).rstrip()


def axis_line(start_label: str, end_label: str, width: int) -> str:
    """The start label under the first bucket and the end label ending under the last."""
    gap = max(1, width - len(start_label) - len(end_label))
    return f"{start_label}{' ' * gap}{end_label}"


def downsample(
    points: Sequence[tuple[datetime, float | None]], window: Window, limit: int
) -> list[tuple[datetime, float | None]]:
    """At most about `limit` points: per time bucket the highest one, and the first gap if any.

    Keeping each bucket's maximum keeps spikes; keeping its first None keeps gaps visible.
    """
    if len(points) <= limit:
        return list(points)
    buckets = Window(window.start, window.end, max(1, limit // 2))
    highest: dict[int, tuple[datetime, float]] = {}
    first_gap: dict[int, tuple[datetime, None]] = {}
    for at, value in points:
        bucket = buckets.column(at)
        if value is None:
            first_gap.setdefault(bucket, (at, None))
        elif bucket not in highest or value > highest[bucket][1]:
            highest[bucket] = (at, value)
    kept: list[tuple[datetime, float | None]] = [*highest.values(), *first_gap.values()]
    return sorted(kept, key=lambda point: point[0])
