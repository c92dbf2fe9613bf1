"""The integrity check's statements: which tables, what each one looks like, and row hashes
summed over primary-key ranges or block ranges, all computed inside the database.

Every table and column name is hostile input, so each one is quoted by psycopg's
`sql.Identifier`; key values travel as parameters, never as SQL text. The table is aliased `t`
and every column is named through it (`t.col`, `ROW(t.*)`), so a column called `t` or
`row_hash` cannot change what a statement means.

A row's hash is `hashtextextended(ROW(t.*)::text, 0)`: 64 bits over the row's text form, computed
by the server without sending the row. A range's checksum is the sum of its rows' hashes (as
numeric, so it never overflows) next to its row count. A sum does not depend on the order the
rows are read in, so two servers that store the same rows in different places agree; unlike
bit_xor, two equal rows do not cancel out (a table without a primary key may hold duplicates),
and a sum can be subtracted, so splitting a range needs the checksum of one half only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from psycopg import sql

Params = list[str | int]

ROW_HASH = sql.SQL("hashtextextended(ROW(t.*)::text, 0)")

# Output that depends on session settings is pinned, so one row reads as the same text on both
# servers whatever their defaults; search_path pg_catalog keeps reg* values schema-qualified.
SESSION_SETTINGS = {
    "DateStyle": "ISO",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "lc_monetary": "C",
    "search_path": "pg_catalog",
}


def session_settings(more: Mapping[str, str]) -> tuple[sql.Composed, Params]:
    """One statement setting SESSION_SETTINGS and `more` for the session: set_config rather
    than startup options, which connection poolers may refuse."""
    settings = {**SESSION_SETTINGS, **more}
    calls = sql.SQL(", ").join(sql.SQL("set_config(%s, %s, false)") for _ in settings)
    return sql.SQL("SELECT {}").format(calls), [part for item in settings.items() for part in item]


WAL_POSITION = sql.SQL(
    "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
    " ELSE pg_current_wal_insert_lsn() END)::text"
)
"""Where a server's WAL stands: its insert position on a primary (a write moves it at once,
even before it is flushed), its replay position on a standby."""

NEXT_XID = sql.SQL("pg_snapshot_xmax(pg_current_snapshot())::text")
"""The first transaction id not yet assigned as the snapshot sees it: every write assigns one,
a read never does (though a read may write WAL, pruning a page), so this, not the WAL
position, tells whether writes came in."""

# The next transaction id now, outside any snapshot: read after a table differed, to tell
# whether the old database took writes while it was being checked.
NEXT_XID_SQL = sql.SQL("SELECT {}").format(NEXT_XID)

# What one table looks like on one server, where that server's WAL stands and its next
# transaction id: the first statement of the table's transaction, so both are the snapshot's.
# The name resolves as SQL does (quoted parts keep their case); a name that resolves to nothing
# gives no oid.
DESCRIBE_SQL = sql.SQL("""
SELECT n.nspname::text,
       c.relname::text,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
       coalesce(pg_relation_size(c.oid) / current_setting('block_size')::bigint, 0),
       coalesce((SELECT array_agg(a.attname::text ORDER BY k.position)
                 FROM pg_index AS i
                 CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
                 JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE i.indrelid = c.oid AND i.indisprimary), '{{}}'),
       coalesce((SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                  ORDER BY a.attnum)
                 FROM pg_attribute AS a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{{}}'),
       {position},
       {next_xid}
FROM (SELECT to_regclass(%s) AS oid) AS named
LEFT JOIN pg_class AS c ON c.oid = named.oid AND c.relkind IN ('r', 'p', 'm')
LEFT JOIN pg_namespace AS n ON n.oid = c.relnamespace
""").format(position=WAL_POSITION, next_xid=NEXT_XID)

# Every ordinary table of the given schemas, by its SQL name (quoted where it needs to be).
SCHEMA_TABLES_SQL = sql.SQL("""
SELECT format('%%I.%%I', n.nspname, c.relname)
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = ANY(%s)
ORDER BY n.nspname, c.relname
""")


@dataclass(frozen=True)
class KeyRange:
    """Rows whose primary key lies after `after` and up to `through` (None: unbounded)."""

    after: tuple[str, ...] | None = None
    through: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TableStatements:
    """The statements for one table, its name parsed by the server into schema and table."""

    schema: str
    name: str
    key_columns: tuple[str, ...]

    @property
    def table(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)

    def checksum(self, key_range: KeyRange) -> tuple[sql.Composed, Params]:
        """Row count and hash sum of the rows in a key range."""
        where, params = self._where(key_range)
        statement = sql.SQL(
            "SELECT count(*), coalesce(sum({hash}), 0) FROM {table} AS t{where}"
        ).format(hash=ROW_HASH, table=self.table, where=where)
        return statement, params

    def walk(self, after: tuple[str, ...] | None, rows: int) -> tuple[sql.Composed, Params]:
        """Count and hash sum of the next `rows` rows after a key, with the key of the last of
        them when there were that many (else NULLs: the table ends first)."""
        where, params = self._where(KeyRange(after=after))
        last_key = sql.SQL(", ").join(
            sql.SQL("max({}) FILTER (WHERE r.position = %s)").format(sql.Identifier("r", alias))
            for alias in self._key_aliases()
        )
        statement = sql.SQL(
            "SELECT count(*), coalesce(sum(r.row_hash), 0), {last_key} FROM ("
            "SELECT {key_texts}, {hash} AS row_hash,"
            " row_number() OVER (ORDER BY {keys}) AS position"
            " FROM {table} AS t{where} ORDER BY {keys} LIMIT %s) AS r"
        ).format(
            last_key=last_key,
            key_texts=self._key_texts(),
            hash=ROW_HASH,
            keys=self._keys(),
            table=self.table,
            where=where,
        )
        return statement, [*[rows] * len(self.key_columns), *params, rows]

    def rows(self, key_range: KeyRange) -> tuple[sql.Composed, Params]:
        """Each row's key (as text, one column each) and hash in a key range, in key order."""
        where, params = self._where(key_range)
        statement = sql.SQL(
            "SELECT {key_texts}, {hash} FROM {table} AS t{where} ORDER BY {keys}"
        ).format(
            key_texts=self._key_texts(),
            hash=ROW_HASH,
            table=self.table,
            where=where,
            keys=self._keys(),
        )
        return statement, params

    def blocks(self, first_block: int, end_block: int | None) -> tuple[sql.Composed, Params]:
        """Row count and hash sum of the rows stored in a range of blocks (a TID range scan),
        for a table without a primary key; end None: to the end of the table."""
        bounds = [sql.SQL("t.ctid >= %s::tid")]
        params: Params = [f"({first_block},0)"]
        if end_block is not None:
            bounds.append(sql.SQL("t.ctid < %s::tid"))
            params.append(f"({end_block},0)")
        statement = sql.SQL(
            "SELECT count(*), coalesce(sum({hash}), 0) FROM {table} AS t WHERE {bounds}"
        ).format(hash=ROW_HASH, table=self.table, bounds=sql.SQL(" AND ").join(bounds))
        return statement, params

    def _where(self, key_range: KeyRange) -> tuple[sql.Composable, Params]:
        conditions: list[sql.Composable] = []
        params: Params = []
        for operator, key in ((">", key_range.after), ("<=", key_range.through)):
            if key is not None:
                conditions.append(self._compare(operator))
                params.extend(key)
        if not conditions:
            return sql.SQL(""), params
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions), params

    def _compare(self, operator: str) -> sql.Composable:
        """(t.a, t.b) > (%s, %s): a row comparison, the order of a composite primary key."""
        placeholders = sql.SQL(", ").join(sql.Placeholder() for _ in self.key_columns)
        return sql.SQL("({}) {} ({})").format(self._keys(), sql.SQL(operator), placeholders)

    def _keys(self) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier("t", column) for column in self.key_columns)

    def _key_texts(self) -> sql.Composable:
        return sql.SQL(", ").join(
            sql.SQL("{}::text AS {}").format(sql.Identifier("t", column), sql.Identifier(alias))
            for column, alias in zip(self.key_columns, self._key_aliases(), strict=True)
        )

    def _key_aliases(self) -> Sequence[str]:
        return [f"key_{index}" for index in range(len(self.key_columns))]
