"""A real PostgreSQL primary and two streaming standbys on loopback, with knobs for lag and faults.

The watched replica and a second standby both keep the default application_name `walreceiver`,
as a hand-made setup does; only the physical replication slot the watched one streams through
tells them apart on the primary, the way a real setup would.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cockpit.sandbox.shared import SandboxError, free_port

if TYPE_CHECKING:
    import psycopg
    from psycopg.abc import Query

Role = Literal["primary", "replica", "other_standby"]
Standby = Literal["replica", "other_standby"]

APP_USER = "cutover"
APP_DBNAME = "shop"
READER_USER = "cockpit_reader"
REPLICA_SLOT = "cockpit_replica"
SERVER_BINARIES = ("initdb", "pg_basebackup", "postgres")
MISSING_BINARIES_MESSAGE = (
    "PostgreSQL server binaries not found (initdb, pg_ctl, pg_basebackup): "
    "install Debian's postgresql-15 package (apt-get install postgresql-15)"
)

_SERVER_USER = "postgres"
_PREFERRED_MAJOR = "15"
_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_DATA_ROOT_PREFIX = "cockpit-pg-"
_SOCKET_PATH_LIMIT = 100
_CONNECT_TIMEOUT_SECONDS = 3
_START_TIMEOUT_SECONDS = 30.0
_STREAMING_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 10.0
_COMMAND_TIMEOUT_SECONDS = 120.0
_POLL_SECONDS = 0.05
_LOG_TAIL_LINES = 20
_WRITE_LOAD_TICK_SECONDS = 0.1
_WRITE_LOAD_RETRY_SECONDS = 0.5

_SERVER_SETTINGS = """
# cockpit sandbox: a throwaway pair on loopback, tuned for speed over durability
listen_addresses = '{host}'
unix_socket_directories = '{socket_dir}'
wal_level = replica
max_wal_senders = 6
wal_retrieve_retry_interval = '100ms'
wal_keep_size = '128MB'
hot_standby = on
wal_receiver_status_interval = '1s'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = '32MB'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
include = 'node.conf'
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
_NUDGE_WAL = "SELECT pg_logical_emit_message(false, 'cockpit', 'standby start')::text"
_WALSENDERS_REPORTING = (
    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND replay_lsn IS NOT NULL"
)
_REPLAY_PAUSED = (
    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END"
)
_STATEMENT_CALLS = (
    "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE query ILIKE {}"
)


def _conninfo_value(value: str) -> str:
    """A libpq key=value value, quoted when it holds spaces, quotes or backslashes."""
    if value and not any(c in value for c in " '\\"):
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _conninfo(**parts: str | int) -> str:
    """A libpq key=value connection string from the given keys, in order."""
    return " ".join(f"{key}={_conninfo_value(str(value))}" for key, value in parts.items())


@dataclass(frozen=True)
class PostgresEndpoints:
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
        return self._dsn(self.primary_port, self.user, with_password=True)

    @property
    def replica_dsn(self) -> str:
        return self._dsn(self.replica_port, self.user, with_password=True)

    @property
    def other_standby_dsn(self) -> str:
        return self._dsn(self.other_standby_port, self.user, with_password=True)

    def without_password(self, dsn_role: Role) -> str:
        """The DSN for one end minus the password, for configs that read it from elsewhere."""
        return self._dsn(self.port(dsn_role), self.user, with_password=False)

    def reader_dsn(self, dsn_role: Role, *, with_password: bool = True) -> str:
        """The DSN of the LOGIN role without pg_monitor (same password) for one server."""
        return self._dsn(self.port(dsn_role), self.reader_user, with_password=with_password)

    def port(self, dsn_role: Role) -> int:
        ports = {
            "primary": self.primary_port,
            "replica": self.replica_port,
            "other_standby": self.other_standby_port,
        }
        return ports[dsn_role]

    def _dsn(self, port: int, user: str, *, with_password: bool) -> str:
        secret = {"password": self.password} if with_password else {}
        return _conninfo(host=self.host, port=port, user=user, **secret, dbname=self.dbname)


