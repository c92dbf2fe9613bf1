"""The old and the new database compared in the background: row counts and range checksums.

Signal `integrity:database`. The check (cockpit/io/integrity_db.py) takes minutes on a real
database, bounded by its statement timeout and rows-per-second cap; each poll reports the
table being checked with an ETA and, once done, every table's result. Status rules:
- not checked yet, or the run could not start: UNKNOWN, saying how far it got or why;
- any table DIFFERENT: CRITICAL, naming the tables and their first differing keys;
- every differing table MOVING (the old database's WAL moved on while it was checked): WARN,
  since writes still flow; a re-check once they stop says DIFFERENT or OK;
- a table UNCHECKED (timeout, cancelled): UNKNOWN, naming it;
- every table OK: OK.
A running re-check keeps the last result's status and says it is re-checking.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from cockpit.clock import Clock
from cockpit.config import IntegritySection
from cockpit.io.context import SourceContext
from cockpit.io.integrity_db import IntegrityControls, check_databases, check_table
from cockpit.io.integrity_result import IntegrityProgress, IntegrityRun
from cockpit.jsonvalue import JsonValue
from cockpit.model import Reading, SignalKind, Status
from cockpit.sources.background import BackgroundCheck, CheckState, verdict_values
from cockpit.sources.base import Schedule, make_reading
from cockpit.sources.integrity_values import DATABASE_SIGNAL_ID
from cockpit.units import coarse_duration_text

SCHEDULE = Schedule(interval_seconds=2.0, timeout_seconds=2.0, stale_after_seconds=10.0)
"""Polls read the background check's state, which costs nothing: they never wait on it."""
SHOWN_TABLES = 3

DatabaseState = CheckState[IntegrityRun, IntegrityProgress]


def run_status(run: IntegrityRun) -> Status:
    if run.moving:
        return Status.WARN
    return {"OK": Status.OK, "DIFFERENT": Status.CRITICAL}.get(run.status, Status.UNKNOWN)


def run_detail(run: IntegrityRun) -> str:
    """One line: the tables that differ (first keys), those unchecked, or that all match."""
    if run.error is not None:
        return f"UNCHECKED: {run.error}"
    different = [result for result in run.results if result.status == "DIFFERENT"]
    if run.moving:
        moving = _named([result.summary for result in different])
        return f"MOVING (the old database still takes writes; re-check once they stop): {moving}"
    if different:
        return "DIFFERENT: " + _named([result.summary for result in different])
    unchecked = [result for result in run.results if result.status == "UNCHECKED"]
    if unchecked or not run.results:
        return "UNCHECKED: " + (_named([r.summary for r in unchecked]) or "no tables to compare")
    rows = sum(result.old_rows or 0 for result in run.results)
    return f"OK: {len(run.results)} tables, {rows:,} rows, the same in both databases"


def _named(summaries: list[str]) -> str:
    more = len(summaries) - SHOWN_TABLES
    shown = "; ".join(summaries[:SHOWN_TABLES])
    return f"{shown}; and {more} more tables" if more > 0 else shown


def progress_fraction(progress: IntegrityProgress) -> float | None:
    """How much of the run is done, 0..1, counting the current table by its rows."""
    if progress.tables_total <= 0:
        return None
    within = 0.0
    estimate = progress.rows_total_estimate
    if estimate:
        within = min(1.0, progress.rows_done / estimate)
    return min(1.0, (progress.tables_done + within) / progress.tables_total)


def eta_seconds(state: DatabaseState, now: datetime) -> float | None:
    """Time left at the pace so far; None before there is a pace to go by."""
    fraction = progress_fraction(state.progress) if state.progress else None
    if not fraction or state.started_at is None:
        return None
    elapsed = (now - state.started_at).total_seconds()
    return max(0.0, elapsed * (1 - fraction) / fraction)


