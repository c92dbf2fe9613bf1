"""Replication: bytes and seconds side by side, state, catch-up ETA and a lag sparkline.

Logical replication adds the slot's retained WAL, table sync states, apply errors and the
sequences at both ends; a DMS task shows its status, full-load progress, CDC latency at source
and target, and the tables in trouble (its lag history is in seconds: DMS has no bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cockpit.model import Reading, SignalKind
from cockpit.sources.logical_values import LogicalValues, sequence_rows
from cockpit.sources.replication_dms_values import DmsValues
from cockpit.sources.replication_values import (
    REPLAY_LAG_BYTES,
    REPLAY_LAG_SECONDS,
    ReplicationValues,
)
from widgets.formatting import (
    NO_DATA,
    bytes_text,
    freshness,
    seconds_text,
    sparkline,
    status_text,
)
from widgets.panel import PanelRow, SignalPanel, reading_detail


def _yes_no(value: object) -> str:
    return NO_DATA if value is None else ("yes" if value else "no")


def _rate_text(values: ReplicationValues) -> str:
    """Catching up at X/s, or falling behind at X/s: a negative rate is said in words."""
    return _rate_text_of(values.catchup_bytes_per_second)


def _rate_text_of(rate: float | None) -> str:
    if rate is None:
        return NO_DATA
    if rate < 0:
        return f"falling behind {bytes_text(-rate)}/s"
    return f"{bytes_text(rate)}/s"


def _values(reading: Reading) -> ReplicationValues | LogicalValues | DmsValues:
    values = ReplicationValues.from_reading(reading)
    if values.engine == "logical":
        return LogicalValues.from_reading(reading)
    if values.engine == "dms":
        return DmsValues.from_reading(reading)
    return values


def _eta_text(values: ReplicationValues) -> str:
    if values.replay_lag_bytes == 0:
        return "caught up"
    return seconds_text(values.catchup_eta_seconds)


class ReplicationPanel(SignalPanel):
    """The replica's distance from the primary, in bytes (the truth) and in seconds."""

    panel_title: ClassVar[str] = "REPLICATION"
    kind: ClassVar[SignalKind | None] = SignalKind.REPLICATION
    sparkline_values: ClassVar[tuple[str, ...]] = (REPLAY_LAG_BYTES, REPLAY_LAG_SECONDS)

    def reading_rows(self, readings: Sequence[Reading], now: datetime) -> list[PanelRow]:
        """One row per replica: its lag, state and history; enter opens every value."""
        return [
            PanelRow(
                self._replica(reading, now),
                reading_detail(reading, now, _values(reading)),
                reading.signal_id,
            )
            for reading in readings
        ]

    def _replica(self, reading: Reading, now: datetime) -> RenderableType:
        values = ReplicationValues.from_reading(reading)
        headline = Text.assemble(status_text(reading.status_at(now)), " ", reading.detail)
        lag_key = REPLAY_LAG_BYTES
        if values.engine == "logical":
            facts = _logical_facts(LogicalValues.from_reading(reading))
        elif values.engine == "dms":
            facts, lag_key = _dms_facts(DmsValues.from_reading(reading)), REPLAY_LAG_SECONDS
        else:
            facts = _streaming_facts(values)
        history = self.series.get((reading.signal_id, lag_key), ())
        spark = Text(sparkline(history, 40) or "no history yet", style="cyan")
        return Group(headline, facts, Text.assemble("lag ", spark), freshness(reading, now))


def _facts_grid() -> Table:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_column(style="dim")
    facts.add_column()
    return facts


def _streaming_facts(values: ReplicationValues) -> Table:
    facts = _facts_grid()
    facts.add_row(
        "byte lag",
        Text(bytes_text(values.replay_lag_bytes), style="bold"),
        "replay lag",
        seconds_text(values.replay_lag_seconds),
    )
    facts.add_row(
        "state",
        values.state or NO_DATA,
        "in recovery",
        _yes_no(values.in_recovery),
    )
    facts.add_row("catch-up", _rate_text(values), "ETA", _eta_text(values))
    facts.add_row(
        "replay paused",
        _yes_no(values.replay_paused),
        "primary quiet",
        seconds_text(values.primary_quiet_seconds),
    )
    return facts


