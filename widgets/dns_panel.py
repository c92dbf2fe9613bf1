"""DNS propagation: per record, how far the new answer has spread and what every server says."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import ClassVar

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive

from cockpit.model import Reading, SignalKind
from cockpit.sources import dns_values, dns_world_values
from cockpit.sources.dns_values import ResolverAnswer
from cockpit.units import countdown_text
from widgets.dns_world_lines import for_record, world_lines, world_record_name, world_summary_line
from widgets.formatting import (
    NO_DATA,
    SEGMENT_GAP,
    clock_text,
    fit_line,
    freshness,
    packed_lines,
    percent_text,
    status_text,
)
from widgets.panel import PanelRow, RowDetail, SignalPanel, reading_detail

FALLBACK_WIDTH = 76
FALLBACK_HEIGHT = 12
COLUMNS_MIN_WIDTH = 100
"""From this many content columns on, the grid may put resolver labels in a header row."""
CELL_GAP = 2
NARROW_LABEL_WIDTH = 10
WIDE_LABEL_WIDTH = 20
SHORT_REASON_WIDTH = 12
MIN_REASON_WIDTH = 8
"""Room kept for an error's reason in a narrow cell: enough for SERVFAIL or NXDOMAIN."""
WORST_NAMED = 2
INDENT = "  "

MATCH_WORDS = {"new": "NEW", "old": "OLD", "other": "OTHER", "error": "ERR", "stuck": "STUCK"}
MATCH_STYLES = {
    "new": "green",
    "old": "yellow",
    "other": "bold white on red",
    "error": "bold red",
    "stuck": "bold black on yellow",
}
MATCH_SEVERITY = {"new": 0, "old": 1, "stuck": 2, "error": 2, "other": 3}
"""How bad a server's answer is, for naming the worst: a wrong answer beats an error beats old."""


def shown_match(answer: ResolverAnswer) -> str:
    """The answer's kind as drawn: 'stuck' for an old answer past every TTL."""
    return "stuck" if answer.stuck else answer.matches or ""


def severity(answer: ResolverAnswer) -> int:
    return MATCH_SEVERITY.get(shown_match(answer), 2)


def match_word(answer: ResolverAnswer) -> Text:
    """NEW / OLD / STUCK / OTHER / ERR as a styled word ('—' when the reading says nothing)."""
    match = shown_match(answer)
    return Text(MATCH_WORDS.get(match, NO_DATA), style=MATCH_STYLES.get(match, "dim"))


def answer_note(answer: ResolverAnswer, reason_width: int | None) -> str:
    """The TTL left ('12s'), or for an error its reason cut to `reason_width`."""
    if answer.matches == "error":
        return _cut(answer.error or "no reason given", reason_width)
    return NO_DATA if answer.ttl is None else f"{answer.ttl}s"


def answer_text(answer: ResolverAnswer, reason_width: int | None) -> Text:
    """'NEW 12s' or 'ERR SERVFAIL'."""
    return Text.assemble(match_word(answer), " ", answer_note(answer, reason_width))


def answer_width(answer: ResolverAnswer, reason_width: int | None) -> int:
    """The cells answer_text() takes, counted without building it."""
    word = MATCH_WORDS.get(shown_match(answer), NO_DATA)
    return cell_len(word) + 1 + cell_len(answer_note(answer, reason_width))


