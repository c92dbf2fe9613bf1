"""Target health: every target group and HTTP check by side, and the targets not healthy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text

from cockpit.model import Reading, SignalKind, Status
from cockpit.sources.targets_values import TargetRow, TargetsValues, target_name
from widgets.formatting import NO_DATA, STATUS_WORDS, age_text, seconds_text, status_text
from widgets.panel import PanelRow, RowDetail, SignalPanel, merged_detail, reading_detail

SIDE_ORDER = ("old", "new")
STATUS_COLUMN_WIDTH = max(len(word) for word in STATUS_WORDS.values())
TWO_COLUMNS_MIN_WIDTH = 100
"""Below this many content columns the sides are stacked; at or above it they sit side by side."""
FALLBACK_WIDTH = 76
MAX_TARGET_LINES = 3
COLUMN_GAP = 2


def side_of(reading: Reading) -> str:
    """The reading's side ("old", "new"), or "other" when it names none."""
    return TargetsValues.from_reading(reading).side or "other"


def signal_name(reading: Reading) -> str:
    """The configured name: 'tg-old' from 'targets:tg-old'."""
    return target_name(reading.signal_id)


def is_http_check(reading: Reading) -> bool:
    """HTTP checks carry a status_code value (None when nothing answered)."""
    return TargetsValues.from_reading(reading).is_http_check


def read_failed(reading: Reading) -> bool:
    """True when the group could not be read: its counts are unknown, never 0/0."""
    values = TargetsValues.from_reading(reading)
    return (
        reading.status is Status.UNKNOWN
        or values.error is not None
        or values.healthy is None
        or values.total is None
    )


def failure_reason(reading: Reading) -> str:
    """Why a reading has no counts: the source's error, else its detail."""
    return TargetsValues.from_reading(reading).error or reading.detail or "no reason given"


def sides_in_order(readings: Sequence[Reading]) -> list[tuple[str, list[Reading]]]:
    """Readings grouped by side: old, new, then any other side, each group in config order."""
    groups: dict[str, list[Reading]] = {}
    for reading in readings:
        groups.setdefault(side_of(reading), []).append(reading)
    known = [side for side in SIDE_ORDER if side in groups]
    others = sorted(side for side in groups if side not in SIDE_ORDER)
    return [(side, groups[side]) for side in known + others]


def summary_text(reading: Reading) -> str:
    """What follows the name: '2/3 healthy', 'HTTP 200 in 12 ms', or '—' when unread."""
    if is_http_check(reading):
        return http_summary(reading)
    if read_failed(reading):
        return NO_DATA
    values = TargetsValues.from_reading(reading)
    if values.total == 0:
        return "0/0 — no targets registered"
    return f"{values.healthy}/{values.total} healthy"


def http_summary(reading: Reading) -> str:
    """'HTTP 503 in 20 ms', or 'no answer' when nothing answered."""
    values = TargetsValues.from_reading(reading)
    if values.status_code is None:
        return "no answer"
    latency = values.latency_seconds
    return f"HTTP {values.status_code}" + (
        "" if latency is None else f" in {seconds_text(latency)}"
    )


def not_healthy_targets(reading: Reading) -> tuple[TargetRow, ...]:
    """The reading's targets whose state is anything but healthy."""
    return TargetsValues.from_reading(reading).not_healthy_targets()


def target_text(target: TargetRow, *, with_id: bool) -> str:
    """'10.0.1.7:80 draining: Target.DeregistrationInProgress (Target deregistration…)'."""
    state = target.state or "unavailable"
    head = f"{target.target_id} {state}" if with_id else state
    text = head + (f": {target.reason}" if target.reason else "")
    return text + (f" ({target.description})" if target.description else "")


def fitted(text: Text, width: int) -> Text:
    """The text cut to `width` cells with an ellipsis, so a long reason never wraps."""
    text.truncate(max(1, width), overflow="ellipsis")
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def side_heading(side: str) -> Text:
    return Text(side.upper(), style="bold underline", no_wrap=True)


def target_detail(reading: Reading, now: datetime) -> RowDetail:
    """The group's status, sentence and every target with its state and reason."""
    return reading_detail(reading, now, TargetsValues.from_reading(reading))


