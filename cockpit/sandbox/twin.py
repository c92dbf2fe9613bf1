"""Two independent PostgreSQL servers on loopback, an old and a new, each with the application
database: what a cutover copies from and to, for checking that both hold the same data.

Nothing replicates between them; `copy_old_to_new` copies the old database over with
pg_dump | pg_restore, as a person moving a database does.
"""

from __future__ import annotations

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
from cockpit.sandbox.shared import free_port

Twin = Literal["old", "new"]

_PG_HBA = """\
# cockpit sandbox: trust for the server account locally, passwords over loopback
local   all           {server_user}                      trust
host    all           all             127.0.0.0/8        scram-sha-256
"""
# The reader reads every table, as a read-only checking role would.
_READER_GRANT = f"GRANT pg_read_all_data TO {READER_USER}"


@dataclass(frozen=True)
class TwinEndpoints(RoleDsns[Twin]):
    """Where the application role (and the read-only reader) reach each server."""

    host: str
    old_port: int
    new_port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    reader_user: str = READER_USER

    def port(self, server: Twin) -> int:
        return self.old_port if server == "old" else self.new_port


class TwinServers(ClusterGroup[TwinEndpoints]):
    """An old and a new server, unrelated to each other, run as this process's children."""

    def __init__(
        self, bindir: Path, account: ServerAccount | None, data_root: Path, endpoints: TwinEndpoints
    ) -> None:
        super().__init__(bindir, account, data_root, endpoints)
        self._old = self._cluster("old", endpoints.old_port, "old")
        self._new = self._cluster("new", endpoints.new_port, "new")

    @classmethod
    def create(cls, work_dir: Path, *, password: str, host: str = "127.0.0.1") -> TwinServers:
        """Initialise and start both servers, each with an empty application database; on
        failure nothing of them is left behind."""
        old_port = free_port(host)
        endpoints = TwinEndpoints(
            host=host,
            old_port=old_port,
            new_port=free_port_other_than(host, old_port),
            user=APP_USER,
            password=password,
            dbname=APP_DBNAME,
        )
        return cls._created(work_dir, endpoints)

    def copy_old_to_new(self) -> None:
        """The new application database dropped, made again and filled from the old one by
        `pg_dump -Fc | pg_restore` (owners and grants kept)."""
        with self._lock:
            self._query(self._new, f"DROP DATABASE IF EXISTS {APP_DBNAME} WITH (FORCE)")
            self._create_app_database(self._new)
            self._run_server_pipeline(
                ["pg_dump", *self._socket_options(self._old), "-Fc", APP_DBNAME],
                ["pg_restore", *self._socket_options(self._new), "-d", APP_DBNAME],
            )

    def _socket_options(self, cluster: Cluster) -> list[str]:
        return ["-h", str(self.data_root), "-p", str(cluster.port), "-U", SERVER_USER]

    # --- bringing them up -----------------------------------------------------------------------

    def _clusters(self) -> tuple[Cluster, ...]:
        return (self._old, self._new)

    def _bring_up(self) -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for made in [pool.submit(self._make_server, c) for c in self._clusters()]:
                made.result()

    def _make_server(self, cluster: Cluster) -> None:
        """initdb, start, the application role and its database, and the reader."""
        self._init_cluster(cluster, "", _PG_HBA.format(server_user=SERVER_USER))
        self._start_server(cluster)
        self._create_login_role(cluster, APP_USER, self._endpoints.password)
        self._create_app_database(cluster)
        self._create_login_role(cluster, READER_USER, self._endpoints.password)
        self._query(cluster, _READER_GRANT)
