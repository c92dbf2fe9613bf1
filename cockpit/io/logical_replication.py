"""What PostgreSQL logical replication looks like from both ends, read by roles without extra
privileges, shared by the replication source and the cutover action.

The publisher (the old database) holds the subscription's slot: how far its confirmed position
trails the WAL is the byte lag, and what it still retains is WAL the old server cannot recycle.
The subscriber (the new database) holds the subscription: whether it is enabled, its apply
worker, each table's sync state (pg_subscription_rel) and its apply error counters.
Sequences are not replicated, so each end's pg_sequences is read and compared here.

Every query is readable by any role: pg_subscription's columns except subconninfo,
pg_stat_subscription(_stats), pg_subscription_rel, pg_replication_slots, pg_publication_tables.
pg_sequences shows a value only with SELECT or USAGE on the sequence, so each row says whether
it was readable, and an unreadable one is "not known", never 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cockpit.outside import outside_text

OUTSIDE_TEXT_LIMIT = 120
NAME_LIMIT = 80

SYNC_STATE_WORDS = {
    "i": "initializing",
    "d": "copying data",
    "f": "copy finished",
    "s": "synchronized",
    "r": "ready",
}
READY = "r"

# The write markers are the streaming source's: a transaction id taken with rows written.
PUBLISHER_SQL = """
SELECT pg_current_wal_lsn()::text,
       pg_snapshot_xmax(pg_current_snapshot())::text,
       (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint
        FROM pg_stat_user_tables),
       (SELECT coalesce(sum(vacuum_count + autovacuum_count + analyze_count
                            + autoanalyze_count), 0)::bigint
        FROM pg_stat_all_tables),
       current_user::text
"""

PUBLISHER_SLOTS_SQL = """
SELECT s.slot_name::text,
       s.active,
       s.confirmed_flush_lsn::text,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint,
       s.wal_status,
       extract(epoch FROM r.replay_lag)::float8,
       r.state
FROM pg_replication_slots AS s
LEFT JOIN pg_stat_replication AS r ON r.pid = s.active_pid
WHERE s.slot_type = 'logical' AND s.database = current_database()
ORDER BY s.slot_name
"""

# Published tables whose UPDATE or DELETE cannot be replicated: no replica identity to find
# the row by (no primary key under the default identity, identity NOTHING, or a missing index).
NO_IDENTITY_SQL = """
SELECT DISTINCT p.pubname::text, t.schemaname::text, t.tablename::text
FROM pg_publication AS p
JOIN pg_publication_tables AS t ON t.pubname = p.pubname
JOIN pg_namespace AS n ON n.nspname = t.schemaname
JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = t.tablename
WHERE (p.pubupdate OR p.pubdelete)
  AND (c.relreplident = 'n'
       OR (c.relreplident = 'd' AND NOT EXISTS
           (SELECT 1 FROM pg_index AS i WHERE i.indrelid = c.oid AND i.indisprimary))
       OR (c.relreplident = 'i' AND NOT EXISTS
           (SELECT 1 FROM pg_index AS i WHERE i.indrelid = c.oid AND i.indisreplident)))
ORDER BY 2, 3
"""

SEQUENCES_SQL = """
SELECT schemaname::text,
       sequencename::text,
       last_value,
       increment_by,
       has_sequence_privilege(format('%I.%I', schemaname, sequencename), 'SELECT,USAGE')
FROM pg_sequences
ORDER BY 1, 2
"""

SUBSCRIPTION_SQL = """
SELECT s.oid::bigint,
       s.subenabled,
       s.subslotname::text,
       s.subpublications::text[],
       s.subdisableonerr,
       w.pid,
       w.received_lsn::text,
       extract(epoch FROM now() - w.last_msg_receipt_time)::float8,
       st.apply_error_count,
       st.sync_error_count,
       current_user::text
FROM pg_subscription AS s
LEFT JOIN pg_stat_subscription AS w ON w.subid = s.oid AND w.relid IS NULL
LEFT JOIN pg_stat_subscription_stats AS st ON st.subid = s.oid
WHERE s.subname = %(subscription)s
  AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""

TABLE_STATES_SQL = """
SELECT n.nspname::text, c.relname::text, r.srsubstate::text
FROM pg_subscription AS s
JOIN pg_subscription_rel AS r ON r.srsubid = s.oid
JOIN pg_class AS c ON c.oid = r.srrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE s.subname = %(subscription)s
  AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY 1, 2
"""


def name_text(value: Any) -> str:
    """A name the server sent (schema, table, sequence, slot), as printable text."""
    return outside_text(str(value), NAME_LIMIT)