# --- finding and running the server binaries ----------------------------------------------------


def server_bindir_candidates() -> list[Path]:
    """Where to look for the server binaries: pg_config's bindir, then Debian's, 15 first."""
    candidates = [_DEBIAN_ROOT / _PREFERRED_MAJOR / "bin"]
    if _DEBIAN_ROOT.is_dir():
        majors = sorted((p.name for p in _DEBIAN_ROOT.iterdir()), key=_major_sort_key)
        candidates += [_DEBIAN_ROOT / major / "bin" for major in reversed(majors)]
    pg_config_bindir = _pg_config_bindir()
    if pg_config_bindir is not None:
        candidates.insert(0, pg_config_bindir)
    return list(dict.fromkeys(candidates))


def _major_sort_key(name: str) -> tuple[int, str]:
    return (int(name), name) if name.isdigit() else (-1, name)


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(result.stdout.strip())


def find_server_bindir() -> Path:
    """The first candidate directory that holds initdb, pg_basebackup and postgres."""
    for bindir in server_bindir_candidates():
        if all(os.access(bindir / name, os.X_OK) for name in SERVER_BINARIES):
            return bindir
    raise SandboxError(MISSING_BINARIES_MESSAGE)


@dataclass(frozen=True)
class _ServerAccount:
    """The OS account the server commands run as (the server refuses to run as root)."""

    uid: int
    gid: int
    home: str

    @classmethod
    def for_this_process(cls) -> _ServerAccount | None:
        """The `postgres` account when running as root; None to run as ourselves."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(_SERVER_USER)
        except KeyError:
            raise SandboxError(
                f"running as root, the PostgreSQL server needs the '{_SERVER_USER}' system "
                "user: install Debian's postgresql-15 package, or run as an unprivileged user"
            ) from None
        return cls(entry.pw_uid, entry.pw_gid, entry.pw_dir)

    def popen_options(self) -> dict[str, Any]:
        """Keyword arguments that make subprocess run a command as this account."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _server_environment(account: _ServerAccount | None) -> dict[str, str]:
    """Our environment minus libpq's PG* variables (and with the account's home, if switching)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if account is not None:
        environment.update(HOME=account.home, USER=_SERVER_USER, LOGNAME=_SERVER_USER)
    return environment


def _reachable_by_others(folder: Path) -> bool:
    """Whether another account can get through every folder on the way to `folder`."""
    return all(part.stat().st_mode & 0o001 for part in (folder, *folder.parents))


def _shared_temp_dir() -> Path | None:
    """The system temp folder if the server account can reach it, else /tmp (TMPDIR may be
    a private 0700 folder, e.g. a test's), else None for the default."""
    for candidate in (Path(tempfile.gettempdir()), Path("/tmp")):
        if candidate.is_dir() and _reachable_by_others(candidate):
            return candidate
    return None


def _make_data_root(work_dir: Path, account: _ServerAccount | None) -> Path:
    """A fresh folder for both clusters, reachable by the server account, with a short path."""
    parent: Path | None = _shared_temp_dir() if account is not None else None
    if account is None:
        work_dir.mkdir(parents=True, exist_ok=True)
        parent = work_dir
    data_root = Path(tempfile.mkdtemp(prefix=_DATA_ROOT_PREFIX, dir=parent))
    if len(str(data_root)) > _SOCKET_PATH_LIMIT - len("/.s.PGSQL.65535"):
        data_root.rmdir()
        data_root = Path(tempfile.mkdtemp(prefix=_DATA_ROOT_PREFIX))
    if account is not None:
        os.chown(data_root, account.uid, account.gid)
    return data_root


def _free_port_other_than(host: str, *taken_ports: int) -> int:
    port = free_port(host)
    while port in taken_ports:
        port = free_port(host)
    return port


def _log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


# --- one cluster ---------------------------------------------------------------------------------


@dataclass
class _Cluster:
    """One data directory and the postmaster running on it, if any."""

    role: Role
    data_dir: Path
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def postmaster_pid(self) -> int | None:
        """The PID written in postmaster.pid, if the server is running."""
        if not self.is_running():
            return None
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def is_promoted(self) -> bool:
        """A replica whose recovery has ended (its standby.signal is gone)."""
        initialised = (self.data_dir / "PG_VERSION").exists()
        return initialised and not (self.data_dir / "standby.signal").exists()

    def node_settings(self) -> str:
        """Port, and a cluster_name on the primary only: a standby's cluster_name would become
        its application_name on the primary, and ours keep the default `walreceiver`."""
        name = f"cluster_name = '{self.role}'\n" if self.role == "primary" else ""
        return f"port = {self.port}\n{name}"


# --- the pair ------------------------------------------------------------------------------------


class PostgresPair:
    """A primary, the streaming replica the cockpit watches and a second standby, as children."""

    def __init__(
        self,
        bindir: Path,
        account: _ServerAccount | None,
        data_root: Path,
        endpoints: PostgresEndpoints,
    ) -> None:
        self._bindir = bindir
        self._account = account
        self._data_root = data_root
        self._endpoints = endpoints
        self._primary = self._cluster("primary", endpoints.primary_port)
        self._replica = self._cluster("replica", endpoints.replica_port)
        self._other_standby = self._cluster("other_standby", endpoints.other_standby_port)
        self._lock = threading.RLock()
        self._write_load: _WriteLoad | None = None

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
        bindir = find_server_bindir()
        account = _ServerAccount.for_this_process()
        primary_port = primary_port or free_port(host)
        replica_port = replica_port or _free_port_other_than(host, primary_port)
        endpoints = PostgresEndpoints(
            host=host,
            primary_port=primary_port,
            replica_port=replica_port,
            user=APP_USER,
            password=password,
            dbname=APP_DBNAME,
            other_standby_port=_free_port_other_than(host, primary_port, replica_port),
        )
        pair = cls(bindir, account, _make_data_root(work_dir, account), endpoints)
        try:
            pair._bring_up()
        except BaseException:
            pair.stop()
            shutil.rmtree(pair.data_root, ignore_errors=True)
            raise
        return pair

    @property
    def endpoints(self) -> PostgresEndpoints:
        return self._endpoints

    @property
    def data_root(self) -> Path:
        """The folder holding both clusters and their logs; the caller removes it after stop()."""
        return self._data_root

    def server_pids(self) -> dict[str, int]:
        """The postmaster PID of each running server."""
        pids = {c.role: c.postmaster_pid() for c in self._clusters()}
        return {role: pid for role, pid in pids.items() if pid is not None}

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
        with self._lock:
            if self._write_load is None:
                self._write_load = _WriteLoad(self._endpoints.primary_dsn, rows_per_second)
                self._write_load.start()

    def stop_write_load(self) -> None:
        with self._lock:
            if self._write_load is not None:
                self._write_load.stop()
                self._write_load = None

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
        return self._replica.is_promoted()

    def stop_replica(self) -> None:
        """A fault: the replica goes away (immediate shutdown)."""
        with self._lock:
            self._stop_server(self._replica)

    def start_replica(self) -> None:
        """Bring a stopped replica back and wait until it streams again."""
        with self._lock:
            if not self._replica.is_running():
                self._start_server(self._replica)
            if not self._replica.is_promoted():
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
        if self._replica.is_promoted():
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

    def stop(self) -> None:
        """Stop the write load and every server (immediate shutdown); safe to call twice."""
        with self._lock:
            self.stop_write_load()
            self._stop_server(self._other_standby)
            self._stop_server(self._replica)
            self._stop_server(self._primary)

    # --- bringing clusters up -------------------------------------------------------------------

    def _cluster(self, role: Role, port: int) -> _Cluster:
        return _Cluster(role, self._data_root / role, port, self._data_root / f"{role}.log")

    def _clusters(self) -> tuple[_Cluster, ...]:
        return (self._primary, self._replica, self._other_standby)

    def _standby(self, standby: Standby) -> _Cluster:
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

    def _build_and_start(self, cluster: _Cluster) -> None:
        self._build_standby(cluster)
        self._start_server(cluster)

    def _init_primary(self) -> None:
        primary = self._primary
        self._run_server_command(
            "initdb",
            ["-D", str(primary.data_dir), "-U", _SERVER_USER, "-A", "trust"],
            ["-E", "UTF8", "--locale=C", "--no-sync"],
        )
        settings = _SERVER_SETTINGS.format(host=self._endpoints.host, socket_dir=self._data_root)
        with (primary.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(settings)
        self._write_server_file(
            primary.data_dir / "pg_hba.conf", _PG_HBA.format(server_user=_SERVER_USER)
        )
        self._write_server_file(primary.data_dir / "node.conf", primary.node_settings())

    def _create_application_schema(self) -> None:
        from psycopg import sql

        create_role = sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
            sql.Identifier(APP_USER), sql.Literal(self._endpoints.password)
        )
        self._query(self._primary, create_role)
        self._query(
            self._primary,
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(APP_DBNAME), sql.Identifier(APP_USER)
            ),
        )
        self._query(self._primary, _ORDERS_TABLE, dbname=APP_DBNAME)
        self._query(self._primary, f"ALTER TABLE orders OWNER TO {APP_USER}", dbname=APP_DBNAME)
        self._query(self._primary, "CREATE EXTENSION pg_stat_statements")

    def _create_reader_and_slot(self) -> None:
        """A LOGIN role without pg_monitor, and the physical slot the watched replica uses."""
        from psycopg import sql

        create_role = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(READER_USER), sql.Literal(self._endpoints.password)
        )
        self._query(self._primary, create_role)
        slot = sql.SQL("SELECT pg_create_physical_replication_slot({})").format(
            sql.Literal(REPLICA_SLOT)
        )
        self._query(self._primary, slot)

    def _build_standby(self, cluster: _Cluster) -> None:
        """pg_basebackup -R; the watched replica also streams through its slot (-S)."""
        slot = ["-S", REPLICA_SLOT] if cluster is self._replica else []
        self._run_server_command(
            "pg_basebackup",
            ["-h", self._endpoints.host, "-p", str(self._primary.port), "-U", _SERVER_USER],
            ["-D", str(cluster.data_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync", *slot],
        )
        self._write_server_file(cluster.data_dir / "node.conf", cluster.node_settings())

    def _rebuild_replica(self) -> None:
        self._stop_server(self._replica)
        shutil.rmtree(self._replica.data_dir)
        self._build_standby(self._replica)
        self._start_server(self._replica)

    def _write_server_file(self, path: Path, text: str) -> None:
        path.write_text(text)
        if self._account is not None:
            os.chown(path, self._account.uid, self._account.gid)

    def _run_server_command(self, binary: str, *argument_groups: Sequence[str]) -> None:
        argv = [str(self._bindir / binary)] + [a for group in argument_groups for a in group]
        try:
            subprocess.run(
                argv,
                cwd=self._data_root,
                env=_server_environment(self._account),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_COMMAND_TIMEOUT_SECONDS,
                check=True,
                **self._account_options(),
            )
        except subprocess.CalledProcessError as error:
            raise SandboxError(
                f"{binary} failed (exit {error.returncode}):\n{error.stderr}"
            ) from None
        except subprocess.TimeoutExpired:
            raise SandboxError(
                f"{binary} did not finish in {_COMMAND_TIMEOUT_SECONDS:.0f} s"
            ) from None

    def _account_options(self) -> dict[str, Any]:
        return {} if self._account is None else self._account.popen_options()

    # --- starting and stopping servers ----------------------------------------------------------

    def _start_server(self, cluster: _Cluster) -> None:
        """Start the postmaster as our child, logging to its file, and wait until it answers."""
        with cluster.log_path.open("ab") as log:
            cluster.process = subprocess.Popen(
                [str(self._bindir / "postgres"), "-D", str(cluster.data_dir)],
                cwd=self._data_root,
                env=_server_environment(self._account),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._account_options(),
            )
        self._wait_until(
            lambda: self._accepts_connections(cluster),
            _START_TIMEOUT_SECONDS,
            f"PostgreSQL {cluster.role} did not come up on {self._endpoints.host}:{cluster.port}",
            cluster,
        )

    def _accepts_connections(self, cluster: _Cluster) -> bool:
        if not cluster.is_running():
            raise self._server_error(f"PostgreSQL {cluster.role} exited while starting", cluster)
        import psycopg

        try:
            self._admin_connection(cluster, "postgres").close()
        except psycopg.OperationalError:
            return False
        return True

    def _stop_server(self, cluster: _Cluster) -> None:
        """Immediate shutdown (SIGQUIT, as `pg_ctl -m immediate stop` sends) by PID, then reap."""
        process = cluster.process
        if process is None:
            return
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGQUIT)
            try:
                process.wait(timeout=_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        cluster.process = None

    def _wait_streaming(self, cluster: _Cluster, slot: str | None) -> None:
        """Until the standby streams (through `slot`, or through none) and has reported back."""
        from psycopg import sql

        query = sql.SQL(_STANDBY_STREAMING).format(sql.Literal(slot))
        self._wait_until(
            lambda: self._wal_nudged() and bool(self._query(cluster, query)),
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

    def _wal_nudged(self) -> bool:
        """Writes a little WAL on the primary, so an idle walsender has something to send.

        A standby reports its first end position only once WAL arrives; without this an idle
        primary leaves it waiting for a keepalive (about 10 s per standby).
        """
        self._query(self._primary, _NUDGE_WAL)
        return True

    def _wait_until(
        self, condition: Callable[[], bool], timeout: float, failure: str, cluster: _Cluster
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise self._server_error(f"{failure} within {timeout:.0f} s", cluster)
            time.sleep(_POLL_SECONDS)

    def _server_error(self, what: str, cluster: _Cluster) -> SandboxError:
        tail = _log_tail(cluster.log_path)
        return SandboxError(f"{what}; the end of {cluster.log_path}:\n{tail}")

    # --- SQL ------------------------------------------------------------------------------------

    def _admin_connection(self, cluster: _Cluster, dbname: str) -> psycopg.Connection[Any]:
        """A connection as the server account over the cluster's unix socket."""
        import psycopg

        conninfo = _conninfo(host=str(self._data_root), port=cluster.port, user=_SERVER_USER)
        return psycopg.connect(
            conninfo, dbname=dbname, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_SECONDS
        )

    def _query(self, cluster: _Cluster, query: Query, dbname: str = "postgres") -> Any:
        """Run one statement on a cluster and return the first column of its first row, if any."""
        import psycopg

        try:
            with self._admin_connection(cluster, dbname) as connection:
                cursor = connection.execute(query)
                row = cursor.fetchone() if cursor.description else None
        except psycopg.Error as error:
            where = f"{self._endpoints.host}:{cluster.port}"
            raise SandboxError(f"PostgreSQL {cluster.role} at {where}: {error}") from error
        return None if row is None else row[0]


# --- the write load ------------------------------------------------------------------------------


class _WriteLoad:
    """A thread inserting batches of orders on the primary at about a given rate."""

    def __init__(self, dsn: str, rows_per_second: int) -> None:
        self._dsn = dsn
        self._rows_per_tick = max(1, round(rows_per_second * _WRITE_LOAD_TICK_SECONDS))
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="postgres-write-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self._dsn, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_SECONDS
                ) as connection:
                    self._insert_until_stopped(connection)
            except psycopg.Error:
                self._stopping.wait(_WRITE_LOAD_RETRY_SECONDS)

    def _insert_until_stopped(self, connection: psycopg.Connection[Any]) -> None:
        next_tick = time.monotonic()
        while not self._stopping.is_set():
            connection.execute(_INSERT_ORDERS, (self._rows_per_tick,))
            next_tick += _WRITE_LOAD_TICK_SECONDS
            self._stopping.wait(max(0.0, next_tick - time.monotonic()))
