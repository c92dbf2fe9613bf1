"""Comparing one table on two databases range by range, splitting only ranges that differ.

The approach of pg_comparator and reladiff: the old side cuts the table into ranges of
`range_rows` rows by primary key (keyset bounds, never OFFSET over the whole table); each range's
row count and hash sum are computed inside both databases and compared. An identical table costs
one pass. A range that differs is halved at the middle key of whichever side holds more of its
rows, and only halves that differ are halved again, until a range holds at most `LEAF_ROWS` rows
on each side; then its keys and row hashes are fetched and compared, naming each differing key.
Both databases must order the keys alike: a text key under collations that sort differently
lands in different ranges on each side, and its rows are named missing on one, extra on the other.

A table without a primary key cannot be cut by key: each side is summed over ranges of blocks
(a TID range scan), and the two totals compared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from cockpit.io.integrity_result import DifferenceKind, RowDifference
from cockpit.io.integrity_sql import KeyRange, Params, TableStatements

LEAF_ROWS = 64
# Rows a block holds when the table was never analysed: enough that a block range stays small.
GUESSED_ROWS_PER_BLOCK = 50

Statement = tuple[Any, Params]
Key = tuple[str, ...]
KeyedHash = tuple[Key, int]


@dataclass(frozen=True)
class Checksum:
    """How many rows a range holds on one side, and the sum of their hashes."""

    rows: int
    hash_sum: int

    def __add__(self, other: Checksum) -> Checksum:
        return Checksum(self.rows + other.rows, self.hash_sum + other.hash_sum)

    def __sub__(self, other: Checksum) -> Checksum:
        return Checksum(self.rows - other.rows, self.hash_sum - other.hash_sum)


EMPTY = Checksum(0, 0)


class RowPacer:
    """Keeps one database's rows hashed per second under a cap, on average.

    Before each statement it waits until the rows hashed so far are paid for at the cap, so a
    database never runs more than one statement's rows ahead of it; idle time is not saved up.
    """

    def __init__(
        self,
        rows_per_second: int,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._seconds_per_row = 1.0 / rows_per_second
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paid_until = monotonic()

    def wait_turn(self) -> None:
        with self._lock:
            wait_seconds = self._paid_until - self._monotonic()
        if wait_seconds > 0:
            self._sleep(wait_seconds)

    def spend(self, rows: int) -> None:
        with self._lock:
            start = max(self._paid_until, self._monotonic())
            self._paid_until = start + rows * self._seconds_per_row


class QueryCount:
    """Statements run for one table, on both sides together."""

    def __init__(self) -> None:
        self.count = 0


class StatementFailed(Exception):
    """A statement failed on one side (`old` or `new`); the error says how."""

    def __init__(self, side: str, error: Exception) -> None:
        super().__init__(side, error)
        self.side = side
        self.error = error


class Database:
    """One database's connection inside a table's snapshot: runs statements, counts them, paces
    the rows they hash and stops between them when asked to."""

    def __init__(
        self,
        connection: Any,
        side: str,
        pacer: RowPacer,
        queries: QueryCount,
        stop_if_asked: Callable[[], None],
    ) -> None:
        self._connection = connection
        self._side = side
        self._pacer = pacer
        self._queries = queries
        self._stop_if_asked = stop_if_asked

    def run(self, statement: Statement) -> list[tuple[Any, ...]]:
        """The statement's rows, once the rows hashed so far are paid for."""
        self._pacer.wait_turn()
        self._stop_if_asked()
        self._queries.count += 1
        try:
            rows: list[tuple[Any, ...]] = self._connection.execute(*statement).fetchall()
        except Exception as error:
            raise StatementFailed(self._side, error) from error
        return rows

    def hashed(self, rows: int) -> None:
        self._pacer.spend(rows)


class Side:
    """One table on one database: its range statements, run there."""

    def __init__(self, database: Database, statements: TableStatements) -> None:
        self._database = database
        self._statements = statements

    def checksum(self, key_range: KeyRange) -> Checksum:
        return self._checksum(self._statements.checksum(key_range))

    def walk(self, after: Key | None, rows: int) -> tuple[Checksum, Key | None]:
        """The next `rows` rows after a key, and the last one's key (None: the table ended)."""
        (counted, hash_sum, *last_key), *_ = self._database.run(self._statements.walk(after, rows))
        self._database.hashed(counted)
        last = None if last_key[0] is None else tuple(last_key)
        return Checksum(counted, int(hash_sum)), last

    def keyed_hashes(self, key_range: KeyRange) -> list[KeyedHash]:
        found = self._database.run(self._statements.rows(key_range))
        self._database.hashed(len(found))
        return [(tuple(row[:-1]), int(row[-1])) for row in found]

    def blocks(self, first_block: int, end_block: int | None) -> Checksum:
        return self._checksum(self._statements.blocks(first_block, end_block))

    def _checksum(self, statement: Statement) -> Checksum:
        (rows, hash_sum), *_ = self._database.run(statement)
        self._database.hashed(rows)
        return Checksum(rows, int(hash_sum))


@dataclass(frozen=True)
class RangeLimits:
    """How big a first range is, and how many differing keys are worth naming."""

    range_rows: int
    first_differences: int


@dataclass
class TableComparison:
    """Both sides' row counts and whether and where they differ, as found so far."""

    old: Checksum = EMPTY
    new: Checksum = EMPTY
    ranges_done: int = 0
    different: bool = False
    more_differences: bool = False

    def __post_init__(self) -> None:
        self.differences: list[RowDifference] = []


RangeDone = Callable[[TableComparison], None]


