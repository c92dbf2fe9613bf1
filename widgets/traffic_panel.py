"""Traffic: the old/new split as a bar and in numbers, where it sits in the step plan, and how."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive

from cockpit.model import Reading, SignalKind, Status
from cockpit.sources.maintenance_values import MaintenanceValues
from cockpit.sources.traffic_values import TrafficMember, TrafficValues
from cockpit.units import percent_number
from widgets.formatting import NO_DATA, age_text, freshness, status_text
from widgets.panel import PanelRow, RowDetail, SignalPanel, reading_detail

FALLBACK_WIDTH = 76
BAR_OLD = "█"
BAR_NEW = "░"
BAR_OLD_STYLE = "blue"
BAR_NEW_STYLE = "cyan"
ARROW = " → "
GAP = "  "
FACT_GAP = " · "
INDENT = "  "
BACKEND_NAMES = {"route53": "Route 53 weighted records", "alb": "ALB weighted forward"}


@dataclass(frozen=True)
class Split:
    """The old/new split in percent, both known."""

    old_percent: float
    new_percent: float


def split_of(reading: Reading) -> Split | None:
    """Both weights in percent; None when either is unknown (never a made-up 0)."""
    weights = TrafficValues.from_reading(reading).weights
    if weights is None or weights.old is None or weights.new is None:
        return None
    return Split(float(weights.old), float(weights.new))


def steps_of(reading: Reading) -> list[int]:
    return list(TrafficValues.from_reading(reading).steps or ())


def unknown_reason(error: str | None, reading: Reading) -> str:
    """Why a value is unknown: the poll's error, else the source's sentence."""
    return error or reading.detail or "no reason given"


def headline(reading: Reading, now: datetime) -> Text:
    """The status word and the source's sentence, or 'weights unknown: <reason>'."""
    line = Text.assemble(status_text(reading.status_at(now)), " ")
    if split_of(reading) is None:
        reason = unknown_reason(TrafficValues.from_reading(reading).error, reading)
        line.append(f"weights unknown: {reason}", style="magenta")
    else:
        line.append(reading.detail)
    return line


def weights_text(split: Split) -> Text:
    """'old 75 % | new 25 %', the numbers the bar draws."""
    return Text.assemble(
        "old ",
        (f"{percent_number(split.old_percent)} %", f"bold {BAR_OLD_STYLE}"),
        " | new ",
        (f"{percent_number(split.new_percent)} %", f"bold {BAR_NEW_STYLE}"),
    )


def bar_cells(split: Split, cells: int) -> tuple[int, int]:
    """(old cells, new cells) out of `cells`; a share above 0 % always gets at least one."""
    total = split.old_percent + split.new_percent
    if cells <= 0 or total <= 0:
        return 0, max(cells, 0)
    new = round(split.new_percent / total * cells)
    if split.new_percent > 0:
        new = max(new, 1)
    if split.old_percent > 0:
        new = min(new, cells - 1)
    return cells - new, new


def weights_bar(split: Split, width: int) -> Text:
    """'old ██████████████░░░░ new' filling `width`."""
    old, new = bar_cells(split, width - len("old  new"))
    return Text.assemble(
        "old ", (BAR_OLD * old, BAR_OLD_STYLE), (BAR_NEW * new, BAR_NEW_STYLE), " new"
    )


def step_place(reading: Reading) -> Text:
    """'step 4 of 7 · next 50 %', 'between 25 % and 50 %', or what is unknown."""
    steps = steps_of(reading)
    values = TrafficValues.from_reading(reading)
    index, previous = values.step_index, values.previous_step_percent
    following = values.next_step_percent
    if split_of(reading) is None:
        return Text("current step unknown", style="magenta")
    if index is not None and 0 <= index < len(steps):
        nxt = f"next {following} %" if following is not None else "last step"
        return Text(f"step {index + 1} of {len(steps)} · {nxt}")
    return Text(f"not a planned step: {_between(previous, following)}", style="bold yellow")


def _between(previous: int | None, following: int | None) -> str:
    if previous is not None and following is not None:
        return f"between {previous} % and {following} %"
    if following is not None:
        return f"below the first step, {following} %"
    if previous is not None:
        return f"above the last step, {previous} %"
    return "no steps planned"


def plan_lines(reading: Reading, width: int) -> list[Text]:
    """'plan 0 → 5 → 10 → [25] → 50 → 75 → 100'; between steps a '[now 30 %]' marker sits there.

    A plan too long for one line breaks between steps, never inside one.
    """
    steps = steps_of(reading)
    split = split_of(reading)
    index = TrafficValues.from_reading(reading).step_index
    items = [_step_item(step, position == index) for position, step in enumerate(steps)]
    if split is not None and index is None:
        below = sum(1 for step in steps if step < split.new_percent)
        marker = f"[now {percent_number(split.new_percent)} %]"
        items.insert(below, Text(marker, style="bold yellow"))
    if not items:
        return []
    items[0] = Text("plan ").append_text(items[0])
    return packed(items, width, ARROW, INDENT + ARROW.lstrip())


def _step_item(step: int, current: bool) -> Text:
    return Text(f"[{step}]", style="bold reverse") if current else Text(str(step))


def backend_facts(reading: Reading) -> list[Text]:
    """'Route 53 weighted records', 'TTL 30 s', 'raw old 70 / new 30', the maintenance rule."""
    values = TrafficValues.from_reading(reading)
    backend = values.backend
    parts = [Text(BACKEND_NAMES.get(str(backend), backend or NO_DATA))]
    if backend == "route53":
        ttl = values.ttl_seconds
        parts.append(Text(f"TTL {NO_DATA if ttl is None else ttl} s"))
    raw = values.raw_weights
    if raw is not None:
        parts.append(Text(f"raw old {_or_dash(raw.old)} / new {_or_dash(raw.new)}"))
    if backend == "alb":
        parts.append(_maintenance_rule_text(values.maintenance_rule))
    return parts


