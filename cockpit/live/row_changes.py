"""A DNS reading's server rows in the journal: written as the rows that changed since the last.

A record watched through a hundred resolvers is a hundred rows, and poll after poll they stay
as they were but for the TTLs counting down. So after a signal's first reading (and whenever
most of its rows changed at once) the journal holds, instead of the rows, the rows that
changed since the signal's reading journaled before, and every row's TTL; keyframes too. A
reader takes the journal in order and rebuilds each reading's rows from the one before it,
which it has read just before (a journal is read whole, in order, or not at all). Every
WHOLE_EVERY journaled readings of a signal its rows are written whole all the same, so a
record lost to a failed write (a full disk) costs the rows of the readings after it only
until then: such a reading reads as none, never as rows it did not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cockpit.jsonvalue import JsonValue
from cockpit.sources import dns_values
from cockpit.visible import ascii_digits

ROWS_FROM = "resolvers_from"
"""The key of a journaled reading that holds its rows as changes: {"observed_at": that of the
signal's reading journaled before, "changed": {"<row index>": row}, "ttl": [every row's TTL]}."""
ROWS = dns_values.RESOLVERS
TTL = dns_values.RESOLVER_TTL
WHOLE_AGAIN_SHARE = 0.5
"""Rows are journaled whole when more than this share of them changed: as cheap, and simpler."""
WHOLE_EVERY = 32
"""A signal's rows are journaled whole at least once in this many of its journaled readings
(about every 2 h 40 min of five-minute keyframes while nothing changes)."""


@dataclass(frozen=True)
class _Journaled:
    observed_at: str
    untimed: list[dict[str, JsonValue]]
    since_whole: int


@dataclass
class RowChanges:
    """The recorder's side: per signal, the rows it journaled last."""

    _last: dict[str, _Journaled] = field(default_factory=dict)

    def journaled(self, data: dict[str, JsonValue]) -> dict[str, JsonValue]:
        """The journal form of a reading's JSON: its rows as changes since the signal's last
        journaled reading, or whole when there is none or most rows changed."""
        signal, observed_at, rows = data.get("signal"), data.get("observed_at"), _rows(data)
        if not isinstance(signal, str) or not isinstance(observed_at, str) or rows is None:
            return data
        untimed = [_untimed(row) for row in rows]
        last = self._last.get(signal)
        self._last[signal] = _Journaled(observed_at, untimed, 0)
        if last is None or len(last.untimed) != len(rows) or last.since_whole + 1 >= WHOLE_EVERY:
            return data
        changed: dict[str, JsonValue] = {
            str(index): row
            for index, (row, now, then) in enumerate(zip(rows, untimed, last.untimed, strict=True))
            if now != then
        }
        if len(changed) > WHOLE_AGAIN_SHARE * len(rows):
            return data
        self._last[signal] = _Journaled(observed_at, untimed, last.since_whole + 1)
        return _as_changes(data, last.observed_at, changed, [row[TTL] for row in rows])


@dataclass
class JournaledRows:
    """The reader's side, for one signal: each journaled reading's rows by observed_at, as
    rebuilt in journal order (the rows as journaled; a reading's own TTLs are put in when it
    is read, by whole_reading)."""

    _rows: dict[str, list[JsonValue]] = field(default_factory=dict)

    def add(self, data: Mapping[str, JsonValue]) -> None:
        """Takes in the signal's next journaled reading (a keyframe's entry too)."""
        observed_at, values, changes = (
            data.get("observed_at"),
            data.get("values"),
            data.get(ROWS_FROM),
        )
        if not isinstance(observed_at, str):
            return
        if changes is None:
            rows = values.get(ROWS) if isinstance(values, dict) else None
            if isinstance(rows, list):
                self._rows[observed_at] = rows
            return
        rebuilt = self._rebuilt(changes)
        if rebuilt is not None:
            self._rows[observed_at] = rebuilt

    def whole_reading(self, data: Mapping[str, JsonValue]) -> Mapping[str, JsonValue] | None:
        """A journaled reading as it was read: `data` itself when it holds its rows whole, else
        with its rows rebuilt and its TTLs in them; None when they cannot be rebuilt (the
        reading they were journaled against is not in the journal, or does not fit)."""
        changes = data.get(ROWS_FROM)
        if changes is None:
            return data
        observed_at = data.get("observed_at")
        rows = self._rows.get(observed_at) if isinstance(observed_at, str) else None
        ttls = changes.get("ttl") if isinstance(changes, dict) else None
        if rows is None or not isinstance(ttls, list) or len(ttls) != len(rows):
            return None
        timed: list[JsonValue] = []
        for row, ttl in zip(rows, ttls, strict=True):
            if not isinstance(row, dict):
                return None
            timed.append({**row, TTL: ttl})
        values = data.get("values")
        whole = {key: value for key, value in data.items() if key != ROWS_FROM}
        whole["values"] = {**(values if isinstance(values, dict) else {}), ROWS: timed}
        return whole

    def _rebuilt(self, changes: JsonValue) -> list[JsonValue] | None:
        if not isinstance(changes, dict):
            return None
        since, changed, ttls = (
            changes.get("observed_at"),
            changes.get("changed"),
            changes.get("ttl"),
        )
        before = self._rows.get(since) if isinstance(since, str) else None
        if before is None or not isinstance(changed, dict) or not isinstance(ttls, list):
            return None
        if len(ttls) != len(before):
            return None
        rows = list(before)
        for key, row in changed.items():
            index = int(key) if ascii_digits(key) else -1
            if not 0 <= index < len(rows):
                return None
            rows[index] = row
        return rows


def _rows(data: Mapping[str, JsonValue]) -> list[dict[str, JsonValue]] | None:
    """A DNS reading's rows when each is a table with a TTL (as the source writes them)."""
    signal, values = data.get("signal"), data.get("values")
    if not isinstance(signal, str) or not dns_values.is_dns_signal(signal):
        return None
    rows = values.get(ROWS) if isinstance(values, dict) else None
    if not isinstance(rows, list) or not rows:
        return None
    tables = [row for row in rows if isinstance(row, dict) and TTL in row]
    return tables if len(tables) == len(rows) else None


def _untimed(row: dict[str, JsonValue]) -> dict[str, JsonValue]:
    return {key: value for key, value in row.items() if key != TTL}


def _as_changes(
    data: dict[str, JsonValue], since: str, changed: dict[str, JsonValue], ttls: list[JsonValue]
) -> dict[str, JsonValue]:
    values = data["values"]
    assert isinstance(values, dict)
    compact = {key: value for key, value in data.items() if key != "values"}
    compact["values"] = {key: value for key, value in values.items() if key != ROWS}
    compact[ROWS_FROM] = {"observed_at": since, "changed": changed, "ttl": ttls}
    return compact
