"""The world's view of a record on the DNS panel: probes' share on new, by region, and the budget.

Drawn under the record's own lines and apart from the resolvers' convergence: the resolvers are
asked from this host, the probes from other continents through their own resolvers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

from cockpit.model import Reading
from cockpit.sources import dns_world_values
from cockpit.sources.dns_world_values import WorldValues
from cockpit.units import age_text, countdown_text
from widgets.formatting import (
    NO_DATA,
    SEGMENT_GAP,
    clock_text,
    fit_line,
    freshness,
    packed_lines,
    status_text,
)

INDENT = "  "
PACE_WORDS = {
    "slowed": "slowed to save budget",
    "held": "held for budget",
    "rate-limited": "rate-limited",
    "stopped": "stopped",
}
REASON_CHARS = 60


def world_record_name(reading: Reading) -> str:
    """'app.example.com' from 'dns-world:globalping:app.example.com'."""
    return dns_world_values.record_name(reading.signal_id)


def for_record(world: Sequence[Reading], record_name: str) -> list[Reading]:
    """The world readings of one record, in service order."""
    return sorted(
        (reading for reading in world if world_record_name(reading) == record_name),
        key=lambda reading: reading.signal_id,
    )


def _percent(fraction: float | None) -> str:
    return NO_DATA if fraction is None else f"{round(fraction * 100)} %"


def share_text(values: WorldValues) -> Text:
    """'50 % new (3/6 probes)', '— new (no probe answered)' or 'no measurement yet'."""
    if not values.has_results:
        return Text("no measurement yet", style="magenta")
    answered = values.answered_count
    if values.new_fraction is None or not answered:
        return Text(f"{NO_DATA} new (no probe answered)", style="magenta")
    style = "green" if values.new_fraction >= 1 else "bold"
    shown = Text(f"{_percent(values.new_fraction)} new", style=style)
    return Text.assemble(shown, f" ({values.new_count}/{answered} probes)")


def slowest_text(values: WorldValues) -> Text | None:
    """'slowest: SA 0 %, AS 50 %'; None when every region is all new."""
    shares = {share.region: share for share in values.regions}
    named = [shares[name] for name in values.slowest_regions if name in shares]
    if not named:
        return None
    parts = ", ".join(f"{share.region} {_percent(share.new_fraction)}" for share in named)
    return Text(f"slowest: {parts}", style="yellow")


def expiry_text(values: WorldValues, now: datetime) -> Text | None:
    """'old gone by 01:04:05Z (in 3m04s)' or 'no old answers'; None before any results."""
    if values.old_gone_at is not None:
        left = (values.old_gone_at - now).total_seconds()
        when = f"in {countdown_text(left)}" if left > 0 else f"due {countdown_text(-left)} ago"
        return Text.assemble("old gone by ", (clock_text(values.old_gone_at), "bold"), f" ({when})")
    if values.has_results and values.old_count == 0:
        return Text("no old answers", style="green")
    return None


def ttl_text(values: WorldValues) -> Text | None:
    if values.ttl_max_seconds is None:
        return None
    return Text(f"TTL ≤ {values.ttl_max_seconds} s")


def budget_text(values: WorldValues) -> Text | None:
    """'244/250 tests left', '250000 credits left'; None when the service has not said."""
    budget = values.budget
    if budget is None or budget.remaining is None:
        return None
    of = f"/{budget.limit}" if budget.limit is not None else ""
    return Text(f"{budget.remaining}{of} {budget.unit or ''} left".replace("  ", " "), style="dim")


def pace_text(values: WorldValues) -> Text | None:
    """'slowed to save budget, next 01:15:00Z', 'stopped: out of credits…'; None when normal."""
    pace = values.pace
    if pace is None or pace == "normal":
        return None
    word = PACE_WORDS.get(pace, pace)
    if pace == "stopped" and values.pace_reason:
        reason = values.pace_reason.split(";")[0]
        cut = reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"
        return Text(f"{word}: {cut}", style="bold magenta")
    when = values.next_measurement_at
    next_at = f", next {clock_text(when)}" if when is not None else ""
    return Text(f"{word}{next_at}", style="bold yellow")


def measured_text(values: WorldValues, now: datetime) -> Text | None:
    if values.measured_at is None:
        return None
    running = "" if values.finished else ", not finished"
    ago = age_text(max(0.0, (now - values.measured_at).total_seconds()))
    return Text(f"measured {ago} ago{running}", style="dim")


def world_segments(reading: Reading, now: datetime) -> list[Text]:
    """The pieces of a record's world line, most important first."""
    values = dns_world_values.from_reading(reading)
    service = values.service_name or "world"
    head = Text.assemble(
        status_text(reading.status_at(now)), " ", ("world", "bold"), f" ({service})  "
    )
    head.append_text(share_text(values))
    pieces = [
        slowest_text(values),
        expiry_text(values, now),
        ttl_text(values),
        pace_text(values),
        budget_text(values),
        measured_text(values, now),
    ]
    if reading.is_stale(now):
        pieces.append(freshness(reading, now))
    return [head, *(piece for piece in pieces if piece is not None)]


def world_lines(reading: Reading, now: datetime, width: int) -> list[Text]:
    """The world line of a record, packed into `width` (continued on indented lines)."""
    segments = world_segments(reading, now)
    lines = packed_lines(segments, width, first_indent=INDENT, indent=INDENT * 2)
    return [fit_line(line, width, dim=reading.is_stale(now)) for line in lines]


def world_summary_line(reading: Reading, now: datetime, width: int) -> Text:
    """The world line in one row, for a panel that shows each record in a line or two."""
    segments = world_segments(reading, now)
    line = Text(INDENT).append_text(segments[0])
    for segment in segments[1:3]:
        if line.cell_len + len(SEGMENT_GAP) + segment.cell_len > width:
            break
        line.append(SEGMENT_GAP).append_text(segment)
    return fit_line(line, width, dim=reading.is_stale(now))