def members_lines(reading: Reading, width: int) -> list[Text]:
    """'canary 10 → 9.1 %' for every member, when the set has more than old and new.

    A plain old/new pair draws nothing here: the split line above already says it all.
    """
    members = TrafficValues.from_reading(reading).members
    if len(members) <= 2:
        return []
    items = [_member_text(member) for member in members]
    items[0] = Text("members ").append_text(items[0])
    return packed(items, width, FACT_GAP, INDENT)


def _member_text(member: TrafficMember) -> Text:
    share = member.share_percent
    share_text = NO_DATA if share is None else f"{percent_number(share)} %"
    style = {"old": BAR_OLD_STYLE, "new": BAR_NEW_STYLE}.get(str(member.role), "yellow")
    return Text.assemble(
        (member.label or NO_DATA, f"bold {style}"),
        f" {_or_dash(member.weight)} = {share_text}",
    )


def _or_dash(value: int | None) -> str:
    return NO_DATA if value is None else str(value)


def _maintenance_rule_text(rule: bool | None) -> Text:
    if rule is True:
        return Text("maintenance rule in front: yes", style="bold yellow")
    if rule is False:
        return Text("maintenance rule: none")
    return Text("maintenance rule: unknown", style="magenta")


def maintenance_line(reading: Reading, now: datetime) -> Text:
    """'maintenance ON — front door answers 503 (2s ago)', '… off — …', or UNKNOWN and why.

    The source's detail reads '<ON|off>: <evidence>'; a stale reading proves nothing.
    """
    values = MaintenanceValues.from_reading(reading)
    on = values.on
    status = reading.status_at(now)
    if status is Status.STALE:
        return _maintenance_unknown(f"reading STALE, {age_text(reading.age_seconds(now))} old")
    if status is Status.UNKNOWN or on is None:
        return _maintenance_unknown(unknown_reason(values.error, reading))
    evidence = reading.detail.partition(": ")[2] or reading.detail
    word = Text("ON", style="bold yellow") if on else Text("off")
    return Text.assemble(
        "maintenance ", word, f" — {evidence} ({age_text(reading.age_seconds(now))} ago)"
    )


def _maintenance_unknown(reason: str) -> Text:
    return Text.assemble(("maintenance UNKNOWN", "bold magenta"), f": {reason}")


def packed(
    segments: Sequence[Text], width: int, gap: str = GAP, continuation: str = INDENT
) -> list[Text]:
    """Segments side by side while they fit in `width`, else on following lines."""
    lines: list[Text] = []
    for segment in segments:
        if lines and lines[-1].cell_len + len(gap) + segment.cell_len <= width:
            lines[-1].append(gap).append_text(segment)
        else:
            lines.append(Text(continuation if lines else "").append_text(segment))
    return lines


class TrafficPanel(SignalPanel):
    """The weighted split between old and new, as numbers and a bar, placed in the step plan."""

    panel_title: ClassVar[str] = "TRAFFIC"
    kind: ClassVar[SignalKind | None] = SignalKind.TRAFFIC

    maintenance: reactive[Reading | None] = reactive(None)
    """The latest maintenance reading (the front door's answer), None without [maintenance]."""

    def placeholder(self) -> Text | None:
        if self.maintenance is not None and self.now is not None:
            return None
        return super().placeholder()

    def panel_rows(self) -> Sequence[PanelRow]:
        """The weights' rows, or what the panel waits for; the maintenance line under either."""
        waiting = super().placeholder()
        if waiting is None:
            return super().panel_rows()
        assert self.maintenance is not None and self.now is not None
        return [PanelRow(waiting), self._maintenance_row(self.maintenance, self.now)]

    def reading_rows(self, readings: Sequence[Reading], now: datetime) -> list[PanelRow]:
        rows = [
            PanelRow(
                Group(*self._split_lines(reading, now)),
                traffic_detail(reading, now),
                reading.signal_id,
            )
            for reading in readings
        ]
        if self.maintenance is not None:
            rows.append(self._maintenance_row(self.maintenance, now))
        return rows

    def _maintenance_row(self, maintenance: Reading, now: datetime) -> PanelRow:
        detail = reading_detail(maintenance, now, MaintenanceValues.from_reading(maintenance))
        return PanelRow(maintenance_line(maintenance, now), detail, maintenance.signal_id)

    def _split_lines(self, reading: Reading, now: datetime) -> list[Text]:
        """Headline, split, bar, members, plan, backend facts and age of one weighted set."""
        width = self.row_width()
        lines: list[Text] = [headline(reading, now)]
        split = split_of(reading)
        if split is not None:
            members = members_lines(reading, width)
            split_line = weights_text(split).append(" of old + new" if members else "")
            lines += packed([split_line, step_place(reading)], width)
            lines.append(weights_bar(split, width))
            lines += members
        lines += plan_lines(reading, width)
        if split is None and steps_of(reading):
            lines.append(Text(INDENT).append_text(step_place(reading)))
        if TrafficValues.from_reading(reading).read_back:
            lines += packed(backend_facts(reading), width, FACT_GAP)
        if reading.is_stale(now):
            for line in lines:
                line.stylize("dim")
        lines.append(freshness(reading, now))
        return lines


def traffic_detail(reading: Reading, now: datetime) -> RowDetail:
    """The weighted set's status, sentence, every member's weight and the step plan."""
    return reading_detail(reading, now, TrafficValues.from_reading(reading))