def _cut(text: str, width: int | None) -> str:
    """`text` shortened to `width` cells with an ellipsis; unchanged when width is None."""
    if width is None or len(text) <= width:
        return text
    kept = text[: max(0, width - 1)]
    word_end = kept.rfind(" ")
    return (kept[:word_end] if word_end >= width // 2 else kept) + "…"


def server_cells(reading: Reading) -> tuple[ResolverAnswer, ...]:
    """Every server the reading reports: resolvers first, then authoritative, in config order."""
    return dns_values.from_reading(reading).servers


def record_name(reading: Reading) -> str:
    """'app.example.com' from 'dns:app.example.com'."""
    return dns_values.record_name(reading.signal_id)


def poll_failed(reading: Reading) -> bool:
    """True when the poll itself failed: the reading holds a reason, no server answers."""
    return dns_values.from_reading(reading).poll_failed


def failure_reason(reading: Reading) -> str:
    return dns_values.from_reading(reading).error or reading.detail or "no reason given"


def resolver_total(reading: Reading) -> int:
    return sum(1 for cell in server_cells(reading) if not cell.authoritative)


def converged_text(reading: Reading, *, short: bool = False) -> Text:
    """'75 % converged (3/4)'; '— converged (no resolver answered)' when unknown, never 0 %.

    The short form is the percent alone, for lines that also carry the counts.
    """
    values = dns_values.from_reading(reading)
    fraction = values.converged_fraction
    if values.poll_failed or (fraction is None and short):
        return Text(NO_DATA if short else f"{NO_DATA} converged", style="magenta")
    if fraction is None:
        return Text(f"{NO_DATA} converged (no resolver answered)", style="magenta")
    style = "green" if fraction >= 1 else "bold"
    percent = Text(percent_text(fraction, 0), style=style)
    if short:
        return percent
    new = values.new_count
    share = f"{NO_DATA if new is None else new}/{resolver_total(reading)}"
    return Text.assemble(percent, f" converged ({share})")


def old_gone_text(reading: Reading, now: datetime) -> Text:
    """'old gone by 00:58:14Z (in 30 s)', 'no old answers left', or why it cannot be estimated."""
    values = dns_values.from_reading(reading)
    gone_at = values.old_gone_at
    if gone_at is not None:
        left = (gone_at - now).total_seconds()
        when = f"in {countdown_text(left)}" if left > 0 else f"due {countdown_text(-left)} ago"
        return Text.assemble("old gone by ", (clock_text(gone_at), "bold"), f" ({when})")
    answered = values.converged_fraction is not None
    if answered and values.old_count == 0:
        return Text("no old answers left", style="green")
    reason = values.old_expiry_unknown_reason
    if reason is not None:
        style = "bold yellow" if values.stuck_count else "magenta"
        return Text(f"old gone: cannot be estimated ({reason})", style=style)
    return Text("old expiry unknown", style="magenta")


def split_text(reading: Reading) -> Text | None:
    """'weighted split: old 2 / new 3' while a weighted set answers both; None otherwise."""
    values = dns_values.from_reading(reading)
    if values.split is not True:
        return None
    old, new = values.old_count, values.new_count
    return Text(f"weighted split: old {old} / new {new}", style="cyan")


def preflight_text(reading: Reading) -> Text:
    """The TTL preflight in words: 'TTL 30 s ≤ max 60 s, preflight ok ✓' or 'FAILED: ...'."""
    values = dns_values.from_reading(reading)
    ttl, limit = values.authoritative_ttl_seconds, values.max_ttl_seconds
    passed = values.ttl_preflight_ok
    if ttl is None or passed is None:
        return Text("TTL preflight unknown: no authoritative TTL", style="magenta")
    if passed:
        against = f" ≤ max {limit:g} s" if limit is not None else ""
        return Text.assemble(f"TTL {ttl:g} s{against}, ", ("preflight ok ✓", "green"))
    against = f" > max {limit:g} s" if limit is not None else " is above the max"
    return Text.assemble(("TTL preflight FAILED", "bold white on red"), f": {ttl:g} s{against} ✗")


def ttl_low_text(reading: Reading, now: datetime) -> Text | None:
    """'low since 12-03 00:00Z · old 3600 s drained' (or 'drains 15:00Z', in yellow), while the
    TTL is low and something proves since when; None otherwise."""
    values = dns_values.from_reading(reading)
    since = values.ttl_low_since
    if since is None or values.ttl_preflight_ok is not True:
        return None
    text = Text(f"low since {since.astimezone(UTC):%m-%d %H:%MZ}")
    before, drained = values.ttl_before_seconds, values.ttl_drained_at
    if before is None or drained is None:
        return text.append(" · TTL before not known", style="dim")
    if drained <= now:
        return text.append(f" · old {before:g} s drained ✓", style="green")
    drains = drained.astimezone(UTC)
    return text.append(f" · old {before:g} s drains {drains:%H:%M:%SZ}", style="yellow")


def record_lines(
    reading: Reading, now: datetime, width: int, *, label_stale: bool = True
) -> list[Text]:
    """'WARN app.example.com A  75 % converged (3/4)', when the old answer is gone, TTL preflight.

    Packed side by side at 160 columns, on two or three lines at 80. A stale record is dimmed,
    and labelled with its age when other records share the panel (else the footer says it).
    """
    status = reading.status_at(now)
    record_type = dns_values.from_reading(reading).record_type
    name = f"{record_name(reading)} {record_type}" if record_type else record_name(reading)
    head = Text.assemble(status_text(status), " ", (name, "bold"), "  ", converged_text(reading))
    if poll_failed(reading):
        segments = [head, Text(f"poll failed: {failure_reason(reading)}", style="magenta")]
    else:
        split = split_text(reading)
        segments = [head, *([split] if split else []), old_gone_text(reading, now)]
        segments.append(preflight_text(reading))
        low = ttl_low_text(reading, now)
        if low is not None:
            segments.append(low)
    if label_stale and reading.is_stale(now):
        segments.append(freshness(reading, now))
    lines = packed_lines(segments, width)
    if reading.is_stale(now):
        for line in lines:
            line.stylize("dim")
    return lines


def worst_cells(cells: Sequence[ResolverAnswer], named: int = WORST_NAMED) -> list[ResolverAnswer]:
    """The servers answering worst (wrong, error, old), worst first; never ones answering new."""
    bad = [cell for cell in cells if severity(cell) > 0]
    return sorted(bad, key=lambda cell: -severity(cell))[:named]


def counts_text(reading: Reading) -> Text:
    """'new 3 · old 1 · err 1' over resolvers; old, other and err only when there are some."""
    values = dns_values.from_reading(reading)
    parts: list[Text] = []
    for name, value, always in (
        ("new", values.new_count, True),
        ("old", values.old_count, False),
        ("stuck", values.stuck_count, False),
        ("other", values.other_count, False),
        ("err", values.error_count, False),
    ):
        if value is None or (value == 0 and not always):
            continue
        match = "error" if name == "err" else name
        style = MATCH_STYLES[match] if value and match != "new" else ""
        parts.append(Text(f"{name} {value}", style=style))
    return Text(" · ").join(parts) if parts else Text(NO_DATA)


def summary_lines(reading: Reading, now: datetime, width: int) -> list[Text]:
    """A record in one line (two when narrow): status, percent, counts and the worst servers."""
    status = reading.status_at(now)
    name = _cut(record_name(reading), max(WIDE_LABEL_WIDTH, width // 3))
    head = Text.assemble(status_text(status), " ", (name, "bold"), "  ")
    head.append_text(converged_text(reading, short=True))
    if poll_failed(reading):
        rest = Text(f"poll failed: {failure_reason(reading)}", style="magenta")
    else:
        rest = counts_text(reading)
    one_line = _with_worst(Text.assemble(head, SEGMENT_GAP, rest), reading, width)
    if one_line.cell_len <= width:
        lines = [one_line]
    else:
        lines = [head, _with_worst(Text.assemble(INDENT, rest), reading, width)]
    for line in lines:
        fit_line(line, width, dim=reading.is_stale(now))
    return lines


def _with_worst(line: Text, reading: Reading, width: int) -> Text:
    """The line with as many of the worst servers named as fit (at least one)."""
    if poll_failed(reading):
        return line
    worst = worst_cells(server_cells(reading))
    for named in range(len(worst), 0, -1):
        names = Text(", ").join(_named_cell(cell) for cell in worst[:named])
        candidate = Text.assemble(line, "  worst: ", names)
        if candidate.cell_len <= width or named == 1:
            return candidate
    return line


def _named_cell(cell: ResolverAnswer) -> Text:
    label = f"{cell.label} (auth)" if cell.authoritative else cell.label
    return Text.assemble(label, " ", match_word(cell))


def latest_old_gone(readings: Sequence[Reading], now: datetime) -> Text:
    """Across records: when the last old answer anywhere is gone (never while one is STUCK)."""
    decoded = [(reading, dns_values.from_reading(reading)) for reading in readings]
    stuck = [record_name(reading) for reading, values in decoded if values.stuck_count]
    if stuck:
        names = ", ".join(stuck)
        return Text(f"last old answer: cannot be estimated (STUCK at {names})", style="bold yellow")
    moments = [values.old_gone_at for _, values in decoded]
    known = [moment for moment in moments if moment is not None]
    if not known:
        return Text("no old answer with a known expiry", style="dim")
    latest = max(known)
    left = (latest - now).total_seconds()
    when = f"in {countdown_text(left)}" if left > 0 else f"due {countdown_text(-left)} ago"
    return Text.assemble("last old answer gone by ", (clock_text(latest), "bold"), f" ({when})")


def preflight_summary(readings: Sequence[Reading]) -> Text:
    """'TTL preflight ok for 3/3 records', or 'FAILED for 2/3 records: <names>', in words."""
    verdicts = [dns_values.from_reading(reading).ttl_preflight_ok for reading in readings]
    pairs = zip(readings, verdicts, strict=True)
    failed = [record_name(reading) for reading, verdict in pairs if verdict is False]
    of_all = f"{len(readings)} records"
    if failed:
        names = f" for {len(failed)}/{of_all}: " + ", ".join(failed)
        return Text.assemble(("TTL preflight FAILED", "bold white on red"), names)
    passed = sum(1 for verdict in verdicts if verdict is True)
    text = Text.assemble(("TTL preflight ok", "green"), f" for {passed}/{of_all}")
    if passed < len(readings):
        text.append(f", {len(readings) - passed} unknown", style="magenta")
    return text


@dataclass(frozen=True)
class Column:
    """A grid column: one server label, and whether it is an authoritative server."""

    label: str
    authoritative: bool

    @property
    def header(self) -> str:
        return f"{self.label} (auth)" if self.authoritative else self.label


def grid_columns(readings: Sequence[Reading]) -> list[Column]:
    """Every server any record reports, resolvers first, in the order they appear."""
    seen: dict[Column, None] = {}
    for reading in readings:
        for cell in server_cells(reading):
            seen.setdefault(Column(cell.label, cell.authoritative), None)
    return sorted(seen, key=lambda column: column.authoritative)


def _cell_for(reading: Reading, column: Column) -> ResolverAnswer | None:
    for cell in server_cells(reading):
        if Column(cell.label, cell.authoritative) == column:
            return cell
    return None


def grid_table(readings: Sequence[Reading], width: int) -> Table | None:
    """Records as rows, servers as columns; None when it does not fit in `width`."""
    columns = grid_columns(readings)
    if not columns or _headers_width(columns) > width:
        return None
    for reason_width in (None, SHORT_REASON_WIDTH):
        rows = [_grid_row(reading, columns, reason_width) for reading in readings]
        if _table_width(columns, rows) <= width:
            return _table(columns, rows)
    return None


def _grid_row(reading: Reading, columns: Sequence[Column], reason_width: int | None) -> list[Text]:
    name = Text(_cut(record_name(reading), WIDE_LABEL_WIDTH), style="bold")
    cells = [_cell_for(reading, column) for column in columns]
    shown = [
        Text(NO_DATA, style="dim") if c is None else answer_text(c, reason_width) for c in cells
    ]
    return [name, *shown]


def _table_width(columns: Sequence[Column], rows: Sequence[Sequence[Text]]) -> int:
    headers = ["record", *(column.header for column in columns)]
    widths = [
        max(len(header), *(row[i].cell_len for row in rows)) for i, header in enumerate(headers)
    ]
    return sum(widths) + CELL_GAP * (len(widths) - 1)


def _table(columns: Sequence[Column], rows: Sequence[Sequence[Text]]) -> Table:
    table = Table.grid(padding=(0, CELL_GAP))
    for _ in range(len(columns) + 1):
        table.add_column(no_wrap=True)
    table.add_row(*(Text(h, style="dim") for h in ["record", *(c.header for c in columns)]))
    for row in rows:
        table.add_row(*row)
    return table


def flowed_cells(cells: Sequence[ResolverAnswer], width: int) -> list[Text]:
    """Cells laid out several per line, aligned; authoritative servers on lines marked 'auth:'."""
    resolvers = [cell for cell in cells if not cell.authoritative]
    authoritative = [cell for cell in cells if cell.authoritative]
    lines = _flow(resolvers, width - len(INDENT), INDENT)
    lines += _flow(authoritative, width - len(INDENT) - len("auth: "), INDENT + "auth: ")
    return lines


def flowed_line_count(cells: Sequence[ResolverAnswer], width: int) -> int:
    """The lines flowed_cells() takes at `width`, counted without drawing a cell."""
    resolvers = [cell for cell in cells if not cell.authoritative]
    authoritative = [cell for cell in cells if cell.authoritative]
    return _flow_lines(resolvers, width - len(INDENT)) + _flow_lines(
        authoritative, width - len(INDENT) - len("auth: ")
    )


@dataclass(frozen=True)
class FlowLayout:
    """How flowed cells sit: so many to a line, each so wide, its label cut to so many cells."""

    per_line: int
    cell_width: int
    label_width: int


def flow_layout(cells: Sequence[ResolverAnswer], width: int) -> FlowLayout:
    """The layout of `cells` (at least one) flowed into `width` columns."""
    longest_label = max(len(cell.label) for cell in cells)
    widest_answer = max(answer_width(cell, MIN_REASON_WIDTH) for cell in cells)
    base = min(NARROW_LABEL_WIDTH, longest_label) + 1 + widest_answer
    per_line = max(1, min(len(cells), (width + CELL_GAP) // (base + CELL_GAP)))
    cell_width = (width - CELL_GAP * (per_line - 1)) // per_line
    label_width = min(longest_label, max(NARROW_LABEL_WIDTH, cell_width - 1 - widest_answer))
    return FlowLayout(per_line, cell_width, label_width)


def _flow_lines(cells: Sequence[ResolverAnswer], width: int) -> int:
    return math.ceil(len(cells) / flow_layout(cells, width).per_line) if cells else 0


def _flow(cells: Sequence[ResolverAnswer], width: int, prefix: str) -> list[Text]:
    if not cells:
        return []
    layout = flow_layout(cells, width)
    texts = [_flowed_cell(cell, layout.label_width, layout.cell_width) for cell in cells]
    per_line = layout.per_line
    return [
        Text(prefix).append_text(Text(" " * CELL_GAP).join(texts[start : start + per_line]))
        for start in range(0, len(texts), per_line)
    ]


def _flowed_cell(cell: ResolverAnswer, label_width: int, cell_width: int) -> Text:
    """'cache-1    OLD 30s', padded to `cell_width`; an error's reason fills what is left."""
    label = _cut(cell.label, label_width).ljust(label_width)
    room = cell_width - label_width - 1 - match_word(cell).cell_len - 1
    text = Text.assemble(label, " ", answer_text(cell, max(room, 1)))
    text.truncate(cell_width, overflow="ellipsis", pad=True)
    return text


class DnsPanel(SignalPanel):
    """Per record: percent converged, when the old answer is gone, TTL preflight, every server;
    and, when measuring services are configured, what probes around the world see."""

    panel_title: ClassVar[str] = "DNS"
    kind: ClassVar[SignalKind | None] = SignalKind.DNS

    world: reactive[tuple[Reading, ...]] = reactive(())
    """The world's view (Globalping, RIPE Atlas), one reading per service and record, drawn
    under each record apart from its resolvers; it never changes the panel's own status."""

    def reading_rows(self, readings: Sequence[Reading], now: datetime) -> list[PanelRow]:
        """Every server's answer when that fits, else a line or two per record.

        Which one is decided from the sizes before any server's cell is drawn: with a hundred
        resolvers the detailed layout never fits, and drawing it to find out cost the most.
        """
        width = self.row_width()
        height = self.size.height or FALLBACK_HEIGHT
        if detailed_lines_at_least(readings, width) <= height:
            detailed = self._detailed(readings, now, width)
            if _line_count([row.content for row in detailed], width) <= height:
                return detailed
        return self._summary(readings, now, width, height)

    def _detailed(self, readings: Sequence[Reading], now: datetime, width: int) -> list[PanelRow]:
        """Headline and preflight per record, then the record x server grid."""
        rows: list[PanelRow] = []
        table = grid_table(readings, width) if width >= COLUMNS_MIN_WIDTH else None
        for reading in readings:
            lines: list[RenderableType] = []
            lines.extend(record_lines(reading, now, width, label_stale=len(readings) > 1))
            if table is None:
                lines.extend(flowed_cells(server_cells(reading), width))
            detail = partial(dns_detail, reading, now)
            rows.append(PanelRow(Group(*lines), detail, reading.signal_id))
            rows.extend(self._world_rows(record_name(reading), now, width))
        rows.extend(self._unmatched_world_rows(readings, now, width))
        if table is not None:
            rows.append(PanelRow(table))
        rows.append(PanelRow(freshness(_oldest(readings, now), now)))
        return rows

    def _world_rows(
        self, record: str, now: datetime, width: int, *, summary: bool = False
    ) -> list[PanelRow]:
        """The record's world lines, each a row that opens into its own detail."""
        rows = []
        for reading in for_record(self.world, record):
            if summary:
                lines = [world_summary_line(reading, now, width)]
            else:
                lines = world_lines(reading, now, width)
            rows.append(
                PanelRow(Group(*lines), partial(world_detail, reading, now), reading.signal_id)
            )
        return rows

    def _unmatched_world_rows(
        self, readings: Sequence[Reading], now: datetime, width: int, *, summary: bool = False
    ) -> list[PanelRow]:
        """World lines of records the resolvers have no reading of (yet)."""
        shown = {record_name(reading) for reading in readings}
        others = sorted({world_record_name(r) for r in self.world} - shown)
        return [
            row for name in others for row in self._world_rows(name, now, width, summary=summary)
        ]

    def _summary(
        self, readings: Sequence[Reading], now: datetime, width: int, height: int
    ) -> list[PanelRow]:
        """Records in a line or two each (the worst first when not all fit), expiry, preflight."""
        footer = [
            fit_line(latest_old_gone(readings, now), width),
            fit_line(preflight_summary(readings), width),
        ]
        entries = [summary_lines(reading, now, width) for reading in readings]
        order = list(range(len(readings)))
        if sum(len(entry) for entry in entries) > height - len(footer):
            order.sort(key=lambda i: -readings[i].status_at(now).severity)
        rows: list[PanelRow] = []
        for i in order:
            content = entries[i][0] if len(entries[i]) == 1 else Group(*entries[i])
            detail = partial(dns_detail, readings[i], now)
            rows.append(PanelRow(content, detail, readings[i].signal_id))
            rows.extend(self._world_rows(record_name(readings[i]), now, width, summary=True))
        rows.extend(self._unmatched_world_rows(readings, now, width, summary=True))
        return rows + [PanelRow(line) for line in footer]


def dns_detail(reading: Reading, now: datetime) -> RowDetail:
    """The record's status, sentence, and what every server answers with its TTL or error."""
    return reading_detail(reading, now, dns_values.from_reading(reading))


def world_detail(reading: Reading, now: datetime) -> RowDetail:
    """A world line's status, sentence, and every typed value of the measurement."""
    return reading_detail(reading, now, dns_world_values.from_reading(reading))


def detailed_lines_at_least(readings: Sequence[Reading], width: int) -> int:
    """A floor on the lines the detailed layout takes at `width`, counted without drawing it:
    a headline per record, the age line, and the servers' cells unless a grid may hold them."""
    floor = len(readings) + 1
    if width >= COLUMNS_MIN_WIDTH and _headers_width(grid_columns(readings)) <= width:
        return floor
    return floor + sum(flowed_line_count(server_cells(reading), width) for reading in readings)


def _headers_width(columns: Sequence[Column]) -> int:
    """The grid's width from its header row alone: what it takes at the least."""
    return sum(len(column.header) + CELL_GAP for column in columns) + len("record")


def _oldest(readings: Sequence[Reading], now: datetime) -> Reading:
    return max(readings, key=lambda reading: reading.age_seconds(now))


def _line_count(lines: Sequence[RenderableType], width: int) -> int:
    """Rows the lines take at `width`: a table counts its rows, a text its wrapped length."""
    total = 0
    for line in lines:
        if isinstance(line, Group):
            total += _line_count(line.renderables, width)
        elif isinstance(line, Table):
            total += line.row_count
        elif isinstance(line, Text):
            total += max(1, math.ceil(line.cell_len / max(width, 1)))
        else:
            total += 1
    return total
