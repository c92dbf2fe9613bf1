"""Running real PostgreSQL servers on loopback as this process's children: the part every
sandbox database shares (binaries, the server account, data folders, start, stop, SQL, load).
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
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from cockpit.sandbox.shared import SandboxError, free_port

if TYPE_CHECKING:
    import psycopg
    from psycopg.abc import Query

APP_USER = "cutover"
APP_DBNAME = "shop"
READER_USER = "cockpit_reader"
SERVER_USER = "postgres"
SERVER_BINARIES = ("initdb", "pg_basebackup", "postgres")
MISSING_BINARIES_MESSAGE = (
    "PostgreSQL server binaries not found (initdb, pg_ctl, pg_basebackup): "
    "install Debian's postgresql-15 package (apt-get install postgresql-15)"
)
DATA_ROOT_PREFIX = "cockpit-pg-"
CONNECT_TIMEOUT_SECONDS = 3

_PREFERRED_MAJOR = "15"
_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_SOCKET_PATH_LIMIT = 100
_START_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 10.0
_COMMAND_TIMEOUT_SECONDS = 120.0
_POLL_SECONDS = 0.05
_LOG_TAIL_LINES = 20
_WRITE_LOAD_TICK_SECONDS = 0.1
_WRITE_LOAD_RETRY_SECONDS = 0.5

_COMMON_SETTINGS = """
# cockpit sandbox: a throwaway server on loopback, tuned for speed over durability
listen_addresses = '{host}'
unix_socket_directories = '{socket_dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = '32MB'
"""
_NUDGE_WAL = "SELECT pg_logical_emit_message(false, 'cockpit', 'nudge')::text"


def conninfo_value(value: str) -> str:
    """A libpq key=value value, quoted when it holds spaces, quotes or backslashes."""
    if value and not any(c in value for c in " '\\"):
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def conninfo(**parts: str | int) -> str:
    """A libpq key=value connection string from the given keys, in order."""
    return " ".join(f"{key}={conninfo_value(str(value))}" for key, value in parts.items())


def dsn(host: str, port: int, user: str, dbname: str, password: str | None) -> str:
    """A TCP DSN for one role on one server; without the password when it is None."""
    secret = {} if password is None else {"password": password}
    return conninfo(host=host, port=port, user=user, **secret, dbname=dbname)


ServerName = TypeVar("ServerName", bound=str)


class RoleDsns(Generic[ServerName]):
    """The application role's and the reader's DSNs for each server of a group, by its name;
    mixed into a frozen dataclass that holds these attributes and knows each server's port."""

    host: str
    user: str
    password: str
    dbname: str
    reader_user: str

    def port(self, server: ServerName) -> int:
        raise NotImplementedError

    def dsn(self, server: ServerName) -> str:
        """The application role's DSN for one server, with the password."""
        return self._dsn(server, self.user, with_password=True)

    def without_password(self, server: ServerName) -> str:
        """The DSN for one server minus the password, for configs that read it from elsewhere."""
        return self._dsn(server, self.user, with_password=False)

    def reader_dsn(self, server: ServerName, *, with_password: bool = True) -> str:
        """The DSN of the LOGIN role without pg_monitor (same password) for one server."""
        return self._dsn(server, self.reader_user, with_password=with_password)

    def _dsn(self, server: ServerName, user: str, *, with_password: bool) -> str:
        password = self.password if with_password else None
        return dsn(self.host, self.port(server), user, self.dbname, password)


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
class ServerAccount:
    """The OS account the server commands run as (the server refuses to run as root)."""

    uid: int
    gid: int
    home: str

    @classmethod
    def for_this_process(cls) -> ServerAccount | None:
        """The `postgres` account when running as root; None to run as ourselves."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise SandboxError(
                f"running as root, the PostgreSQL server needs the '{SERVER_USER}' system "
                "user: install Debian's postgresql-15 package, or run as an unprivileged user"
            ) from None
        return cls(entry.pw_uid, entry.pw_gid, entry.pw_dir)

    def popen_options(self) -> dict[str, Any]:
        """Keyword arguments that make subprocess run a command as this account."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _server_environment(account: ServerAccount | None) -> dict[str, str]:
    """Our environment minus libpq's PG* variables (and with the account's home, if switching)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if account is not None:
        environment.update(HOME=account.home, USER=SERVER_USER, LOGNAME=SERVER_USER)
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


def make_data_root(work_dir: Path, account: ServerAccount | None) -> Path:
    """A fresh folder for a group's clusters, reachable by the server account, with a short path."""
    parent: Path | None = _shared_temp_dir() if account is not None else None
    if account is None:
        work_dir.mkdir(parents=True, exist_ok=True)
        parent = work_dir
    data_root = Path(tempfile.mkdtemp(prefix=DATA_ROOT_PREFIX, dir=parent))
    if len(str(data_root)) > _SOCKET_PATH_LIMIT - len("/.s.PGSQL.65535"):
        data_root.rmdir()
        data_root = Path(tempfile.mkdtemp(prefix=DATA_ROOT_PREFIX))
    if account is not None:
        os.chown(data_root, account.uid, account.gid)
    return data_root


