"""Integrity: the old and new database table by table, and each bucket pair, as last checked.

A running check draws a bar with the share done and the time left; tables that differ or were
not checked are listed with their first differing keys, the rest counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text

from cockpit.io.bucket_compare import BucketComparison
from cockpit.io.integrity_result import IntegrityRun
from cockpit.model import Reading, SignalKind
from cockpit.sources.integrity_values import (
    DATABASE_SIGNAL_ID,
    BucketValues,
    DatabaseValues,
)
from widgets.formatting import NO_DATA, freshness, seconds_text, status_text
from widgets.panel import PanelRow, SignalPanel, reading_detail

BAR_WIDTH = 20
SHOWN_TABLES = 5


def progress_bar(fraction: float | None, width: int = BAR_WIDTH) -> str:
    """'██████░░░░ 60 %'; an empty bar while the share is not known yet."""
    if fraction is None:
        return "░" * width + " —"
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled) + f" {fraction:.0%}"


def _run_lines(run: IntegrityRun) -> list[Text]:
    """The tables that are not OK, each with its first differing keys; the OK ones counted."""
    troubled = [result for result in run.results if result.status != "OK"]
    lines = [
        Text.assemble(
            (f"{result.word:<10}", "bold"),
            " ",
            (result.table, "bold"),
            " ",
            result.summary.removeprefix(f"{result.table}: {result.word}, "),
        )
        for result in troubled[:SHOWN_TABLES]
    ]
    if len(troubled) > SHOWN_TABLES:
        lines.append(Text(f"… and {len(troubled) - SHOWN_TABLES} more tables not OK", "dim"))
    ok = len(run.results) - len(troubled)
    checked = f"{run.started_at:%H:%M:%S}Z–{run.finished_at:%H:%M:%S}Z"
    lines.append(Text(f"{ok} of {len(run.results)} tables OK · run {checked}", "dim"))
    return lines


def _bucket_lines(result: BucketComparison) -> list[Text]:
    """Objects on each side and when it was checked, then what a reader must know to trust it."""
    old = NO_DATA if result.old_objects is None else f"{result.old_objects:,}"
    new = NO_DATA if result.new_objects is None else f"{result.new_objects:,}"
    line = Text(f"objects old {old} / new {new} · checked {result.checked_at:%H:%M:%S}Z", "dim")
    return [line, *(Text(note, "dim") for note in result.notes[:2])]


class IntegrityPanel(SignalPanel):
    """Whether the new stores hold what the old ones did, as last checked, and the check going."""

    panel_title: ClassVar[str] = "INTEGRITY"
    kind: ClassVar[SignalKind | None] = SignalKind.INTEGRITY

    def reading_rows(self, readings: Sequence[Reading], now: datetime) -> list[PanelRow]:
        """The database first, then each bucket pair; enter opens every value."""
        ordered = sorted(readings, key=lambda r: (r.signal_id != DATABASE_SIGNAL_ID, r.signal_id))
        return [
            PanelRow(
                self._row_content(reading, now),
                reading_detail(reading, now, None),
                reading.signal_id,
            )
            for reading in ordered
        ]

    def _row_content(self, reading: Reading, now: datetime) -> RenderableType:
        name = "database" if reading.signal_id == DATABASE_SIGNAL_ID else reading.signal_id
        headline = Text.assemble(
            status_text(reading.status_at(now)),
            " ",
            (name.removeprefix("integrity:"), "bold"),
            " ",
            reading.detail,
        )
        if reading.signal_id == DATABASE_SIGNAL_ID:
            body = self._database(DatabaseValues.from_reading(reading))
        else:
            body = self._bucket(BucketValues.from_reading(reading))
        return Group(headline, *body, freshness(reading, now))

    def _database(self, values: DatabaseValues) -> list[Text]:
        lines: list[Text] = []
        if values.running:
            where = f" table {(values.tables_done or 0) + 1}/{values.tables_total or '?'}"
            left = (
                "" if values.eta_seconds is None else f" ~{seconds_text(values.eta_seconds)} left"
            )
            lines.append(Text(f"{progress_bar(values.fraction_done)}{where}{left}", "cyan"))
        if values.result is not None:
            lines += _run_lines(values.result)
        return lines

    def _bucket(self, values: BucketValues) -> list[Text]:
        lines: list[Text] = []
        if values.running:
            listed = f"listed {values.listed_old or 0:,} old / {values.listed_new or 0:,} new"
            lines.append(Text(listed, "cyan"))
        if values.result is not None:
            lines += _bucket_lines(values.result)
        return lines