def classify(state: DatabaseState, now: datetime) -> tuple[Status, str]:
    """The status and line of what the background check has got so far."""
    if state.failure is not None:
        return Status.UNKNOWN, f"the integrity check failed: {state.failure}"
    last = state.last_result
    if last is None:
        return Status.UNKNOWN, f"checking: {_progress_text(state, now)}"
    status, detail = run_status(last), run_detail(last)
    if state.running:
        detail = f"{detail} (re-checking: {_progress_text(state, now)})"
    return status, detail


def _progress_text(state: DatabaseState, now: datetime) -> str:
    progress = state.progress
    if progress is None:
        return "starting"
    fraction = progress_fraction(progress)
    done = "" if fraction is None else f" {fraction:.0%},"
    eta = eta_seconds(state, now)
    left = "" if eta is None else f" ~{coarse_duration_text(eta)} left"
    return (
        f"table {progress.tables_done + 1} of {progress.tables_total} ({progress.table}),"
        f"{done}{left}"
    ).rstrip(",")


def state_values(state: DatabaseState, now: datetime) -> dict[str, JsonValue]:
    """The reading's values: the run going on and its progress, and the last finished run.

    The verdict's start is the run's own: a table checked again alone does not make the other
    tables' results any younger."""
    progress = state.progress
    fraction = progress_fraction(progress) if progress else None
    last = state.last_result
    return {
        **verdict_values(state),
        "result_started_at": None if last is None else last.started_at.isoformat(),
        "moving": last is not None and last.moving,
        "running": state.running,
        "started_at": None if state.started_at is None else state.started_at.isoformat(),
        "table": None if progress is None else progress.table,
        "tables_done": None if progress is None else progress.tables_done,
        "tables_total": None if progress is None else progress.tables_total,
        "fraction_done": fraction,
        "eta_seconds": eta_seconds(state, now),
        "result": None if state.last_result is None else state.last_result.to_json(),
    }


class DatabaseIntegritySource:
    """Starts the check at its first poll; every poll reports where it has got."""

    def __init__(self, settings: IntegritySection, context: SourceContext) -> None:
        self.name = "integrity (database)"
        self.kind = SignalKind.INTEGRITY
        self.schedule = SCHEDULE
        self.signal_ids = (DATABASE_SIGNAL_ID,)
        self._clock: Clock = context.clock
        self._settings, self._environ = settings, context.environ
        work = _database_check(settings, context.environ, context.clock)
        self.check = BackgroundCheck(self.name, work, context.clock)

    def recheck_table(self, table: str) -> bool:
        """Starts checking one table again, its result to replace that table's in the last run;
        False while a run is going or before any run has finished."""
        last = self.check.state().last_result
        if last is None:
            return False
        return self.check.start(
            _table_check(self._settings, self._environ, self._clock, last, table)
        )

    async def read(self) -> list[Reading]:
        state, now = self.check.started_state(), self._clock()
        status, detail = classify(state, now)
        values = state_values(state, now)
        return [make_reading(self, DATABASE_SIGNAL_ID, status, now, detail, values)]


def _database_check(
    settings: IntegritySection, environ: Mapping[str, str], clock: Clock
) -> Callable[[threading.Event, Callable[[IntegrityProgress], None]], IntegrityRun]:
    def work(
        cancel: threading.Event, progress: Callable[[IntegrityProgress], None]
    ) -> IntegrityRun:
        controls = IntegrityControls(progress=progress, cancel=cancel, clock=clock)
        return check_databases(settings, environ, controls)

    return work


def _table_check(
    settings: IntegritySection,
    environ: Mapping[str, str],
    clock: Clock,
    last: IntegrityRun,
    table: str,
) -> Callable[[threading.Event, Callable[[IntegrityProgress], None]], IntegrityRun]:
    """One table checked again, its result put in place of its old one in `last`."""

    def work(
        cancel: threading.Event, progress: Callable[[IntegrityProgress], None]
    ) -> IntegrityRun:
        controls = IntegrityControls(progress=progress, cancel=cancel, clock=clock)
        result = check_table(settings, environ, table, controls)
        return replace(last.with_result(result), finished_at=clock())

    return work
