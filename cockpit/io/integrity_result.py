"""What a database integrity check found: per table, and for a whole run, with JSON both ways.

Plain values without psycopg, so the panel, guards, journal and report can hold them. Every
text from a database or a journal passes `outside_text` on its way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal, NamedTuple, TypeGuard

from cockpit.jsonvalue import JsonValue, json_int, json_items, json_object, json_string
from cockpit.outside import outside_text

TableStatus = Literal["OK", "DIFFERENT", "UNCHECKED"]
DifferenceKind = Literal["missing on new", "extra on new", "differs"]

TABLE_STATUSES: tuple[TableStatus, ...] = ("OK", "DIFFERENT", "UNCHECKED")
DIFFERENCE_KINDS: tuple[DifferenceKind, ...] = ("missing on new", "extra on new", "differs")
MISSING_ON_NEW: DifferenceKind = "missing on new"
TEXT_LIMIT_CHARS = 300
NEVER = datetime.min.replace(tzinfo=UTC)


class RowDifference(NamedTuple):
    """One row that is not the same on both sides, by its primary key as text."""

    key: str
    kind: DifferenceKind


@dataclass(frozen=True)
class TableResult:
    """One table compared: OK, DIFFERENT (and where), or UNCHECKED (and why).

    old_position / new_position: each server's WAL position (its insert position on a primary,
    its replay position on a standby) when the table's snapshot was taken, so a caller can tell
    whether either side has moved since. old_next_xid: the old side's next transaction id at
    its snapshot. moving: the table differed and the old database assigned a transaction id
    while it was being checked, so writes still flow and the difference may be one in flight
    rather than data lost.
    """

    table: str
    status: TableStatus
    checked_at: datetime
    old_rows: int | None = None
    new_rows: int | None = None
    first_differences: tuple[RowDifference, ...] = ()
    more_differences: bool = False
    table_difference: str | None = None
    no_primary_key: bool = False
    queries: int = 0
    old_position: str | None = None
    new_position: str | None = None
    error: str | None = None
    old_next_xid: str | None = None
    moving: bool = False

    @property
    def word(self) -> str:
        """The status as a person reads it: MOVING for a difference found while writes flowed."""
        return "MOVING" if self.moving and self.status == "DIFFERENT" else self.status

    @property
    def summary(self) -> str:
        """One line for a person: the verdict and what it rests on."""
        if self.status == "UNCHECKED":
            return f"{self.table}: UNCHECKED, {self.where}"
        rows = f"{_rows(self.old_rows)} old / {_rows(self.new_rows)} new rows"
        where = f"; {self.where}" if self.where else ""
        return f"{self.table}: {self.word}, {rows}{where}"

    @property
    def where(self) -> str:
        """Why it is UNCHECKED, or where it differs (the table, then the first keys); empty
        when OK."""
        if self.status == "UNCHECKED":
            return self.error or "not checked"
        named = [f"{key} {kind}" for key, kind in self.first_differences]
        if self.more_differences:
            named.append("more")
        parts = [self.table_difference] if self.table_difference else []
        if named:
            parts.append(", ".join(named))
        return "; ".join(parts)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "table": self.table,
            "status": self.status,
            "checked_at": self.checked_at.isoformat(),
            "old_rows": self.old_rows,
            "new_rows": self.new_rows,
            "first_differences": [
                {"key": key, "kind": kind} for key, kind in self.first_differences
            ],
            "more_differences": self.more_differences,
            "table_difference": self.table_difference,
            "no_primary_key": self.no_primary_key,
            "queries": self.queries,
            "old_position": self.old_position,
            "new_position": self.new_position,
            "error": self.error,
            "old_next_xid": self.old_next_xid,
            "moving": self.moving,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> TableResult:
        """A result read back from a journal record; a malformed field reads as unknown."""
        status = data.get("status")
        return cls(
            table=_text(data.get("table")) or "?",
            status=status if _is_status(status) else "UNCHECKED",
            checked_at=_time(data.get("checked_at")),
            old_rows=json_int(data.get("old_rows")),
            new_rows=json_int(data.get("new_rows")),
            first_differences=_differences(data.get("first_differences")),
            more_differences=data.get("more_differences") is True,
            table_difference=_text(data.get("table_difference")),
            no_primary_key=data.get("no_primary_key") is True,
            queries=json_int(data.get("queries")) or 0,
            old_position=_text(data.get("old_position")),
            new_position=_text(data.get("new_position")),
            error=_text(data.get("error")),
            old_next_xid=_text(data.get("old_next_xid")),
            moving=data.get("moving") is True,
        )


@dataclass(frozen=True)
class IntegrityRun:
    """Every table compared in one run, with where both databases are and whether it ran out.

    error: why the run could not start (no password, a database unreachable); cancelled: it
    was stopped, and the tables it did not reach are UNCHECKED.
    """

    started_at: datetime
    finished_at: datetime
    old_database: str
    new_database: str
    results: tuple[TableResult, ...] = ()
    cancelled: bool = False
    error: str | None = None

    @property
    def status(self) -> TableStatus:
        """DIFFERENT when any table is; else UNCHECKED when any table (or the run) was not
        checked; OK only when every table was and none differs."""
        statuses = {result.status for result in self.results}
        if "DIFFERENT" in statuses:
            return "DIFFERENT"
        if self.error or not self.results or "UNCHECKED" in statuses:
            return "UNCHECKED"
        return "OK"

    @property
    def moving(self) -> bool:
        """Every table that differs was found while the old database still took writes."""
        different = [result for result in self.results if result.status == "DIFFERENT"]
        return bool(different) and all(result.moving for result in different)

    def result(self, table: str) -> TableResult | None:
        return next((result for result in self.results if result.table == table), None)

    def with_result(self, replacement: TableResult) -> IntegrityRun:
        """This run with one table's result replaced (or added), e.g. after re-checking it."""
        if self.result(replacement.table) is None:
            return replace(self, results=(*self.results, replacement))
        results = tuple(replacement if r.table == replacement.table else r for r in self.results)
        return replace(self, results=results)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "old_database": self.old_database,
            "new_database": self.new_database,
            "cancelled": self.cancelled,
            "error": self.error,
            "results": [result.to_json() for result in self.results],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> IntegrityRun:
        """A run read back from a journal record."""
        return cls(
            started_at=_time(data.get("started_at")),
            finished_at=_time(data.get("finished_at")),
            old_database=_text(data.get("old_database")) or "?",
            new_database=_text(data.get("new_database")) or "?",
            results=tuple(
                TableResult.from_json(json_object(item)) for item in json_items(data.get("results"))
            ),
            cancelled=data.get("cancelled") is True,
            error=_text(data.get("error")),
        )