def server_text(value: Any) -> str | None:
    """A value the server sent, as one short printable line (None stays None)."""
    return None if value is None else outside_text(str(value), OUTSIDE_TEXT_LIMIT)


def qualified(schema: str, name: str) -> str:
    """'orders' for the public schema, 'billing.invoices' elsewhere."""
    return name if schema == "public" else f"{schema}.{name}"


# --- the publisher -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotRow:
    """One logical slot of the publisher's database, and the walsender streaming from it."""

    name: str
    active: bool
    confirmed_flush_lsn: str | None
    lag_bytes: int | None
    retained_bytes: int | None
    wal_status: str | None
    replay_lag_seconds: float | None
    walsender_state: str | None

    @property
    def details_hidden(self) -> bool:
        """An active slot whose walsender shows no state: our role lacks pg_read_all_stats, so
        its lag in seconds is hidden too (not idle)."""
        return self.active and self.walsender_state is None


@dataclass(frozen=True)
class TableName:
    """A published table, named."""

    publication: str
    schema: str
    table: str

    @property
    def text(self) -> str:
        return qualified(self.schema, self.table)


@dataclass(frozen=True)
class SequenceValue:
    """One sequence's last value at one end; None when never used or not readable."""

    schema: str
    name: str
    last_value: int | None
    increment_by: int
    readable: bool

    @property
    def text(self) -> str:
        return qualified(self.schema, self.name)


@dataclass(frozen=True)
class PublisherView:
    """The publisher's WAL position, what client writes move, its slots, tables and sequences."""

    wal_lsn: str
    next_xid: str
    rows_written: int | None
    maintenance_runs: int | None
    role_name: str | None
    slots: tuple[SlotRow, ...]
    no_identity_tables: tuple[TableName, ...]
    sequences: tuple[SequenceValue, ...]

    def slot(self, name: str | None) -> SlotRow | None:
        return next((slot for slot in self.slots if slot.name == name), None)


def parse_publisher(
    markers: Sequence[Any],
    slots: Sequence[Sequence[Any]],
    no_identity: Sequence[Sequence[Any]],
    sequences: Sequence[Sequence[Any]],
) -> PublisherView:
    """The publisher's four answers as one view."""
    return PublisherView(
        wal_lsn=str(markers[0]),
        next_xid=str(markers[1]),
        rows_written=_optional_int(markers[2]),
        maintenance_runs=_optional_int(markers[3]),
        role_name=server_text(markers[4]),
        slots=tuple(_slot_row(row) for row in slots),
        no_identity_tables=tuple(
            TableName(name_text(pub), name_text(schema), name_text(table))
            for pub, schema, table in no_identity
        ),
        sequences=parse_sequences(sequences),
    )


def _slot_row(row: Sequence[Any]) -> SlotRow:
    name, active, confirmed, lag, retained, wal_status, replay_lag, state = row
    return SlotRow(
        name=name_text(name),
        active=bool(active),
        confirmed_flush_lsn=server_text(confirmed),
        lag_bytes=_optional_non_negative(lag),
        retained_bytes=_optional_non_negative(retained),
        wal_status=server_text(wal_status),
        replay_lag_seconds=None if replay_lag is None else float(replay_lag),
        walsender_state=server_text(state),
    )


def parse_sequences(rows: Sequence[Sequence[Any]]) -> tuple[SequenceValue, ...]:
    """pg_sequences rows as values (an unreadable one keeps no value)."""
    return tuple(
        SequenceValue(
            schema=name_text(schema),
            name=name_text(name),
            last_value=_optional_int(last_value) if readable else None,
            increment_by=int(increment_by),
            readable=bool(readable),
        )
        for schema, name, last_value, increment_by, readable in rows
    )


# --- the subscriber ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableState:
    """One subscribed table and its sync state (i, d, f, s, r)."""

    schema: str
    table: str
    state: str

    @property
    def text(self) -> str:
        return qualified(self.schema, self.table)

    @property
    def ready(self) -> bool:
        return self.state == READY

    @property
    def state_words(self) -> str:
        return SYNC_STATE_WORDS.get(self.state, f"state {self.state!r}")


