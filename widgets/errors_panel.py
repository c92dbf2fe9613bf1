"""Error rates: 5xx ratio, requests, p95 and status per backend, old and new side by side."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

from rich.console import Group
from rich.text import Text

from cockpit.model import Reading, SignalKind, Status
from cockpit.sources import errors_values
from cockpit.sources.errors_values import SIDES
from widgets.formatting import (
    NO_DATA,
    STATUS_WORDS,
    age_text,
    percent_text,
    seconds_text,
    sparkline,
    status_text,
)
from widgets.panel import PanelRow, RowDetail, SignalPanel, merged_detail, reading_detail

BACKEND_ORDER = errors_values.BACKENDS
BACKEND_WIDTH = 10
RATIO_WIDTH = 7
REQUESTS_WIDTH = 5
LATENCY_WIDTH = 10
STATUS_WIDTH = max(len(word) for word in STATUS_WORDS.values())
SIDE_WIDTH = RATIO_WIDTH + REQUESTS_WIDTH + LATENCY_WIDTH + STATUS_WIDTH + 3
TABLE_WIDTH = BACKEND_WIDTH + 1 + SIDE_WIDTH + 1 + SIDE_WIDTH
"""Content columns the one-line-per-backend table needs (76); narrower panels use two lines."""
TREND_MIN_WIDTH = 8
TREND_MAX_WIDTH = 30
FALLBACK_WIDTH = 76
NO_RATIO = "no data"

Align = Literal["left", "right"]


@dataclass(frozen=True)
class Layout:
    """How much the panel's width allows: a trend column per side (wide), one or two lines."""

    width: int
    two_line: bool
    trend_width: int

    @classmethod
    def for_width(cls, width: int) -> Layout:
        spare = (width - TABLE_WIDTH - 2) // 2
        trend = min(spare, TREND_MAX_WIDTH) if spare >= TREND_MIN_WIDTH else 0
        return cls(width, two_line=width < TABLE_WIDTH, trend_width=trend)

    @property
    def side_width(self) -> int:
        """One side's cell width in the table."""
        if self.two_line:
            return max(1, (self.width - BACKEND_WIDTH - 2) // 2)
        return SIDE_WIDTH + (self.trend_width + 1 if self.trend_width else 0)


def backend_and_side(reading: Reading) -> tuple[str, str]:
    """('cloudwatch', 'old') from 'errors:cloudwatch:old'."""
    return errors_values.backend_and_side(reading.signal_id)


def backend_label(backend: str) -> str:
    return backend.replace("_", " ")


def backends_in_order(readings: Sequence[Reading]) -> list[str]:
    """The backends present, in the fixed order, then any other alphabetically."""
    present = {backend_and_side(reading)[0] for reading in readings}
    return [b for b in BACKEND_ORDER if b in present] + sorted(present - set(BACKEND_ORDER))


def ratio_text(ratio: float | None) -> str:
    """The 5xx ratio: 'no data' when unknown (never 0 %), two decimals when tiny but not 0."""
    if ratio is None:
        return NO_RATIO
    return percent_text(ratio, digits=2 if 0 < ratio < 0.001 else 1)


def count_text(count: float | None) -> str:
    """A request count in at most five characters: 812, 48210, 312k, 4.2M; NO_DATA when unknown."""
    if count is None:
        return NO_DATA
    if count < 100_000:
        return f"{count:.0f}"
    if count < 1_000_000:
        return f"{count / 1000:.0f}k"
    return f"{count / 1_000_000:.1f}M"


def p95_unavailable(reading: Reading) -> bool:
    """True when the source said it could not get a p95 (as opposed to having no requests)."""
    reason = errors_values.from_reading(reading).p95_unavailable_reason
    return reason is not None or "p95 unavailable" in reading.detail


def latency_text(reading: Reading) -> str:
    """The p95; the average marked 'avg' when the p95 is unavailable; NO_DATA otherwise."""
    values = errors_values.from_reading(reading)
    if values.p95_seconds is not None:
        return seconds_text(values.p95_seconds)
    average = values.avg_response_seconds
    if average is not None and p95_unavailable(reading):
        return f"avg {seconds_text(average)}"
    return NO_DATA


def limits_text(readings: Sequence[Reading]) -> str:
    """'5xx (limit 1.0 %) · p95 (limit 500 ms) · last 60 s', from the readings' own values."""
    decoded = [errors_values.from_reading(reading) for reading in readings]
    ratio_limit = _shared_number(values.threshold_ratio for values in decoded)
    parts = [f"5xx (limit {percent_text(ratio_limit)})"]
    p95_limit = _shared_number(values.threshold_p95_seconds for values in decoded)
    if p95_limit is not None:
        parts.append(f"p95 (limit {seconds_text(p95_limit)})")
    window = _shared_number(values.window_seconds for values in decoded)
    if window is not None:
        parts.append(f"last {window:.0f} s")
    return " · ".join(parts)


def _shared_number(numbers: Iterable[float | None]) -> float | None:
    """The number every reading that has it agrees on; None when absent or they differ."""
    known = {float(number) for number in numbers if number is not None}
    return known.pop() if len(known) == 1 else None


def cell(text: str | Text, width: int, align: Align = "left", style: str = "") -> Text:
    """Text cut (with an ellipsis) and padded to exactly `width` cells."""
    content = Text(text, style=style) if isinstance(text, str) else text.copy()
    content.truncate(width, overflow="ellipsis")
    content.align(align, width)
    return content


def line_fit(text: Text, width: int) -> Text:
    """One line cut to `width` cells, never wrapped."""
    text.truncate(max(1, width), overflow="ellipsis")
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def error_detail(reading: Reading, now: datetime) -> RowDetail:
    """One side's 5xx, requests, latencies and every other value it carries."""
    return reading_detail(reading, now, errors_values.from_reading(reading))


class ErrorsPanel(SignalPanel):
    """Old and new side by side per backend; no traffic reads 'no data', never 0 %."""

    panel_title: ClassVar[str] = "ERROR RATES"
    kind: ClassVar[SignalKind | None] = SignalKind.ERRORS
    sparkline_values: ClassVar[tuple[str, ...]] = (errors_values.ERROR_RATIO,)

    def reading_rows(self, readings: Sequence[Reading], now: datetime) -> list[PanelRow]:
        layout = Layout.for_width(self.row_width())
        by_key = {backend_and_side(r): r for r in readings}
        lines = [line_fit(Text(limits_text(readings), style="bold"), layout.width)]
        rows = [PanelRow(line) for line in lines + self._header(layout)]
        for backend in backends_in_order(readings):
            rows.append(self._backend_row(backend, by_key, layout, now))
        if not layout.trend_width:
            rows.extend(PanelRow(line) for line in self._trend_lines(readings, layout.width))
        rows.extend(self._notes(readings, now, layout.width))
        return rows

    def _backend_row(
        self,
        backend: str,
        by_key: dict[tuple[str, str], Reading],
        layout: Layout,
        now: datetime,
    ) -> PanelRow:
        """The backend's line (two when narrow), opening into both sides' values."""
        lines = self._backend_rows(backend, by_key, layout, now)
        sides = [by_key[(backend, side)] for side in SIDES if (backend, side) in by_key]
        detail = merged_detail([error_detail(reading, now) for reading in sides])
        return PanelRow(lines[0] if len(lines) == 1 else Group(*lines), detail, backend)

    def _header(self, layout: Layout) -> list[Text]:
        """'OLD ───  NEW ───' over the sides, and the column names when a row is one line."""
        sides = Text(" " * (BACKEND_WIDTH + 1))
        sides.append(Text(" ").join(self._side_rule(side, layout.side_width) for side in SIDES))
        if layout.two_line:
            return [line_fit(sides, layout.width)]
        names = Text(" " * (BACKEND_WIDTH + 1))
        names.append(Text(" ").join(self._column_names(layout) for _ in SIDES))
        return [sides, line_fit(names, layout.width)]

    def _side_rule(self, side: str, width: int) -> Text:
        """'OLD ─────' across the side's columns."""
        return cell(f"{side.upper()} " + "─" * (width - len(side) - 1), width, style="bold")

    def _column_names(self, layout: Layout) -> Text:
        parts = [
            cell("5xx", RATIO_WIDTH, "right", "dim"),
            cell("req", REQUESTS_WIDTH, "right", "dim"),
            cell("p95", LATENCY_WIDTH, style="dim"),
            cell("status", STATUS_WIDTH, style="dim"),
        ]
        if layout.trend_width:
            parts.append(cell("5xx trend", layout.trend_width, style="dim"))
        return Text(" ").join(parts)

    def _backend_rows(
        self,
        backend: str,
        by_key: dict[tuple[str, str], Reading],
        layout: Layout,
        now: datetime,
    ) -> list[Text]:
        """The backend's row: one line per backend, or two when the panel is narrow."""
        name = cell(backend_label(backend), BACKEND_WIDTH, style="bold")
        cells = [self._side_cell(by_key.get((backend, side)), layout, now) for side in SIDES]
        rows = []
        for line in range(2 if layout.two_line else 1):
            row = Text.assemble(name if line == 0 else " " * BACKEND_WIDTH, " ")
            row.append(Text(" ").join(side_lines[line] for side_lines in cells))
            rows.append(line_fit(row, layout.width))
        return rows

    def _side_cell(self, reading: Reading | None, layout: Layout, now: datetime) -> list[Text]:
        """One side's cell as one or two lines of exactly the side's width."""
        if layout.two_line:
            return self._stacked_cell(reading, layout.side_width, now)
        return [self._row_cell(reading, layout.trend_width, now)]

    def _row_cell(self, reading: Reading | None, trend_width: int, now: datetime) -> Text:
        """'  1.8 %   509 avg 3 ms   CRIT    ▁▂▅█' in fixed columns."""
        status = self._status_word(reading, now)
        style = "dim" if reading is not None and reading.is_stale(now) else ""
        parts = [
            cell(self._ratio(reading), RATIO_WIDTH, "right", style),
            cell(self._requests(reading), REQUESTS_WIDTH, "right", style),
            cell(self._latency(reading), LATENCY_WIDTH, style=style),
            cell(status, STATUS_WIDTH),
        ]
        if trend_width:
            parts.append(cell(self._trend(reading, trend_width), trend_width, style="cyan"))
        return Text(" ").join(parts)

    def _stacked_cell(self, reading: Reading | None, width: int, now: datetime) -> list[Text]:
        """'1.8 % CRIT' over '509 req avg 3 ms', for panels too narrow for one line."""
        if reading is None:
            return [cell(NO_DATA, width, style="dim"), cell("", width)]
        style = "dim" if reading.is_stale(now) else ""
        first = Text.assemble((self._ratio(reading), style), " ", self._status_word(reading, now))
        latency_label = "" if self._latency(reading).startswith("avg") else "p95 "
        second = f"{latency_label}{self._latency(reading)}"
        if errors_values.from_reading(reading).requests is not None:
            second = f"{self._requests(reading)} req {second}"
        return [cell(first, width), cell(second, width, style=style or "dim")]

    def _status_word(self, reading: Reading | None, now: datetime) -> Text:
        return (
            Text(NO_DATA, style="dim") if reading is None else status_text(reading.status_at(now))
        )

    def _ratio(self, reading: Reading | None) -> str:
        if reading is None:
            return NO_DATA
        return ratio_text(errors_values.from_reading(reading).error_ratio)

    def _requests(self, reading: Reading | None) -> str:
        if reading is None:
            return NO_DATA
        return count_text(errors_values.from_reading(reading).requests)

    def _latency(self, reading: Reading | None) -> str:
        return NO_DATA if reading is None else latency_text(reading)

    def _trend(self, reading: Reading | None, width: int) -> str:
        return "" if reading is None else sparkline(self._history(reading), width)

    def _trend_lines(self, readings: Sequence[Reading], width: int) -> list[Text]:
        """One compact line per side, 'old 5xx  cloudwatch ▁▂▅█  access log ▁▁▂', if any history."""
        lines = []
        for side in SIDES:
            histories = [
                (backend_label(backend_and_side(reading)[0]), self._history(reading))
                for reading in self._in_table_order(readings)
                if backend_and_side(reading)[1] == side and self._history(reading)
            ]
            if histories:
                lines.append(self._trend_line(side, histories, width))
        return lines

    def _history(self, reading: Reading) -> tuple[float, ...]:
        return self.series.get((reading.signal_id, errors_values.ERROR_RATIO), ())

    def _trend_line(
        self, side: str, histories: list[tuple[str, tuple[float, ...]]], width: int
    ) -> Text:
        line = Text(f"{side} 5xx", style="dim")
        share = (width - len(line)) // len(histories)
        for label, values in histories:
            spark_width = max(TREND_MIN_WIDTH // 2, share - len(label) - 3)
            line.append(f"  {label} ", style="dim")
            line.append(sparkline(values, spark_width), style="cyan")
        return line_fit(line, width)

    def _notes(self, readings: Sequence[Reading], now: datetime, width: int) -> list[PanelRow]:
        """Why each signal that is not OK stands as it does, worst first."""
        troubled = [r for r in self._in_table_order(readings) if r.status_at(now) is not Status.OK]
        troubled.sort(key=lambda r: -r.status_at(now).severity)
        return [
            PanelRow(
                line_fit(self._note(reading, now), width),
                error_detail(reading, now),
                f"note {reading.signal_id}",
            )
            for reading in troubled
        ]

    def _note(self, reading: Reading, now: datetime) -> Text:
        """'CRIT cloudwatch new: 2.1 % 5xx (…) over the 1 % limit', stale ones dimmed with age."""
        backend, side = backend_and_side(reading)
        note = Text.assemble(
            status_text(reading.status_at(now)), f" {backend_label(backend)} {side}: "
        )
        if not reading.is_stale(now):
            return note.append(reading.detail or NO_DATA)
        note.append(f"{age_text(reading.age_seconds(now))} old · {reading.detail}", style="dim")
        return note

    def _in_table_order(self, readings: Sequence[Reading]) -> list[Reading]:
        """Readings by backend (table order), then old before new."""
        backends = backends_in_order(readings)

        def position(reading: Reading) -> tuple[int, int]:
            backend, side = backend_and_side(reading)
            return backends.index(backend), SIDES.index(side) if side in SIDES else len(SIDES)

        return sorted(readings, key=position)