def _logical_facts(values: LogicalValues) -> Table:
    """Lag and retained WAL, the subscription, tables, sequences and preflight problems."""
    facts = _facts_grid()
    facts.add_row(
        "byte lag",
        Text(bytes_text(values.replay_lag_bytes), style="bold"),
        "replay lag",
        _logical_seconds_text(values),
    )
    facts.add_row(
        "retained WAL",
        bytes_text(values.retained_wal_bytes),
        "publisher quiet",
        seconds_text(values.primary_quiet_seconds),
    )
    facts.add_row(
        "subscription",
        f"{values.subscription} {values.state or NO_DATA}",
        "apply errors",
        NO_DATA if values.apply_error_count is None else str(values.apply_error_count),
    )
    facts.add_row("tables", _tables_text(values), "sequences", _sequences_text(values))
    facts.add_row(
        "catch-up",
        _rate_text_of(values.catchup_bytes_per_second),
        "ETA",
        "caught up" if values.replay_lag_bytes == 0 else seconds_text(values.catchup_eta_seconds),
    )
    for row in sequence_rows(values):
        if row.behind or not row.known:
            facts.add_row(
                "  behind" if row.known else "  unknown",
                row.name,
                "sub / needs",
                f"{_number(row.subscriber_value)} / {_number(row.needed)}",
            )
    if values.no_identity_tables:
        names = ", ".join(values.no_identity_tables)
        facts.add_row("no replica id", Text(names, style="yellow"), "", "")
    return facts


def _dms_facts(values: DmsValues) -> Table:
    """Task status, full load, CDC latency at both ends, and the tables in trouble."""
    facts = _facts_grid()
    facts.add_row(
        "task",
        f"{values.task_identifier or NO_DATA} {values.task_status or NO_DATA}",
        "type",
        values.migration_type or NO_DATA,
    )
    facts.add_row(
        "CDC latency",
        Text(seconds_text(values.cdc_latency_source_seconds), style="bold"),
        "at target",
        Text(seconds_text(values.cdc_latency_target_seconds), style="bold"),
    )
    facts.add_row(
        "full load", _full_load_text(values), "stop reason", values.stop_reason or NO_DATA
    )
    for row in values.tables:
        failed = row.validation_failed_records or 0
        if row.state == "Table error" or failed:
            name = ".".join(part for part in (row.schema, row.table) if part)
            problem = row.state if not failed else f"{failed:,} failed validation"
            facts.add_row("  table", name, "", Text(problem or NO_DATA, style="yellow"))
    return facts


def _full_load_text(values: DmsValues) -> str:
    """'100 %, 12 loaded', naming tables still loading or queued only when there are some."""
    percent = values.full_load_percent
    parts = [NO_DATA if percent is None else f"{percent} %"]
    counts = (
        (values.tables_loaded, "loaded"),
        (values.tables_loading, "loading"),
        (values.tables_queued, "queued"),
    )
    parts += [f"{count} {word}" for count, word in counts if count]
    return ", ".join(parts)


def _logical_seconds_text(values: LogicalValues) -> str:
    """The walsender's replay lag, which only a role with pg_read_all_stats may see."""
    if values.replay_lag_hidden:
        return "needs pg_read_all_stats"
    return seconds_text(values.replay_lag_seconds)


def _tables_text(values: LogicalValues) -> str:
    total = values.tables_total
    if total is None:
        return NO_DATA
    not_ready = len(values.tables_not_ready)
    return f"{total - not_ready}/{total} ready" if not_ready else f"all {total} ready"


def _sequences_text(values: LogicalValues) -> str:
    total = values.sequences_total
    if total is None:
        return NO_DATA
    behind = values.sequences_behind or 0
    return f"{behind}/{total} behind" if behind else f"{total} at +{values.sequence_margin}"


def _number(value: int | None) -> str:
    return NO_DATA if value is None else f"{value:,}"