@dataclass(frozen=True)
class SubscriptionView:
    """The subscription as the subscriber sees it; `found` is False when there is none."""

    found: bool
    enabled: bool | None = None
    slot_name: str | None = None
    publications: tuple[str, ...] = ()
    disable_on_error: bool | None = None
    apply_worker_pid: int | None = None
    received_lsn: str | None = None
    last_message_age_seconds: float | None = None
    apply_error_count: int | None = None
    sync_error_count: int | None = None
    role_name: str | None = None
    tables: tuple[TableState, ...] = ()
    sequences: tuple[SequenceValue, ...] = ()

    @property
    def tables_not_ready(self) -> tuple[TableState, ...]:
        return tuple(table for table in self.tables if not table.ready)


def parse_subscriber(
    subscription: Sequence[Sequence[Any]],
    tables: Sequence[Sequence[Any]],
    sequences: Sequence[Sequence[Any]],
) -> SubscriptionView:
    """The subscriber's three answers as one view."""
    parsed_sequences = parse_sequences(sequences)
    if not subscription:
        return SubscriptionView(found=False, sequences=parsed_sequences)
    row = subscription[0]
    return SubscriptionView(
        found=True,
        enabled=bool(row[1]),
        slot_name=None if row[2] is None else name_text(row[2]),
        publications=tuple(name_text(name) for name in row[3] or ()),
        disable_on_error=bool(row[4]),
        apply_worker_pid=_optional_int(row[5]),
        received_lsn=server_text(row[6]),
        last_message_age_seconds=None if row[7] is None else max(0.0, float(row[7])),
        apply_error_count=_optional_int(row[8]),
        sync_error_count=_optional_int(row[9]),
        role_name=server_text(row[10]),
        tables=tuple(
            TableState(name_text(schema), name_text(table), str(state)[:1])
            for schema, table, state in tables
        ),
        sequences=parsed_sequences,
    )


# --- sequences: publisher against subscriber -----------------------------------------------------


@dataclass(frozen=True)
class SequenceGap:
    """One sequence at both ends, and the value the subscriber needs before it takes writes.

    `needed` is the publisher's value plus the margin, in the sequence's direction; None when
    the publisher has not used it (nothing to carry over) or its value is not known.
    """

    schema: str
    sequence: str
    publisher_value: int | None
    subscriber_value: int | None
    needed: int | None
    known: bool
    on_subscriber: bool
    descending: bool = False

    @property
    def name(self) -> str:
        return qualified(self.schema, self.sequence)

    @property
    def behind(self) -> bool:
        """The subscriber would hand out values the publisher already used (or may have)."""
        if self.needed is None:
            return False
        return not _at_or_past(self.subscriber_value, self.needed, self.descending)

    @property
    def would_go_backwards(self) -> bool:
        """Setting the subscriber to `needed` would move it back (it is already past)."""
        if self.needed is None or self.subscriber_value is None:
            return False
        return self.subscriber_value != self.needed and _at_or_past(
            self.subscriber_value, self.needed, self.descending
        )


def _at_or_past(value: int | None, needed: int, descending: bool) -> bool:
    if value is None:
        return False
    return value <= needed if descending else value >= needed


def sequence_gaps(
    publisher: Sequence[SequenceValue], subscriber: Sequence[SequenceValue], margin: int
) -> tuple[SequenceGap, ...]:
    """Every publisher sequence beside its subscriber copy (by schema and name)."""
    theirs = {(s.schema, s.name): s for s in subscriber}
    return tuple(_gap(ours, theirs.get((ours.schema, ours.name)), margin) for ours in publisher)


def _gap(ours: SequenceValue, theirs: SequenceValue | None, margin: int) -> SequenceGap:
    descending = ours.increment_by < 0
    needed = None
    if ours.last_value is not None:
        needed = ours.last_value - margin if descending else ours.last_value + margin
    carried = ours.last_value is not None
    known = ours.readable and (not carried or (theirs is not None and theirs.readable))
    return SequenceGap(
        schema=ours.schema,
        sequence=ours.name,
        publisher_value=ours.last_value,
        subscriber_value=None if theirs is None else theirs.last_value,
        needed=needed,
        known=known,
        on_subscriber=theirs is not None,
        descending=descending,
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_non_negative(value: Any) -> int | None:
    return None if value is None else max(0, int(value))


def publications_filter(
    tables: Sequence[TableName], publications: Sequence[str]
) -> tuple[TableName, ...]:
    """The tables of the subscription's publications (all of them when those are unknown)."""
    if not publications:
        return tuple(tables)
    wanted = set(publications)
    return tuple(table for table in tables if table.publication in wanted)


def table_names(tables: Sequence[TableName]) -> tuple[str, ...]:
    """Each table once, in order (a table in two publications is one problem)."""
    return tuple(dict.fromkeys(table.text for table in tables))
