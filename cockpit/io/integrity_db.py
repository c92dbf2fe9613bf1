"""The database integrity check: are the old and the new database's tables the same, row by row?

Blocking (psycopg); the caller runs it in a thread. Each table is read on each side inside
one REPEATABLE READ READ ONLY transaction, so its verdict rests on one snapshot per side, and
the result records each side's WAL position at that snapshot: a caller that sees a position
move since can tell the verdict is about data that has changed. Works against a standby.

Load is bounded: one statement covers at most `range_rows` rows, each gets the configured
statement_timeout, rows hashed per second on each side stay under `max_rows_per_second`, and
`parallel_tables` tables (one by default) are checked at once. A cancel event is checked
between statements. Passwords never enter the text returned: a database is named by host:port
and db, and every text from a server is redacted and sanitized before it enters a result.

A table that differs is asked one more thing, outside its snapshot: whether the old database
has assigned a transaction id since. If it has, writes still flow and the difference is marked
moving.

Query bound: an identical table with a primary key costs 2 + 2 * (rows // range_rows + 1)
statements (its shape on each side, then per range one on each side); one without a primary key
costs 2 plus one per block range on each side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from cockpit.clock import Clock, system_clock
from cockpit.config import IntegritySection
from cockpit.io.dsn import DatabaseEnd, DsnLocation
from cockpit.io.failures import ActionFailed, describe_failure
from cockpit.io.integrity_ranges import (
    Database,
    QueryCount,
    RangeLimits,
    RowPacer,
    StatementFailed,
    TableComparison,
)
from cockpit.io.integrity_result import IntegrityProgress, IntegrityRun, RowDifference, TableResult
from cockpit.io.integrity_sql import NEXT_XID_SQL, SCHEMA_TABLES_SQL, session_settings
from cockpit.io.integrity_table import TEXT_LIMIT_CHARS, TableCheck, TableContext
from cockpit.outside import outside_text
from cockpit.redact import Redactor, redactor_for

__all__ = [
    "IntegrityControls",
    "IntegrityProgress",
    "IntegrityRun",
    "RowDifference",
    "TableResult",
    "check_databases",
    "check_table",
]

CONNECT_TIMEOUT_SECONDS = 10
# SQLSTATE query_canceled: a statement timeout, or a cancel request.
QUERY_CANCELED = "57014"

EndLabel = Literal["old", "new"]
Progress = Callable[[IntegrityProgress], None]


@dataclass(frozen=True)
class IntegrityControls:
    """What the caller steers a check with: progress reports, a cancel event, and the clocks
    (injectable so a test need not wait).

    sleep None: wait on the cancel event (so cancelling cuts a pause short), else time.sleep.
    """

    progress: Progress | None = None
    cancel: threading.Event | None = None
    clock: Clock = system_clock
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def pause(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        elif self.cancel is not None:
            self.cancel.wait(seconds)
        else:
            time.sleep(seconds)


def check_databases(
    settings: IntegritySection,
    environ: Mapping[str, str],
    controls: IntegrityControls | None = None,
) -> IntegrityRun:
    """Every configured table compared on the old and the new database."""
    with _IntegrityCheck(settings, environ, controls or IntegrityControls()) as check:
        return check.run()


def check_table(
    settings: IntegritySection,
    environ: Mapping[str, str],
    table: str,
    controls: IntegrityControls | None = None,
) -> TableResult:
    """One table compared again, by its name as a result gives it (schema.table)."""
    with _IntegrityCheck(settings, environ, controls or IntegrityControls()) as check:
        return check.table_alone(table)


class _Unavailable(Exception):
    """The check cannot start, worded for the operator without a secret."""


class _Cancelled(Exception):
    """The caller asked the check to stop."""


# --- the two databases ---------------------------------------------------------------------------


class _End:
    """One database: how to connect to it (password from password_env) and how to name it."""

    def __init__(
        self, label: EndLabel, dsn: str, settings: IntegritySection, environ: Mapping[str, str]
    ) -> None:
        self.label = label
        self._database = DatabaseEnd(
            label, dsn, settings.password_env, "integrity.password_env", environ
        )
        self.location: DsnLocation = self._database.location
        self._settings = settings

    def connect(self) -> Any:
        """A connection whose transactions are REPEATABLE READ READ ONLY, its settings pinned."""
        import psycopg

        try:
            connection = self._database.connect(
                connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS, prepare_threshold=None
            )
        except ActionFailed as failed:
            raise _Unavailable(str(failed)) from None
        timeout_ms = int(self._settings.statement_timeout_seconds * 1000)
        connection.execute(*session_settings({"statement_timeout": str(timeout_ms)}))
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        return connection

    def failure(self, error: BaseException, doing: str = "") -> str:
        """What went wrong on this database, in words, naming it by host:port and db."""
        where = f"the {self.label} database ({self.location.text})"
        return f"{doing}{where}: {self._described(error)}"

    def passwords(self) -> list[str]:
        """Every password this end could send, for redacting."""
        return self._database.secrets()

    def _described(self, error: BaseException) -> str:
        if getattr(error, "sqlstate", None) != QUERY_CANCELED:
            return describe_failure(error)
        if "statement timeout" not in str(error):
            return "a query was cancelled on the server (pg_cancel_backend or a shutdown)"
        seconds = self._settings.statement_timeout_seconds
        return (
            f"a query ran past the statement timeout of {seconds:g} s "
            "(integrity.statement_timeout_seconds): lower range_rows or raise the timeout"
        )


@dataclass
class _Connections:
    """One connection to each database, used by one table at a time."""

    old: Any
    new: Any

    def usable(self) -> bool:
        return not any(c.closed or c.broken for c in (self.old, self.new))

    def close(self) -> None:
        for connection in (self.old, self.new):
            with suppress(Exception):
                connection.close()


# --- a whole check -------------------------------------------------------------------------------


class _IntegrityCheck:
    """One call's check: both databases, the pacing shared by every table, the connections."""

    def __init__(
        self, settings: IntegritySection, environ: Mapping[str, str], controls: IntegrityControls
    ) -> None:
        if settings.old_dsn is None or settings.new_dsn is None:
            raise ValueError("integrity has no old_dsn and new_dsn to compare (buckets only)")
        self.settings = settings
        self.controls = controls
        self._old = _End("old", settings.old_dsn, settings, environ)
        self._new = _End("new", settings.new_dsn, settings, environ)
        self._redactor: Redactor = redactor_for(self._old.passwords() + self._new.passwords())
        self._pacers = {label: self._pacer() for label in ("old", "new")}
        self._idle: list[_Connections] = []
        self._lock = threading.Lock()
        self._tables_done = 0
        self._tables_total = 0

    def __enter__(self) -> _IntegrityCheck:
        return self

    def __exit__(self, *_: object) -> None:
        for connections in self._idle:
            connections.close()

    def run(self) -> IntegrityRun:
        started_at = self.controls.clock()
        try:
            tables = self._tables()
        except _Unavailable as problem:
            return self._run_result(started_at, (), str(problem))
        if not tables:
            schemas = ", ".join(self.settings.schemas) or "(none)"
            found_none = f"no tables in schemas {schemas} on the old database"
            return self._run_result(started_at, (), self.text(found_none))
        self._tables_total = len(tables)
        workers = min(self.settings.parallel_tables, max(1, len(tables)))
        with ThreadPoolExecutor(workers, thread_name_prefix="integrity") as pool:
            results = tuple(pool.map(self._table_in_turn, tables))
        return self._run_result(started_at, results, None)

    def table_alone(self, table: str) -> TableResult:
        self._tables_total = 1
        return self._table_in_turn(table)

    def text(self, raw: str, limit: int = TEXT_LIMIT_CHARS) -> str:
        """Text from a server or about one, redacted and fit to show."""
        return outside_text(self._redactor.text(raw), limit)

    def _report(self, table: str, comparison: TableComparison, estimate: int | None) -> None:
        if self.controls.progress is None:
            return
        progress = IntegrityProgress(
            table=self.text(table),
            rows_done=comparison.old.rows,
            rows_total_estimate=estimate,
            ranges_done=comparison.ranges_done,
            tables_done=self._tables_done,
            tables_total=self._tables_total,
        )
        self.controls.progress(progress)

    def _tables(self) -> tuple[str, ...]:
        """The configured tables, or every ordinary table of the schemas on the old database."""
        with self._connections() as connections:
            if self.settings.tables:
                return self.settings.tables
            try:
                rows = connections.old.execute(SCHEMA_TABLES_SQL, [list(self.settings.schemas)])
                return tuple(str(name) for (name,) in rows.fetchall())
            except Exception as error:
                raise _Unavailable(self.text(self._old.failure(error))) from None

    def _table_in_turn(self, table: str) -> TableResult:
        if self.controls.cancelled:
            return self._unchecked(table, "cancelled before it was checked")
        try:
            with self._connections() as connections:
                result = self._table(table, connections)
        except _Unavailable as problem:
            result = self._unchecked(table, str(problem))
        with self._lock:
            self._tables_done += 1
        return result

    def _table(self, table: str, connections: _Connections) -> TableResult:
        check = TableCheck(table, self._table_context(table, connections))
        try:
            with connections.old.transaction(), connections.new.transaction():
                result = check.result()
            return self._moving_or_not(result, connections.old)
        except _Cancelled:
            return check.unchecked("cancelled before the check finished")
        except StatementFailed as failed:
            end = self._old if failed.side == "old" else self._new
            return check.unchecked(end.failure(failed.error))
        except Exception as error:
            return check.unchecked(describe_failure(error))

    def _moving_or_not(self, result: TableResult, old: Any) -> TableResult:
        """A difference marked moving when the old database has assigned a transaction id
        since the snapshot: writes still flow there, so the difference may be one in flight."""
        if result.status != "DIFFERENT" or result.old_next_xid is None:
            return result
        try:
            ((now,),) = old.execute(NEXT_XID_SQL).fetchall()
            moved = int(str(now)) > int(result.old_next_xid)
        except Exception:
            return result
        return replace(result, moving=True) if moved else result

    def _table_context(self, table: str, connections: _Connections) -> TableContext:
        queries = QueryCount()
        settings = self.settings
        return TableContext(
            old=self._database(connections.old, "old", queries),
            new=self._database(connections.new, "new", queries),
            queries=queries,
            limits=RangeLimits(settings.range_rows, settings.first_differences),
            checked_at=self.controls.clock(),
            shown=self.text,
            range_done=lambda comparison, estimate: self._report(table, comparison, estimate),
        )

    def _database(self, connection: Any, label: EndLabel, queries: QueryCount) -> Database:
        return Database(connection, label, self._pacers[label], queries, self._stop_if_asked)

    def _unchecked(self, table: str, reason: str) -> TableResult:
        return TableResult(
            table=self.text(table),
            status="UNCHECKED",
            checked_at=self.controls.clock(),
            error=self.text(reason),
        )

    @contextmanager
    def _connections(self) -> Iterator[_Connections]:
        """A pair of connections for one table: an idle one, else both opened now."""
        with self._lock:
            connections = self._idle.pop() if self._idle else None
        if connections is None:
            connections = _Connections(self._connect(self._old), None)
            try:
                connections.new = self._connect(self._new)
            except BaseException:
                connections.close()
                raise
        try:
            yield connections
        finally:
            self._give_back(connections)

    def _connect(self, end: _End) -> Any:
        try:
            return end.connect()
        except _Unavailable:
            raise
        except Exception as error:
            failure = end.failure(error, doing="cannot connect to ")
            raise _Unavailable(self.text(failure)) from None

    def _give_back(self, connections: _Connections) -> None:
        if not connections.usable():
            connections.close()
            return
        with self._lock:
            self._idle.append(connections)

    def _stop_if_asked(self) -> None:
        if self.controls.cancelled:
            raise _Cancelled

    def _pacer(self) -> RowPacer:
        controls = self.controls
        return RowPacer(self.settings.max_rows_per_second, controls.monotonic, controls.pause)

    def _run_result(
        self, started_at: datetime, results: tuple[TableResult, ...], error: str | None
    ) -> IntegrityRun:
        return IntegrityRun(
            started_at=started_at,
            finished_at=self.controls.clock(),
            old_database=self._old.location.text,
            new_database=self._new.location.text,
            results=results,
            cancelled=self.controls.cancelled,
            error=error,
        )
