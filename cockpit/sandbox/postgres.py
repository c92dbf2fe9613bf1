"""A real PostgreSQL primary and two streaming standbys on loopback, with knobs for lag and faults.

The watched replica and a second standby both keep the default application_name `walreceiver`,
as a hand-made setup does; only the physical replication slot the watched one streams through
tells them apart on the primary, the way a real setup would.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cockpit.sandbox.pg_server import (
    APP_DBNAME,
    APP_USER,
    READER_USER,
    SERVER_USER,
    Cluster,
    ClusterGroup,
    RoleDsns,
    ServerAccount,
    free_port_other_than,
)
from cockpit.sandbox.shared import SandboxError, free_port

Role = Literal["primary", "replica", "other_standby"]
Standby = Literal["replica", "other_standby"]

REPLICA_SLOT = "cockpit_replica"

_STREAMING_TIMEOUT_SECONDS = 30.0

_SERVER_SETTINGS = """wal_level = replica
max_wal_senders = 6
wal_retrieve_retry_interval = '100ms'
wal_keep_size = '128MB'
hot_standby = on
wal_receiver_status_interval = '1s'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
"""

_PG_HBA = """\
# cockpit sandbox: trust for the server account locally and for replication, passwords for apps
local   all           {server_user}                      trust
host    replication   {server_user}   127.0.0.0/8        trust
host    all           all             127.0.0.0/8        scram-sha-256
"""

_ORDERS_TABLE = (
    "CREATE TABLE orders (id bigserial PRIMARY KEY, placed_at timestamptz NOT NULL DEFAULT now(),"
    " payload text NOT NULL)"
)
_INSERT_ORDERS = (
    "INSERT INTO orders (payload) SELECT md5(random()::text) || repeat('x', 160)"
    " FROM generate_series(1, %s)"
)
_REPLAY_LAG_BYTES = (
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn) FROM pg_stat_replication AS r"
    f" JOIN pg_replication_slots AS s ON s.active_pid = r.pid WHERE s.slot_name = '{REPLICA_SLOT}'"
)
# On the standby itself: streaming, through the slot it should use (NULL: none), and the
# primary has heard back from it (the walsender reports a replay position).
_STANDBY_STREAMING = (
    "SELECT coalesce(bool_or(status = 'streaming' AND slot_name IS NOT DISTINCT FROM {}"
    " AND latest_end_lsn IS NOT NULL), false) FROM pg_stat_wal_receiver"
)
_WALSENDERS_REPORTING = (
    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND replay_lsn IS NOT NULL"
)
_REPLAY_PAUSED = (
    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END"
)
_STATEMENT_CALLS = (
    "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE query ILIKE {}"
)


@dataclass(frozen=True)
class PostgresEndpoints(RoleDsns[Role]):
    """Where the application role (and the unprivileged reader) reach each server."""

    host: str
    primary_port: int
    replica_port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    other_standby_port: int = 0
    reader_user: str = READER_USER

    @property
    def primary_dsn(self) -> str:
        return self.dsn("primary")

    @property
    def replica_dsn(self) -> str:
        return self.dsn("replica")

    @property
    def other_standby_dsn(self) -> str:
        return self.dsn("other_standby")

    def port(self, server: Role) -> int:
        ports = {
            "primary": self.primary_port,
            "replica": self.replica_port,
            "other_standby": self.other_standby_port,
        }
        return ports[server]


# --- the pair ------------------------------------------------------------------------------------


class PostgresPair(ClusterGroup[PostgresEndpoints]):
    """A primary, the streaming replica the cockpit watches and a second standby, as children."""

    def __init__(
        self,
        bindir: Path,
        account: ServerAccount | None,
        data_root: Path,
        endpoints: PostgresEndpoints,
    ) -> None:
        super().__init__(bindir, account, data_root, endpoints)
        # cluster_name on the primary only: a standby's cluster_name would become its
        # application_name on the primary, and ours keep the default `walreceiver`.
        self._primary = self._cluster("primary", endpoints.primary_port, "primary")
        self._replica = self._cluster("replica", endpoints.replica_port)
        self._other_standby = self._cluster("other_standby", endpoints.other_standby_port)

    @classmethod
    def create(
        cls,
        work_dir: Path,
        *,
        password: str,
        host: str = "127.0.0.1",
        primary_port: int | None = None,
        replica_port: int | None = None,
    ) -> PostgresPair:
        """Initialise and start both servers; on failure nothing of them is left behind."""
        primary_port = primary_port or free_port(host)
        replica_port = replica_port or free_port_other_than(host, primary_port)
        endpoints = PostgresEndpoints(
            host=host,
            primary_port=primary_port,
            replica_port=replica_port,
            user=APP_USER,
            password=password,
            dbname=APP_DBNAME,
            other_standby_port=free_port_other_than(host, primary_port, replica_port),
        )
        return cls._created(work_dir, endpoints)

    # --- replay ---------------------------------------------------------------------------------

    def pause_replay(self, standby: Standby = "replica") -> None:
        """Stop a standby applying WAL (it keeps receiving it), so lag builds up."""
        self._query(self._standby(standby), "SELECT pg_wal_replay_pause()")

    def resume_replay(self, standby: Standby = "replica") -> None:
        self._query(self._standby(standby), "SELECT pg_wal_replay_resume()")

    def is_replay_paused(self, standby: Standby = "replica") -> bool:
        """Whether replay is paused on a running standby in recovery (False otherwise)."""
        cluster = self._standby(standby)
        if not cluster.is_running():
            return False
        return bool(self._query(cluster, _REPLAY_PAUSED))

    # --- the replica's slot ---------------------------------------------------------------------

    def stream_without_slot(self) -> None:
        """The replica streams without its slot: nothing then tells it from the other standby."""
        with self._lock:
            self._set_replica_slot("")
            self._wait_streaming(self._replica, slot=None)

    def stream_through_slot(self) -> None:
        """The replica streams through its slot again (as `up` leaves it)."""
        with self._lock:
            self._set_replica_slot(REPLICA_SLOT)
            self._wait_streaming(self._replica, slot=REPLICA_SLOT)

    def uses_slot(self) -> bool:
        """Whether the replica is set to stream through its slot."""
        return bool(self._query(self._replica, "SELECT current_setting('primary_slot_name') <> ''"))

    def _set_replica_slot(self, slot: str) -> None:
        from psycopg import sql

        statement = sql.SQL("ALTER SYSTEM SET primary_slot_name = {}").format(sql.Literal(slot))
        self._query(self._replica, statement)
        self._query(self._replica, "SELECT pg_reload_conf()")

    # --- statement accounting -------------------------------------------------------------------

    def statement_calls(self, role: Role, pattern: str) -> int:
        """Completed calls since reset() of statements matching an ILIKE pattern on one server.

        From pg_stat_statements, which records a statement when it finishes: one that failed
        (e.g. pg_promote() on a server already promoted) is not counted.
        """
        from psycopg import sql

        cluster = self._primary if role == "primary" else self._replica
        query = sql.SQL(_STATEMENT_CALLS).format(sql.Literal(pattern))
        return int(self._query(cluster, query) or 0)

    def reset_statement_counts(self) -> None:
        """Start pg_stat_statements afresh on every running server."""
        for cluster in self._clusters():
            if cluster.is_running():
                self._query(cluster, "SELECT pg_stat_statements_reset()")

    def replay_lag_bytes(self) -> int | None:
        """WAL the primary has written that the replica has not replayed (as the primary sees the
        standby on the replica's slot); None while no standby streams through it."""
        lag = self._query(self._primary, _REPLAY_LAG_BYTES)
        return None if lag is None else int(lag)

    # --- write load -----------------------------------------------------------------------------

    def start_write_load(self, rows_per_second: int = 2000) -> None:
        """Insert into orders on the primary at about this rate, in a background thread."""
        self._start_write_load(self._endpoints.primary_dsn, rows_per_second, _INSERT_ORDERS)

    # --- promotion and faults -------------------------------------------------------------------

    def promote(self) -> None:
        """Promote the replica and wait until it has left recovery."""
        with self._lock:
            if not self._query(self._replica, "SELECT pg_promote(wait => true)"):
                raise SandboxError(
                    f"the replica on port {self._replica.port} did not finish promotion in 60 s; "
                    f"see {self._replica.log_path}"
                )

    def is_promoted(self) -> bool:
        """Whether the replica has been promoted (it stays so while stopped, until reset())."""
        return _is_promoted(self._replica)

    def stop_replica(self) -> None:
        """A fault: the replica goes away (immediate shutdown)."""
        with self._lock:
            self._stop_server(self._replica)

    def start_replica(self) -> None:
        """Bring a stopped replica back and wait until it streams again."""
        with self._lock:
            if not self._replica.is_running():
                self._start_server(self._replica)
            if not _is_promoted(self._replica):
                self._wait_streaming(self._replica, slot=REPLICA_SLOT)

    def reset(self) -> None:
        """Back to the starting state: no load, both standbys streaming and replaying."""
        with self._lock:
            self.stop_write_load()
            if not self._primary.is_running():
                self._start_server(self._primary)
            self._reset_replica()
            self._reset_other_standby()
            self._query(self._primary, "TRUNCATE orders RESTART IDENTITY", dbname=APP_DBNAME)
            self._wait_both_streaming()
            self.reset_statement_counts()

    def _reset_replica(self) -> None:
        if _is_promoted(self._replica):
            self._rebuild_replica()
            return
        if not self._replica.is_running():
            self._start_server(self._replica)
        if self.is_replay_paused("replica"):
            self.resume_replay("replica")
        if not self.uses_slot():
            self._set_replica_slot(REPLICA_SLOT)

    def _reset_other_standby(self) -> None:
        if not self._other_standby.is_running():
            self._start_server(self._other_standby)
        elif self.is_replay_paused("other_standby"):
            self.resume_replay("other_standby")

    # --- bringing clusters up -------------------------------------------------------------------

    def _clusters(self) -> tuple[Cluster, ...]:
        return (self._primary, self._replica, self._other_standby)

    def _standby(self, standby: Standby) -> Cluster:
        return self._replica if standby == "replica" else self._other_standby

    def _bring_up(self) -> None:
        """Primary first; then both standbys are copied and started side by side."""
        self._init_primary()
        self._start_server(self._primary)
        self._create_application_schema()
        self._create_reader_and_slot()
        with ThreadPoolExecutor(max_workers=2) as pool:
            standbys = (self._replica, self._other_standby)
            for done in [pool.submit(self._build_and_start, cluster) for cluster in standbys]:
                done.result()
        self._wait_both_streaming()

    def _build_and_start(self, cluster: Cluster) -> None:
        self._build_standby(cluster)
        self._start_server(cluster)

    def _init_primary(self) -> None:
        pg_hba = _PG_HBA.format(server_user=SERVER_USER)
        self._init_cluster(self._primary, _SERVER_SETTINGS, pg_hba)

    def _create_application_schema(self) -> None:
        self._create_login_role(self._primary, APP_USER, self._endpoints.password, "SUPERUSER")
        self._create_app_database(self._primary)
        self._query(self._primary, _ORDERS_TABLE, dbname=APP_DBNAME)
        self._query(self._primary, f"ALTER TABLE orders OWNER TO {APP_USER}", dbname=APP_DBNAME)
        self._query(self._primary, "CREATE EXTENSION pg_stat_statements")

    def _create_reader_and_slot(self) -> None:
        """A LOGIN role without pg_monitor, and the physical slot the watched replica uses."""
        from psycopg import sql

        self._create_login_role(self._primary, READER_USER, self._endpoints.password)
        slot = sql.SQL("SELECT pg_create_physical_replication_slot({})").format(
            sql.Literal(REPLICA_SLOT)
        )
        self._query(self._primary, slot)

    def _build_standby(self, cluster: Cluster) -> None:
        """pg_basebackup -R; the watched replica also streams through its slot (-S)."""
        slot = ["-S", REPLICA_SLOT] if cluster is self._replica else []
        self._run_server_command(
            "pg_basebackup",
            ["-h", self._endpoints.host, "-p", str(self._primary.port), "-U", SERVER_USER],
            ["-D", str(cluster.data_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync", *slot],
        )
        self._write_server_file(cluster.data_dir / "node.conf", cluster.node_settings())

    def _rebuild_replica(self) -> None:
        self._stop_server(self._replica)
        shutil.rmtree(self._replica.data_dir)
        self._build_standby(self._replica)
        self._start_server(self._replica)

    # --- streaming -----------------------------------------------------------------------------

    def _wait_streaming(self, cluster: Cluster, slot: str | None) -> None:
        """Until the standby streams (through `slot`, or through none) and has reported back."""
        from psycopg import sql

        query = sql.SQL(_STANDBY_STREAMING).format(sql.Literal(slot))
        self._wait_until(
            lambda: self._wal_nudged(self._primary) and bool(self._query(cluster, query)),
            _STREAMING_TIMEOUT_SECONDS,
            f"the {cluster.role} did not start streaming from the primary",
            cluster,
        )

    def _wait_both_streaming(self) -> None:
        self._wait_streaming(self._replica, slot=REPLICA_SLOT)
        self._wait_streaming(self._other_standby, slot=None)
        self._wait_until(
            lambda: int(self._query(self._primary, _WALSENDERS_REPORTING) or 0) >= 2,
            _STREAMING_TIMEOUT_SECONDS,
            "the primary did not hear back from both standbys",
            self._primary,
        )


def _is_promoted(cluster: Cluster) -> bool:
    """A replica whose recovery has ended (its standby.signal is gone)."""
    initialised = (cluster.data_dir / "PG_VERSION").exists()
    return initialised and not (cluster.data_dir / "standby.signal").exists()
