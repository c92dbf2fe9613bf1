"""One table compared on the old and the new database, inside one snapshot on each side.

Its shape is read on both sides first (and with it each side's WAL position): a table missing on
the new side, or whose columns or primary key differ, is DIFFERENT for that alone. Rows are then
compared by primary-key ranges when both sides have the same primary key, else by whole-table
counts and hash sums over block ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cockpit.io.integrity_ranges import (
    BlockPlan,
    Database,
    Key,
    KeyRanges,
    QueryCount,
    RangeLimits,
    Side,
    TableComparison,
    compare_blocks,
)
from cockpit.io.integrity_result import TableResult
from cockpit.io.integrity_sql import DESCRIBE_SQL, TableStatements

KEY_LIMIT_CHARS = 160
TEXT_LIMIT_CHARS = 300
SHOWN_COLUMNS = 5


@dataclass(frozen=True)
class Shape:
    """What one table looks like on one database, and where its WAL and its next transaction id
    stood at the snapshot."""

    schema: str | None
    name: str | None
    rows_estimate: int | None
    blocks: int
    key_columns: tuple[str, ...]
    columns: tuple[str, ...]
    position: str | None
    next_xid: str | None

    @property
    def found(self) -> bool:
        return self.name is not None

    def statements(self) -> TableStatements:
        return TableStatements(self.schema or "", self.name or "", self.key_columns)

    def block_plan(self, range_rows: int) -> BlockPlan:
        return BlockPlan(self.blocks, self.rows_estimate, range_rows)


def read_shape(database: Database, table: str) -> Shape:
    (schema, name, estimate, blocks, keys, columns, position, next_xid), *_ = database.run(
        (DESCRIBE_SQL, [table])
    )
    return Shape(
        schema, name, estimate, int(blocks), tuple(keys), tuple(columns), position, next_xid
    )


def shape_difference(old: Shape, new: Shape) -> str | None:
    """How the two sides' columns or primary keys differ, in words; None when they match."""
    differences = []
    if old.columns != new.columns:
        only_old = [c for c in old.columns if c not in new.columns]
        only_new = [c for c in new.columns if c not in old.columns]
        differences.append(
            f"columns differ (only on old: {_names(only_old)}; only on new: {_names(only_new)})"
            if only_old or only_new
            else "columns in another order"
        )
    if old.key_columns != new.key_columns:
        differences.append(
            f"primary key differs (old: {_names(old.key_columns)}; new: {_names(new.key_columns)})"
        )
    return "; ".join(differences) or None


def _names(names: Sequence[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:SHOWN_COLUMNS])
    return f"{shown} and {len(names) - SHOWN_COLUMNS} more" if len(names) > SHOWN_COLUMNS else shown


@dataclass(frozen=True)
class TableContext:
    """What a table check runs with: both databases (sharing one query count), its limits,
    when it started, how text is made fit to show, and where each range is reported."""

    old: Database
    new: Database
    queries: QueryCount
    limits: RangeLimits
    checked_at: datetime
    shown: Callable[[str, int], str]
    range_done: Callable[[TableComparison, int | None], None]


class TableCheck:
    """One table compared, by its SQL name (schema.table, quoted where it needs to be)."""

    def __init__(self, table: str, context: TableContext) -> None:
        self._table = table
        self._context = context
        self._rows_estimate: int | None = None

    def result(self) -> TableResult:
        context = self._context
        old_shape = read_shape(context.old, self._table)
        if not old_shape.found:
            return self.unchecked(f"no table {self._table} on the old database")
        self._rows_estimate = old_shape.rows_estimate
        new_shape = read_shape(context.new, self._table)
        if not new_shape.found:
            return self._result(old_shape, new_shape, None, "missing on new")
        comparison = self._compare(old_shape, new_shape)
        return self._result(
            old_shape, new_shape, comparison, shape_difference(old_shape, new_shape)
        )

    def unchecked(self, reason: str) -> TableResult:
        return TableResult(
            table=self._shown(self._table),
            status="UNCHECKED",
            checked_at=self._context.checked_at,
            queries=self._context.queries.count,
            error=self._shown(reason),
        )

    def _compare(self, old_shape: Shape, new_shape: Shape) -> TableComparison:
        """By key ranges when both sides have the same primary key, else by block ranges."""
        context = self._context
        old = Side(context.old, old_shape.statements())
        new = Side(context.new, new_shape.statements())
        if old_shape.key_columns and old_shape.key_columns == new_shape.key_columns:
            key_text = self._key_text(old_shape.key_columns)
            return KeyRanges(old, new, context.limits, key_text, self._range_done).compare()
        range_rows = context.limits.range_rows
        old_plan, new_plan = old_shape.block_plan(range_rows), new_shape.block_plan(range_rows)
        return compare_blocks((old, old_plan), (new, new_plan), self._range_done)

    def _result(
        self,
        old_shape: Shape,
        new_shape: Shape,
        comparison: TableComparison | None,
        table_difference: str | None,
    ) -> TableResult:
        different = table_difference is not None or comparison is None or comparison.different
        return TableResult(
            table=self._shown(self._table),
            status="DIFFERENT" if different else "OK",
            checked_at=self._context.checked_at,
            old_rows=None if comparison is None else comparison.old.rows,
            new_rows=None if comparison is None else comparison.new.rows,
            first_differences=() if comparison is None else tuple(comparison.differences),
            more_differences=comparison is not None and comparison.more_differences,
            table_difference=self._shown_or_none(table_difference),
            no_primary_key=not old_shape.key_columns,
            queries=self._context.queries.count,
            old_position=self._shown_or_none(old_shape.position),
            new_position=self._shown_or_none(new_shape.position),
            old_next_xid=self._shown_or_none(old_shape.next_xid),
        )

    def _key_text(self, columns: Sequence[str]) -> Callable[[Key], str]:
        """How a key is named: column=value, one pair per key column."""

        def text(key: Key) -> str:
            pairs = ", ".join(f"{c}={v}" for c, v in zip(columns, key, strict=True))
            return self._context.shown(pairs, KEY_LIMIT_CHARS)

        return text

    def _shown(self, text: str) -> str:
        return self._context.shown(text, TEXT_LIMIT_CHARS)

    def _shown_or_none(self, text: str | None) -> str | None:
        return None if text is None else self._shown(text)

    def _range_done(self, comparison: TableComparison) -> None:
        self._context.range_done(comparison, self._rows_estimate)