def free_port_other_than(host: str, *taken_ports: int) -> int:
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
class Cluster:
    """One data directory and the postmaster running on it, if any."""

    role: str
    data_dir: Path
    port: int
    log_path: Path
    cluster_name: str = ""
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

    def node_settings(self) -> str:
        """Its port, and its cluster_name when it has one."""
        name = f"cluster_name = '{self.cluster_name}'\n" if self.cluster_name else ""
        return f"port = {self.port}\n{name}"


# --- a group of clusters -------------------------------------------------------------------------


Endpoints = TypeVar("Endpoints", bound=RoleDsns[Any])


class ClusterGroup(Generic[Endpoints]):
    """Clusters under one data root, run as this process's children by the server account."""

    def __init__(
        self, bindir: Path, account: ServerAccount | None, data_root: Path, endpoints: Endpoints
    ) -> None:
        self._bindir = bindir
        self._account = account
        self._data_root = data_root
        self._endpoints = endpoints
        self._host = endpoints.host
        self._lock = threading.RLock()
        self._write_load: WriteLoad | None = None

    @classmethod
    def _created(cls, work_dir: Path, endpoints: Endpoints) -> Self:
        """A group brought up in a fresh data root; on failure nothing of it is left behind."""
        bindir = find_server_bindir()
        account = ServerAccount.for_this_process()
        group = cls(bindir, account, make_data_root(work_dir, account), endpoints)
        group._bring_up_or_discard()
        return group

    @property
    def endpoints(self) -> Endpoints:
        return self._endpoints

    @property
    def data_root(self) -> Path:
        """The folder holding the clusters and their logs; the caller removes it after stop()."""
        return self._data_root

    def server_pids(self) -> dict[str, int]:
        """The postmaster PID of each running server."""
        pids = {c.role: c.postmaster_pid() for c in self._clusters()}
        return {role: pid for role, pid in pids.items() if pid is not None}

    def stop(self) -> None:
        """Stop the write load and every server (immediate shutdown); safe to call twice."""
        with self._lock:
            self.stop_write_load()
            for cluster in reversed(self._clusters()):
                self._stop_server(cluster)

    def stop_write_load(self) -> None:
        with self._lock:
            if self._write_load is not None:
                self._write_load.stop()
                self._write_load = None

    def _clusters(self) -> tuple[Cluster, ...]:
        """Every cluster of the group, the one to start first first."""
        raise NotImplementedError

    def _bring_up(self) -> None:
        raise NotImplementedError

    def _bring_up_or_discard(self) -> None:
        """Bring the group up; on failure stop what started and remove the data root."""
        try:
            self._bring_up()
        except BaseException:
            self.stop()
            shutil.rmtree(self._data_root, ignore_errors=True)
            raise

    def _start_write_load(self, dsn: str, rows_per_second: int, statement: str) -> None:
        with self._lock:
            if self._write_load is None:
                self._write_load = WriteLoad(dsn, rows_per_second, statement)
                self._write_load.start()

    # --- making clusters ------------------------------------------------------------------------

    def _cluster(self, role: str, port: int, cluster_name: str = "") -> Cluster:
        log_path = self._data_root / f"{role}.log"
        return Cluster(role, self._data_root / role, port, log_path, cluster_name)

    def _init_cluster(self, cluster: Cluster, settings: str, pg_hba: str) -> None:
        """initdb, then our settings (after the common ones), pg_hba.conf and node.conf."""
        self._run_server_command(
            "initdb",
            ["-D", str(cluster.data_dir), "-U", SERVER_USER, "-A", "trust"],
            ["-E", "UTF8", "--locale=C", "--no-sync"],
        )
        common = _COMMON_SETTINGS.format(host=self._host, socket_dir=self._data_root)
        with (cluster.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(common + settings + "include = 'node.conf'\n")
        self._write_server_file(cluster.data_dir / "pg_hba.conf", pg_hba)
        self._write_server_file(cluster.data_dir / "node.conf", cluster.node_settings())

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

    def _run_server_pipeline(self, writer: Sequence[str], reader: Sequence[str]) -> None:
        """`writer | reader`: two server binaries run as the server account, each given as its
        name and arguments; fails naming the one that failed, with its error output."""
        options: dict[str, Any] = {
            "cwd": self._data_root,
            "env": _server_environment(self._account),
        }
        options.update(self._account_options())
        with subprocess.Popen(
            [str(self._bindir / writer[0]), *writer[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **options,
        ) as first:
            finished = subprocess.run(
                [str(self._bindir / reader[0]), *reader[1:]],
                stdin=first.stdout,
                capture_output=True,
                timeout=_COMMAND_TIMEOUT_SECONDS,
                check=False,
                **options,
            )
            _, first_error = first.communicate(timeout=_COMMAND_TIMEOUT_SECONDS)
        for binary, code, error in (
            (writer[0], first.returncode, first_error),
            (reader[0], finished.returncode, finished.stderr),
        ):
            if code != 0:
                text = error.decode(errors="replace")
                raise SandboxError(f"{binary} failed (exit {code}):\n{text}")

    def _account_options(self) -> dict[str, Any]:
        return {} if self._account is None else self._account.popen_options()

    def _create_login_role(
        self, cluster: Cluster, user: str, password: str, attributes: str = ""
    ) -> None:
        """CREATE ROLE user LOGIN with a password and fixed `attributes` (e.g. SUPERUSER)."""
        from psycopg import sql

        statement = sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD {}").format(
            sql.Identifier(user), sql.SQL(attributes), sql.Literal(password)
        )
        self._query(cluster, statement)

    def _create_app_database(self, cluster: Cluster) -> None:
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(APP_DBNAME), sql.Identifier(APP_USER)
        )
        self._query(cluster, statement)

    # --- starting and stopping servers ----------------------------------------------------------

    def _start_server(self, cluster: Cluster) -> None:
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
            f"PostgreSQL {cluster.role} did not come up on {self._host}:{cluster.port}",
            cluster,
        )

    def _accepts_connections(self, cluster: Cluster) -> bool:
        if not cluster.is_running():
            raise self._server_error(f"PostgreSQL {cluster.role} exited while starting", cluster)
        import psycopg

        try:
            self._admin_connection(cluster, "postgres").close()
        except psycopg.OperationalError:
            return False
        return True

    def _stop_server(self, cluster: Cluster) -> None:
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

    def _wal_nudged(self, cluster: Cluster) -> bool:
        """Writes a little WAL on `cluster`, so an idle walsender has something to send.

        A receiver reports its first end position only once WAL arrives; without this an idle
        server leaves it waiting for a keepalive (about 10 s each).
        """
        self._query(cluster, _NUDGE_WAL)
        return True

    def _wait_until(
        self, condition: Callable[[], bool], timeout: float, failure: str, cluster: Cluster
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise self._server_error(f"{failure} within {timeout:.0f} s", cluster)
            time.sleep(_POLL_SECONDS)

    def _server_error(self, what: str, cluster: Cluster) -> SandboxError:
        tail = _log_tail(cluster.log_path)
        return SandboxError(f"{what}; the end of {cluster.log_path}:\n{tail}")

    # --- SQL ------------------------------------------------------------------------------------

    def _admin_connection(
        self, cluster: Cluster, dbname: str, *, autocommit: bool = True
    ) -> psycopg.Connection[Any]:
        """A connection as the server account over the cluster's unix socket."""
        import psycopg

        info = conninfo(host=str(self._data_root), port=cluster.port, user=SERVER_USER)
        return psycopg.connect(
            info, dbname=dbname, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )

    def _query(self, cluster: Cluster, query: Query, dbname: str = "postgres") -> Any:
        """Run one statement on a cluster and return the first column of its first row, if any."""
        return self._run(cluster, dbname, query)

    def _run(self, cluster: Cluster, dbname: str, *statements: Query) -> Any:
        """Run statements in turn on one connection (each its own transaction); the first
        column of the last one's first row, if any."""
        import psycopg

        row = None
        try:
            with self._admin_connection(cluster, dbname) as connection:
                for statement in statements:
                    cursor = connection.execute(statement)
                    row = cursor.fetchone() if cursor.description else None
        except psycopg.Error as error:
            where = f"{self._host}:{cluster.port}"
            raise SandboxError(f"PostgreSQL {cluster.role} at {where}: {error}") from error
        return None if row is None else row[0]


# --- the write load ------------------------------------------------------------------------------


class WriteLoad:
    """A thread running one insert statement (its one parameter: the number of rows) at about a
    given rate of rows per second."""

    def __init__(self, dsn: str, rows_per_second: int, statement: str) -> None:
        self._dsn = dsn
        self._statement = statement
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
                    self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
                ) as connection:
                    self._insert_until_stopped(connection)
            except psycopg.Error:
                self._stopping.wait(_WRITE_LOAD_RETRY_SECONDS)

    def _insert_until_stopped(self, connection: psycopg.Connection[Any]) -> None:
        next_tick = time.monotonic()
        while not self._stopping.is_set():
            connection.execute(self._statement, (self._rows_per_tick,))
            next_tick += _WRITE_LOAD_TICK_SECONDS
            self._stopping.wait(max(0.0, next_tick - time.monotonic()))