@dataclass(frozen=True)
class IntegrityProgress:
    """How far a run is, for a bar with an ETA: the table being checked and the run so far.

    rows_total_estimate: the old table's row estimate (pg_class.reltuples), None before it was
    ever analysed.
    """

    table: str
    rows_done: int
    rows_total_estimate: int | None
    ranges_done: int
    tables_done: int
    tables_total: int


def _rows(count: int | None) -> str:
    return "?" if count is None else str(count)


def _is_status(value: JsonValue) -> TypeGuard[TableStatus]:
    return value in TABLE_STATUSES


def _is_kind(value: JsonValue) -> TypeGuard[DifferenceKind]:
    return value in DIFFERENCE_KINDS


def _text(value: JsonValue) -> str | None:
    text = json_string(value)
    return None if text is None else outside_text(text, TEXT_LIMIT_CHARS)


def _time(value: JsonValue) -> datetime:
    try:
        return datetime.fromisoformat(json_string(value) or "")
    except ValueError:
        return NEVER


def _differences(value: JsonValue) -> tuple[RowDifference, ...]:
    found = []
    for item in json_items(value):
        entry = json_object(item)
        kind = entry.get("kind")
        if _is_kind(kind):
            found.append(RowDifference(_text(entry.get("key")) or "?", kind))
    return tuple(found)