class KeyRanges:
    """A table with a primary key compared range by range, differing ranges split."""

    def __init__(
        self,
        old: Side,
        new: Side,
        limits: RangeLimits,
        key_text: Callable[[Key], str],
        range_done: RangeDone,
    ) -> None:
        self._old = old
        self._new = new
        self._limits = limits
        self._key_text = key_text
        self._range_done = range_done
        self.found = TableComparison()

    def compare(self) -> TableComparison:
        """Walks the old side's ranges in key order, the last one open-ended so rows the new
        side holds past the old side's last key fall into it."""
        after: Key | None = None
        while True:
            old, last = self._old.walk(after, self._limits.range_rows)
            key_range = KeyRange(after, last)
            new = self._new.checksum(key_range)
            self._add_range(key_range, old, new)
            if last is None:
                return self.found
            after = last

    def _add_range(self, key_range: KeyRange, old: Checksum, new: Checksum) -> None:
        found = self.found
        found.old, found.new = found.old + old, found.new + new
        found.ranges_done += 1
        if old != new:
            found.different = True
            self._split(key_range, old, new)
        self._range_done(found)

    def _split(self, key_range: KeyRange, old: Checksum, new: Checksum) -> None:
        """Names the differing keys of a range that differs, halving it while it is large."""
        if len(self.found.differences) >= self._limits.first_differences:
            self.found.more_differences = True
            return
        if max(old.rows, new.rows) <= LEAF_ROWS:
            self._compare_rows(key_range)
            return
        for half, old_half, new_half in self._halves(key_range, old, new):
            if old_half != new_half:
                self._split(half, old_half, new_half)

    def _halves(
        self, key_range: KeyRange, old: Checksum, new: Checksum
    ) -> tuple[tuple[KeyRange, Checksum, Checksum], ...]:
        """The range cut at the middle key of the side holding more of its rows; the second
        half's checksums are the whole's minus the first's."""
        larger, smaller = (self._old, self._new) if old.rows >= new.rows else (self._new, self._old)
        larger_first, middle = larger.walk(key_range.after, max(old.rows, new.rows) // 2)
        first = KeyRange(key_range.after, middle)
        smaller_first = smaller.checksum(first)
        old_first, new_first = (
            (larger_first, smaller_first) if larger is self._old else (smaller_first, larger_first)
        )
        second = KeyRange(middle, key_range.through)
        return (first, old_first, new_first), (second, old - old_first, new - new_first)

    def _compare_rows(self, key_range: KeyRange) -> None:
        old_rows = self._old.keyed_hashes(key_range)
        new_rows = self._new.keyed_hashes(key_range)
        found = self.found
        for key, kind in merged_differences(old_rows, new_rows):
            if len(found.differences) >= self._limits.first_differences:
                found.more_differences = True
                return
            found.differences.append(RowDifference(self._key_text(key), kind))


@dataclass(frozen=True)
class BlockPlan:
    """How one side's table is cut into block ranges of about `range_rows` rows each."""

    blocks: int
    rows_estimate: int | None
    range_rows: int

    def bounds(self) -> list[tuple[int, int | None]]:
        """(first block, end block) of each range; the last open-ended, for rows stored in
        blocks added since the table's size was read."""
        per_range = max(1, self.range_rows // self._rows_per_block())
        starts = range(0, max(self.blocks, 1), per_range)
        return [
            (start, start + per_range if start + per_range < self.blocks else None)
            for start in starts
        ]

    def _rows_per_block(self) -> int:
        if not self.rows_estimate or not self.blocks:
            return GUESSED_ROWS_PER_BLOCK
        return max(1, self.rows_estimate // self.blocks)


def compare_blocks(
    old: tuple[Side, BlockPlan], new: tuple[Side, BlockPlan], range_done: RangeDone
) -> TableComparison:
    """Both sides' whole-table counts and hash sums, their block ranges taken in turns."""
    found = TableComparison()
    (old_side, old_plan), (new_side, new_plan) = old, new
    for old_bounds, new_bounds in zip_longest(old_plan.bounds(), new_plan.bounds()):
        if old_bounds is not None:
            found.old += old_side.blocks(*old_bounds)
        if new_bounds is not None:
            found.new += new_side.blocks(*new_bounds)
        found.ranges_done += 1
        range_done(found)
    found.different = found.old != found.new
    return found


def merged_differences(
    old_rows: Sequence[KeyedHash], new_rows: Sequence[KeyedHash]
) -> Iterator[tuple[Key, DifferenceKind]]:
    """The keys that differ between two lists of (key, hash), each in its database's key order.

    Text keys cannot be ordered here as the database's collation orders them, so the lists are
    merged at the keys both hold: keys only on the new side are named where they stand before
    the next shared key. Where keys only on the old side and only on the new side meet between
    two shared keys, the old ones are named first.
    """
    new_positions = {key: position for position, (key, _) in enumerate(new_rows)}
    old_hashes, new_hashes = dict(old_rows), dict(new_rows)
    next_new = 0
    for key, row_hash in old_rows:
        position = new_positions.get(key)
        if position is None:
            yield key, "missing on new"
            continue
        yield from _only_new(new_rows[next_new:position], old_hashes)
        next_new = max(next_new, position + 1)
        if new_hashes[key] != row_hash:
            yield key, "differs"
    yield from _only_new(new_rows[next_new:], old_hashes)


def _only_new(
    new_rows: Sequence[KeyedHash], old_hashes: Mapping[Key, int]
) -> Iterator[tuple[Key, DifferenceKind]]:
    for key, _ in new_rows:
        if key not in old_hashes:
            yield key, "extra on new"
