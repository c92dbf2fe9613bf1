"""A real PostgreSQL publisher and subscriber on loopback (logical replication), with knobs for
apply lag, a table still syncing, sequences left behind and a stuck slot.

The subscription connects to the publisher over TCP as a replication role whose password only
the subscription's conninfo holds. On the subscriber the application role is a superuser, as
RDS's master user is: PostgreSQL 15 lets only a superuser own (and so disable) a subscription.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cockpit.sandbox.pg_server import (
    APP_DBNAME,
    APP_USER,
    CONNECT_TIMEOUT_SECONDS,
    READER_USER,
    SERVER_USER,
    Cluster,
    ClusterGroup,
    RoleDsns,
    ServerAccount,
    dsn,
    free_port_other_than,
)
from cockpit.sandbox.shared import SandboxError, free_port

if TYPE_CHECKING:
    import psycopg
    from psycopg.abc import Query

End = Literal["publisher", "subscriber"]

PUBLICATION = "cockpit_pub"
SUBSCRIPTION = "cockpit_sub"
REPLICATION_USER = "cockpit_replicator"
LATE_TABLE = "late_items"
ADVANCED_SEQUENCES = ("orders_id_seq", "invoice_numbers")
CONFLICT_NAME = "sandbox conflict"

_CATCH_UP_TIMEOUT_SECONDS = 45.0
_APPLY_ERROR_TIMEOUT_SECONDS = 30.0
_LATE_ROWS = 1000

_PUBLISHER_SETTINGS = """wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
# an apply worker blocked on a lock sends no replies while it waits: keep its walsender
wal_sender_timeout = 0
"""
_SUBSCRIBER_SETTINGS = """max_replication_slots = 10
max_worker_processes = 16
max_logical_replication_workers = 8
max_sync_workers_per_subscription = 4
# how soon a failed apply worker starts again
wal_retrieve_retry_interval = '500ms'
"""
_PG_HBA = """\
# cockpit sandbox: trust for the server account locally, passwords over loopback
local   all           {server_user}                      trust
host    all           all             127.0.0.0/8        scram-sha-256
"""

_SCHEMA = (
    "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL)",
    "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int,"
    " placed_at timestamptz DEFAULT now(), payload text NOT NULL)",
    # An insert-only log with no primary key and the default replica identity: its inserts
    # replicate, its updates and deletes could not (a preflight problem the cockpit names).
    "CREATE TABLE order_events (order_id bigint, event text, at timestamptz DEFAULT now())",
    "CREATE SEQUENCE invoice_numbers",
)
_READER_GRANTS = (
    f"GRANT CONNECT ON DATABASE {APP_DBNAME} TO {READER_USER}",
    # without it pg_sequences shows the reader a NULL last_value
    f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {READER_USER}",
)
_SEED = (
    "INSERT INTO customers (name) VALUES ('Ada'), ('Grace'), ('Edsger')",
    "SELECT count(nextval('invoice_numbers')) FROM generate_series(1, 3)",
)
_SEED_ORDERS = 20
_INSERT_ORDERS = (
    "WITH placed AS (INSERT INTO orders (customer_id, payload)"
    " SELECT 1 + g %% 3, md5(random()::text) || repeat('x', 160)"
    " FROM generate_series(1, %s) AS g RETURNING id)"
    " INSERT INTO order_events (order_id, event) SELECT id, 'placed' FROM placed"
)
_ALL_TABLES_READY = "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel"
_TABLE_STATES = (
    "SELECT coalesce(jsonb_object_agg(srrelid::regclass::text, srsubstate), '{}')"
    " FROM pg_subscription_rel"
)
_SLOT_LAG_BYTES = (
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
    f" FROM pg_replication_slots WHERE slot_name = '{SUBSCRIPTION}'"
)
_SLOT_CONFIRMED_PAST = (
    "SELECT coalesce(bool_or(confirmed_flush_lsn >= {}::pg_lsn), false)"
    f" FROM pg_replication_slots WHERE slot_name = '{SUBSCRIPTION}'"
)
_APPLY_ERRORS = (
    "SELECT coalesce(sum(apply_error_count), 0)::bigint FROM pg_stat_subscription_stats"
    f" WHERE subname = '{SUBSCRIPTION}'"
)
_SUBSCRIPTION_ENABLED = f"SELECT subenabled FROM pg_subscription WHERE subname = '{SUBSCRIPTION}'"
_NEXT_CUSTOMER_ID = (
    "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM customers_id_seq"
)
# The subscriber's sequences were never used: back to their start, not yet called.
_RESTART_SEQUENCES = (
    "SELECT count(setval(format('%I.%I', schemaname, sequencename), start_value, false))"
    " FROM pg_sequences"
)


@dataclass(frozen=True)
class LogicalEndpoints(RoleDsns[End]):
    """Where the application role (and the unprivileged reader) reach each end."""

    host: str
    publisher_port: int
    subscriber_port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    reader_user: str = READER_USER
    publication: str = PUBLICATION
    subscription: str = SUBSCRIPTION
    slot: str = SUBSCRIPTION

    @property
    def publisher_dsn(self) -> str:
        return self.dsn("publisher")

    @property
    def subscriber_dsn(self) -> str:
        return self.dsn("subscriber")

    def port(self, server: End) -> int:
        return self.publisher_port if server == "publisher" else self.subscriber_port


class LogicalPair(ClusterGroup[LogicalEndpoints]):
    """A publisher and a subscriber following it through one subscription, as children."""

    def __init__(
        self,
        bindir: Path,
        account: ServerAccount | None,
        data_root: Path,
        endpoints: LogicalEndpoints,
    ) -> None:
        super().__init__(bindir, account, data_root, endpoints)
        self._publisher = self._cluster("publisher", endpoints.publisher_port, "publisher")
        self._subscriber = self._cluster("subscriber", endpoints.subscriber_port, "subscriber")
        self._replication_password = secrets.token_urlsafe(18)
        self._holds: dict[str, psycopg.Connection[Any]] = {}
        self._late_tables: set[str] = set()

    @classmethod
    def create(cls, work_dir: Path, *, password: str, host: str = "127.0.0.1") -> LogicalPair:
        """Initialise and start both servers, subscribed and caught up; on failure nothing of
        them is left behind."""
        publisher_port = free_port(host)
        endpoints = LogicalEndpoints(
            host=host,
            publisher_port=publisher_port,
            subscriber_port=free_port_other_than(host, publisher_port),
            user=APP_USER,
            password=password,
            dbname=APP_DBNAME,
        )
        return cls._created(work_dir, endpoints)

    # --- writes ---------------------------------------------------------------------------------

    def write_rows(self, count: int) -> None:
        """Insert `count` orders, an event each, on the publisher (as the application role)."""
        import psycopg

        publisher = self._endpoints.publisher_dsn
        with psycopg.connect(
            publisher, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as connection:
            connection.execute(_INSERT_ORDERS, (count,))

    def start_write_load(self, rows_per_second: int = 2000) -> None:
        """Insert orders and events on the publisher at about this rate, in a background thread."""
        self._start_write_load(self._endpoints.publisher_dsn, rows_per_second, _INSERT_ORDERS)

    # --- lag and a table still syncing ----------------------------------------------------------

    def hold_apply(self) -> None:
        """Lock the subscriber's orders against writes, so the apply worker waits while the
        publisher goes on: the slot's confirmed position stops and byte lag grows.

        SHARE mode blocks every writer, the apply worker included, yet lets reads of orders
        (the cockpit's among them) answer.
        """
        with self._lock:
            self._hold("apply", "orders")

    def release_apply(self) -> None:
        """Commit the held lock: the apply worker goes on and catches up."""
        with self._lock:
            self._release("apply")

    def hold_table_sync(self, table: str = LATE_TABLE) -> None:
        """A new table on both ends, filled on the publisher, added to the subscription while
        the subscriber's copy is locked: its initial copy waits (state i or d, not r).

        Made on the subscriber first, and locked only once apply has passed the rows filled
        in: the apply worker opens (and so locks) a table for any change to it, even one it
        then skips because the table is not subscribed yet.
        """
        with self._lock:
            if "table_sync" in self._holds:
                return
            self._require_apply_running(f"{table} cannot be held syncing")
            if table in self.table_states():
                raise SandboxError(f"{table} is subscribed already; reset the pair to add it anew")
            self._late_tables.add(table)
            for cluster in (self._subscriber, self._publisher):
                self._as_app_user(cluster, _create_late_table(table))
            self._as_app_user(self._publisher, _fill_late_table(table))
            self._wait_slot_confirmed()
            self._hold("table_sync", table)
            try:
                self._refresh_publication()
            except SandboxError:
                self._release("table_sync")
                raise

    def release_table_sync(self) -> None:
        """Commit the held lock: the table's copy runs and it reaches r."""
        with self._lock:
            self._release("table_sync")

    # --- sequences ------------------------------------------------------------------------------

    def advance_publisher_sequences(self, steps: int) -> None:
        """nextval `steps` times on the publisher's orders_id_seq and invoice_numbers; the
        subscriber's copies stay where they are (logical replication leaves sequences alone)."""
        from psycopg import sql

        if steps < 1:
            raise SandboxError(f"steps must be at least 1, not {steps}")
        calls = sql.SQL(", ").join(
            sql.SQL("count(nextval({}))").format(sql.Literal(name)) for name in ADVANCED_SEQUENCES
        )
        statement = sql.SQL("SELECT {} FROM generate_series(1, {})").format(
            calls, sql.Literal(steps)
        )
        with self._lock:
            self._query(self._publisher, statement, dbname=APP_DBNAME)

    # --- a stuck slot ---------------------------------------------------------------------------

    def break_apply(self) -> None:
        """The subscriber already holds the customers id the publisher gives next: applying
        the publisher's insert fails on the primary key, again at every retry, and the slot
        stops; returns once the first failure is counted."""
        from psycopg import sql

        with self._lock:
            self._require_apply_running("apply cannot be broken")
            errors_before = self.apply_error_count()
            next_id = int(self._query(self._publisher, _NEXT_CUSTOMER_ID, dbname=APP_DBNAME))
            conflict = sql.SQL("INSERT INTO customers (id, name) VALUES ({}, {})").format(
                sql.Literal(next_id), sql.Literal(CONFLICT_NAME)
            )
            self._query(self._subscriber, conflict, dbname=APP_DBNAME)
            insert = "INSERT INTO customers (name) VALUES ('Barbara')"
            self._query(self._publisher, insert, dbname=APP_DBNAME)
            self._wait_until(
                lambda: self.apply_error_count() > errors_before,
                _APPLY_ERROR_TIMEOUT_SECONDS,
                "the subscriber's apply worker did not fail on the conflicting row",
                self._subscriber,
            )

    def mend_apply(self) -> None:
        """Delete the conflicting row on the subscriber: the next retry applies and goes on."""
        from psycopg import sql

        delete = sql.SQL("DELETE FROM customers WHERE name = {}").format(sql.Literal(CONFLICT_NAME))
        with self._lock:
            self._query(self._subscriber, delete, dbname=APP_DBNAME)

    # --- readings -------------------------------------------------------------------------------

    def subscription_enabled(self) -> bool:
        return bool(self._query(self._subscriber, _SUBSCRIPTION_ENABLED))

    def lag_bytes(self) -> int | None:
        """WAL the publisher has written past the slot's confirmed position (None: no slot)."""
        lag = self._query(self._publisher, _SLOT_LAG_BYTES)
        return None if lag is None else int(lag)

    def table_states(self) -> dict[str, str]:
        """Each subscribed table's sync state on the subscriber (i, d, f, s or r)."""
        states = self._query(self._subscriber, _TABLE_STATES, dbname=APP_DBNAME)
        return {str(table): str(state) for table, state in dict(states).items()}

    def apply_error_count(self) -> int:
        """How often the subscription's apply worker has failed since it was created."""
        return int(self._query(self._subscriber, _APPLY_ERRORS) or 0)

    # --- back to the start ----------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the state create() left: no load or holds, no conflict, the subscription
        enabled, no late table, the subscriber's sequences unused, every table ready, no lag."""
        with self._lock:
            self.stop_write_load()
            self._release("apply")
            self._release("table_sync")
            self.mend_apply()
            if not self.subscription_enabled():
                enable = f"ALTER SUBSCRIPTION {SUBSCRIPTION} ENABLE"
                self._query(self._subscriber, enable, dbname=APP_DBNAME)
            if self._late_tables:
                self._wait_caught_up()
                self._drop_late_tables()
            self._query(self._subscriber, _RESTART_SEQUENCES, dbname=APP_DBNAME)
            self._wait_caught_up()

    def stop(self) -> None:
        """Release any held lock, then stop as every group does; safe to call twice."""
        with self._lock:
            for name in list(self._holds):
                self._release(name)
            super().stop()

    def _require_apply_running(self, what: str) -> None:
        """SandboxError saying `what` cannot happen, and why, unless the apply worker can go on."""
        from psycopg import sql

        conflicts = sql.SQL("SELECT count(*) FROM customers WHERE name = {}").format(
            sql.Literal(CONFLICT_NAME)
        )
        if "apply" in self._holds:
            why = "apply is held (release_apply lets it go on)"
        elif not self.subscription_enabled():
            why = f"the subscription {SUBSCRIPTION} is disabled"
        elif self._query(self._subscriber, conflicts, dbname=APP_DBNAME):
            why = "apply is stuck on a conflicting row (mend_apply removes it)"
        else:
            return
        raise SandboxError(f"{what} while {why}")

    def _drop_late_tables(self) -> None:
        """Dropped on the publisher, out of the subscription, then dropped on the subscriber
        (apply fails on a change to a table the subscriber does not have, so the caller first
        waits until apply has passed every change to them)."""
        from psycopg import sql

        drops = [
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table))
            for table in sorted(self._late_tables)
        ]
        self._run(self._publisher, APP_DBNAME, *drops)
        self._refresh_publication()
        self._run(self._subscriber, APP_DBNAME, *drops)
        self._late_tables.clear()

    # --- bringing the pair up -------------------------------------------------------------------

    def _clusters(self) -> tuple[Cluster, ...]:
        return (self._publisher, self._subscriber)

    def _bring_up(self) -> None:
        """Both servers made side by side; then the subscription, and wait until it is current."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            made = [
                pool.submit(self._make_publisher),
                pool.submit(self._make_server, self._subscriber, _SUBSCRIBER_SETTINGS, "SUPERUSER"),
            ]
            for done in made:
                done.result()
        self._subscribe()
        self._wait_caught_up()

    def _make_server(self, cluster: Cluster, settings: str, app_attributes: str) -> None:
        """initdb, start, the application role and database, the schema and the reader."""
        self._init_cluster(cluster, settings, _PG_HBA.format(server_user=SERVER_USER))
        self._start_server(cluster)
        password = self._endpoints.password
        self._create_login_role(cluster, APP_USER, password, app_attributes)
        self._create_app_database(cluster)
        self._as_app_user(cluster, *_SCHEMA)
        self._create_login_role(cluster, READER_USER, password)
        self._run(cluster, APP_DBNAME, *_READER_GRANTS)

    def _make_publisher(self) -> None:
        """The server, seeded; a role the subscription connects as; the publication."""
        self._make_server(self._publisher, _PUBLISHER_SETTINGS, "")
        self._as_app_user(self._publisher, *_SEED)
        self.write_rows(_SEED_ORDERS)
        self._create_login_role(
            self._publisher, REPLICATION_USER, self._replication_password, "REPLICATION"
        )
        self._query(self._publisher, f"GRANT pg_read_all_data TO {REPLICATION_USER}")
        publication = f"CREATE PUBLICATION {PUBLICATION} FOR ALL TABLES"
        self._query(self._publisher, publication, dbname=APP_DBNAME)

    def _subscribe(self) -> None:
        """CREATE SUBSCRIPTION as the application role, which so owns it (and its slot's name)."""
        from psycopg import sql

        publisher = dsn(
            self._host,
            self._publisher.port,
            REPLICATION_USER,
            APP_DBNAME,
            self._replication_password,
        )
        create = sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {}").format(
            sql.Identifier(SUBSCRIPTION), sql.Literal(publisher), sql.Identifier(PUBLICATION)
        )
        self._as_app_user(self._subscriber, create)

    def _wait_caught_up(self) -> None:
        """Until every table is ready and the slot has confirmed all the publisher's WAL."""
        self._wait_until(
            lambda: bool(self._query(self._subscriber, _ALL_TABLES_READY, dbname=APP_DBNAME)),
            _CATCH_UP_TIMEOUT_SECONDS,
            "the subscription's tables did not all reach the ready state",
            self._subscriber,
        )
        self._wait_slot_confirmed()

    def _wait_slot_confirmed(self) -> None:
        """Until the slot has confirmed the publisher's WAL as it stands after a committed
        write (made here, so an idle publisher also has something to confirm)."""
        from psycopg import sql

        written_to = self._run(
            self._publisher,
            APP_DBNAME,
            "SET synchronous_commit = on",
            "SELECT pg_logical_emit_message(true, 'cockpit', 'caught up?')::text",
            "SELECT pg_current_wal_lsn()::text",
        )
        confirmed = sql.SQL(_SLOT_CONFIRMED_PAST).format(sql.Literal(written_to))
        self._wait_until(
            lambda: bool(self._query(self._publisher, confirmed)),
            _CATCH_UP_TIMEOUT_SECONDS,
            f"the slot {SUBSCRIPTION} did not confirm the publisher's WAL up to {written_to}",
            self._subscriber,
        )

    # --- SQL ------------------------------------------------------------------------------------

    def _as_app_user(self, cluster: Cluster, *statements: Query) -> Any:
        """Statements in the application database as the application role (objects it owns)."""
        return self._run(cluster, APP_DBNAME, f"SET ROLE {APP_USER}", *statements)

    def _refresh_publication(self) -> None:
        self._query(
            self._subscriber, f"ALTER SUBSCRIPTION {SUBSCRIPTION} REFRESH PUBLICATION", APP_DBNAME
        )

    def _hold(self, name: str, table: str) -> None:
        """A transaction on the subscriber holding a SHARE lock on `table` until released."""
        import psycopg
        from psycopg import sql

        if name in self._holds:
            return
        connection = self._admin_connection(self._subscriber, APP_DBNAME, autocommit=False)
        try:
            connection.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(table)))
        except psycopg.Error as error:
            connection.close()
            raise SandboxError(f"locking {table} on the subscriber: {error}") from error
        self._holds[name] = connection

    def _release(self, name: str) -> None:
        import psycopg

        connection = self._holds.pop(name, None)
        if connection is None:
            return
        with suppress(psycopg.Error):
            connection.commit()
        connection.close()


def _create_late_table(table: str) -> Query:
    from psycopg import sql

    return sql.SQL("CREATE TABLE IF NOT EXISTS {} (id int PRIMARY KEY, note text NOT NULL)").format(
        sql.Identifier(table)
    )


def _fill_late_table(table: str) -> Query:
    from psycopg import sql

    return sql.SQL(
        "INSERT INTO {} SELECT g, 'late ' || g FROM generate_series(1, {}) AS g"
        " ON CONFLICT DO NOTHING"
    ).format(sql.Identifier(table), sql.Literal(_LATE_ROWS))