class TargetsPanel(SignalPanel):
    """Each target group and health URL, old side first, with why any target is not healthy."""

    panel_title: ClassVar[str] = "TARGETS"
    kind: ClassVar[SignalKind | None] = SignalKind.TARGETS

    def reading_rows(self, readings: Sequence[Reading], now: datetime) -> list[PanelRow]:
        width = self.row_width()
        sides = sides_in_order(readings)
        name_width = max(2, min(max(len(signal_name(r)) for r in readings), width // 3))
        if width >= TWO_COLUMNS_MIN_WIDTH and len(sides) > 1:
            return self._side_by_side(sides, now, width, name_width)
        rows: list[PanelRow] = []
        for side, members in sides:
            rows.append(PanelRow(side_heading(side)))
            rows.extend(self._target_row(r, now, width, name_width) for r in members)
        return rows

    def _side_by_side(
        self, sides: list[tuple[str, list[Reading]]], now: datetime, width: int, name_width: int
    ) -> list[PanelRow]:
        """Sides as columns; a row holds each side's n-th group, and opens into all of them."""
        column_width = (width - COLUMN_GAP * (len(sides) - 1)) // len(sides)
        rows = [PanelRow(self._grid([[side_heading(side)] for side, _ in sides], column_width))]
        for place in range(max(len(members) for _, members in sides)):
            at_place = [members[place] if place < len(members) else None for _, members in sides]
            cells = [
                [] if r is None else self._target_lines(r, now, column_width, name_width)
                for r in at_place
            ]
            shown = [r for r in at_place if r is not None]
            detail = merged_detail([target_detail(r, now) for r in shown])
            key = "|".join(r.signal_id for r in shown)
            rows.append(PanelRow(self._grid(cells, column_width), detail, key))
        return rows

    def _grid(self, cells: list[list[Text]], column_width: int) -> Table:
        grid = Table.grid(padding=(0, COLUMN_GAP))
        for _ in cells:
            grid.add_column(width=column_width, no_wrap=True)
        grid.add_row(*(Group(*lines) for lines in cells))
        return grid

    def _target_row(self, reading: Reading, now: datetime, width: int, name_width: int) -> PanelRow:
        lines = self._target_lines(reading, now, width, name_width)
        content = lines[0] if len(lines) == 1 else Group(*lines)
        return PanelRow(content, target_detail(reading, now), reading.signal_id)

    def _target_lines(
        self, reading: Reading, now: datetime, width: int, name_width: int
    ) -> list[Text]:
        lines = [fitted(self._headline(reading, now, name_width), width)]
        lines.extend(fitted(line, width) for line in self._explanation(reading, now))
        return lines

    def _headline(self, reading: Reading, now: datetime, name_width: int) -> Text:
        """'CRIT    tg-new   0/1 healthy', the status a word and stale readings dimmed."""
        status = reading.status_at(now)
        word = status_text(status)
        word.pad_right(STATUS_COLUMN_WIDTH - len(word))
        name = signal_name(reading)
        shown_name = name if len(name) <= name_width else name[: name_width - 1] + "…"
        line = Text.assemble(word, " ", (shown_name.ljust(name_width), "bold"), "  ")
        line.append(summary_text(reading))
        if status is Status.STALE:
            line.append(f"  {age_text(reading.age_seconds(now))} old", style="italic")
        if read_failed(reading) and not not_healthy_targets(reading):
            line.append(f"  {failure_reason(reading)}", style="italic")
        if status is Status.STALE:
            line.stylize("dim", STATUS_COLUMN_WIDTH)
        return line

    def _explanation(self, reading: Reading, now: datetime) -> list[Text]:
        """One indented line per target that is not healthy (a few at most), stale ones dimmed."""
        targets = not_healthy_targets(reading)
        style = "dim" if reading.is_stale(now) else ""
        with_id = not is_http_check(reading)
        lines = [
            Text(f"  {target_text(target, with_id=with_id)}", style=style)
            for target in targets[:MAX_TARGET_LINES]
        ]
        hidden = len(targets) - MAX_TARGET_LINES
        if hidden > 0:
            lines.append(Text(f"  and {hidden} more not healthy", style=style or "italic"))
        return lines
