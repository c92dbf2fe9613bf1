"""The PostgreSQL stand-in: a real primary and two standbys; lag, promotion, faults, stop."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cockpit.sandbox import pg_server
from cockpit.sandbox.pg_server import ClusterGroup
from cockpit.sandbox.postgres import READER_USER, REPLICA_SLOT, PostgresEndpoints, PostgresPair
from cockpit.sandbox.shared import SandboxError

# A space, a quote and a backslash prove the DSN quoting against a real server.
PASSWORD = "s3cret pass'wo\\rd"
WAIT_SECONDS = 30.0
ONE_MEGABYTE = 1024 * 1024


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until `condition` holds, failing the test after a generous bound."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def scalar(dsn: str, query: str) -> Any:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as connection:
        row = connection.execute(query).fetchone()
    assert row is not None
    return row[0]


def stop_and_remove(pair: ClusterGroup[Any]) -> None:
    try:
        pair.stop()
    finally:
        shutil.rmtree(pair.data_root, ignore_errors=True)


@pytest.fixture(scope="module")
def running_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresPair]:
    pair = PostgresPair.create(tmp_path_factory.mktemp("postgres"), password=PASSWORD)
    try:
        yield pair
    finally:
        stop_and_remove(pair)


@pytest.fixture
def pair(running_pair: PostgresPair) -> PostgresPair:
    """The module's pair, put back in its starting state for this test."""
    running_pair.reset()
    return running_pair


def standby_count(endpoints: PostgresEndpoints) -> int:
    query = "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
    return int(scalar(endpoints.primary_dsn, query))


def orders_count(dsn: str) -> int:
    return int(scalar(dsn, "SELECT count(*) FROM orders"))


def test_the_replica_is_in_recovery_and_streams_from_the_primary(pair: PostgresPair) -> None:
    endpoints = pair.endpoints
    assert scalar(endpoints.primary_dsn, "SELECT pg_is_in_recovery()") is False
    assert scalar(endpoints.replica_dsn, "SELECT pg_is_in_recovery()") is True
    assert scalar(endpoints.other_standby_dsn, "SELECT pg_is_in_recovery()") is True
    assert standby_count(endpoints) == 2
    wait_for(lambda: pair.replay_lag_bytes() == 0, "a caught-up replica")
    assert not pair.is_promoted()
    assert set(pair.server_pids()) == {"primary", "replica", "other_standby"}


def test_rows_written_on_the_primary_reach_the_replica(pair: PostgresPair) -> None:
    with psycopg.connect(pair.endpoints.primary_dsn, autocommit=True) as connection:
        connection.execute("INSERT INTO orders (payload) VALUES ('one'), ('two')")
    wait_for(lambda: orders_count(pair.endpoints.replica_dsn) == 2, "the replica to replay 2 rows")


def test_the_write_load_inserts_until_stopped(pair: PostgresPair) -> None:
    pair.start_write_load(rows_per_second=1000)
    pair.start_write_load(rows_per_second=1000)
    wait_for(lambda: orders_count(pair.endpoints.primary_dsn) > 0, "the write load to insert")
    pair.stop_write_load()
    rows_after_stop = orders_count(pair.endpoints.primary_dsn)
    time.sleep(0.3)
    assert orders_count(pair.endpoints.primary_dsn) == rows_after_stop


def test_paused_replay_builds_byte_lag_that_drains_after_resume(pair: PostgresPair) -> None:
    pair.pause_replay()
    assert pair.is_replay_paused()
    pair.start_write_load(rows_per_second=5000)
    wait_for(lambda: (pair.replay_lag_bytes() or 0) > ONE_MEGABYTE, "lag above 1 MB")
    pair.stop_write_load()
    pair.resume_replay()
    assert not pair.is_replay_paused()
    wait_for(lambda: pair.replay_lag_bytes() == 0, "lag back to 0 after resume")
    primary_rows = orders_count(pair.endpoints.primary_dsn)
    assert orders_count(pair.endpoints.replica_dsn) == primary_rows


def test_promotion_ends_recovery_and_reset_rebuilds_a_standby(pair: PostgresPair) -> None:
    replica_pid_before = pair.server_pids()["replica"]
    pair.promote()
    assert pair.is_promoted()
    assert scalar(pair.endpoints.replica_dsn, "SELECT pg_is_in_recovery()") is False
    assert pair.replay_lag_bytes() is None
    assert not pair.is_replay_paused()

    pair.reset()
    assert not pair.is_promoted()
    assert scalar(pair.endpoints.replica_dsn, "SELECT pg_is_in_recovery()") is True
    assert pair.server_pids()["replica"] != replica_pid_before
    wait_for(lambda: pair.replay_lag_bytes() == 0, "the rebuilt replica to catch up")


def test_reset_puts_back_paused_replay_and_load(pair: PostgresPair) -> None:
    pair.pause_replay()
    pair.start_write_load()
    pair.reset()
    assert not pair.is_replay_paused()
    assert orders_count(pair.endpoints.primary_dsn) == 0
    wait_for(lambda: pair.replay_lag_bytes() == 0, "a caught-up replica after reset")


def test_a_stopped_replica_leaves_and_comes_back_as_a_standby(pair: PostgresPair) -> None:
    pair.stop_replica()
    pair.stop_replica()
    assert "replica" not in pair.server_pids()
    assert pair.replay_lag_bytes() is None
    assert standby_count(pair.endpoints) == 1
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pair.endpoints.replica_dsn, connect_timeout=3)

    pair.start_replica()
    assert "replica" in pair.server_pids()
    assert standby_count(pair.endpoints) == 2
    assert scalar(pair.endpoints.replica_dsn, "SELECT pg_is_in_recovery()") is True
    assert pair.replay_lag_bytes() is not None


def test_the_application_role_needs_its_password(pair: PostgresPair) -> None:
    endpoints = pair.endpoints
    assert scalar(endpoints.primary_dsn, "SELECT current_user") == "cutover"
    assert scalar(endpoints.replica_dsn, "SELECT current_database()") == "shop"
    bare_dsn = endpoints.without_password("replica")
    assert "password" not in bare_dsn
    with psycopg.connect(bare_dsn, password=PASSWORD, connect_timeout=3) as connection:
        assert connection.info.port == endpoints.replica_port
    with pytest.raises(psycopg.OperationalError, match="authentication"):
        psycopg.connect(bare_dsn, password="wrong", connect_timeout=3)


def test_dsns_quote_the_password_and_hide_it_from_repr() -> None:
    endpoints = PostgresEndpoints("127.0.0.1", 5432, 5433, "cutover", PASSWORD, "shop")
    parsed = psycopg.conninfo.conninfo_to_dict(endpoints.primary_dsn)
    assert parsed == {
        "host": "127.0.0.1",
        "port": "5432",
        "user": "cutover",
        "password": PASSWORD,
        "dbname": "shop",
    }
    assert "password" not in psycopg.conninfo.conninfo_to_dict(
        endpoints.without_password("primary")
    )
    assert PASSWORD not in repr(endpoints)


def test_stop_ends_both_postmasters_and_is_idempotent(tmp_path: Path) -> None:
    pair = PostgresPair.create(tmp_path, password=PASSWORD)
    try:
        pids = pair.server_pids()
        assert set(pids) == {"primary", "replica", "other_standby"}
        pair.start_write_load()
        pair.stop()
        for pid in pids.values():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        pair.stop()
        assert pair.server_pids() == {}
    finally:
        stop_and_remove(pair)


def test_missing_binaries_name_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_server, "server_bindir_candidates", lambda: [tmp_path])
    with pytest.raises(SandboxError, match="postgresql-15"):
        PostgresPair.create(tmp_path / "work", password=PASSWORD)


def test_a_port_in_use_fails_with_the_log_and_leaves_nothing(tmp_path: Path) -> None:
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", 0))
        occupant.listen()
        busy_port = occupant.getsockname()[1]
        with pytest.raises(SandboxError, match="PostgreSQL primary") as caught:
            PostgresPair.create(tmp_path, password=PASSWORD, primary_port=busy_port)
    message = str(caught.value)
    assert "Address already in use" in message
    log_path = re.search(r"the end of (\S+):", message)
    assert log_path is not None
    assert not Path(log_path.group(1)).parent.exists()


# --- two standbys that look alike, and a role without pg_monitor ---------------------------------

STANDBYS_SQL = (
    "SELECT r.application_name, s.slot_name FROM pg_stat_replication AS r"
    " LEFT JOIN pg_replication_slots AS s ON s.active_pid = r.pid ORDER BY s.slot_name"
)
REPLAY_LSN = "SELECT pg_last_wal_replay_lsn()::text"


def standbys_seen(endpoints: PostgresEndpoints) -> list[tuple[str, str | None]]:
    with psycopg.connect(endpoints.primary_dsn, autocommit=True, connect_timeout=3) as connection:
        return [(row[0], row[1]) for row in connection.execute(STANDBYS_SQL).fetchall()]


def test_both_standbys_keep_the_default_name_and_only_the_slot_tells_them_apart(
    pair: PostgresPair,
) -> None:
    assert standbys_seen(pair.endpoints) == [("walreceiver", REPLICA_SLOT), ("walreceiver", None)]
    assert scalar(pair.endpoints.replica_dsn, "SHOW primary_slot_name") == REPLICA_SLOT
    assert scalar(pair.endpoints.other_standby_dsn, "SHOW primary_slot_name") == ""


def test_the_replica_streams_without_its_slot_until_reset(pair: PostgresPair) -> None:
    pair.stream_without_slot()
    assert not pair.uses_slot()
    wait_for(
        lambda: standbys_seen(pair.endpoints) == [("walreceiver", None), ("walreceiver", None)],
        "two standbys without a slot",
    )
    pair.reset()
    assert pair.uses_slot()
    assert standbys_seen(pair.endpoints) == [("walreceiver", REPLICA_SLOT), ("walreceiver", None)]


def test_the_other_standby_pauses_alone_and_reset_resumes_it(pair: PostgresPair) -> None:
    endpoints = pair.endpoints
    pair.pause_replay("other_standby")
    assert pair.is_replay_paused("other_standby")
    assert not pair.is_replay_paused("replica")
    frozen_at = scalar(endpoints.other_standby_dsn, REPLAY_LSN)
    with psycopg.connect(endpoints.primary_dsn, autocommit=True) as connection:
        connection.execute("INSERT INTO orders (payload) VALUES ('one')")
    wait_for(lambda: orders_count(endpoints.replica_dsn) == 1, "the replica to replay the row")
    assert scalar(endpoints.other_standby_dsn, REPLAY_LSN) == frozen_at

    pair.reset()
    assert not pair.is_replay_paused("other_standby")
    wait_for(lambda: orders_count(endpoints.other_standby_dsn) == 0, "the other standby replays")


def test_the_reader_logs_in_but_sees_no_replication_details(pair: PostgresPair) -> None:
    endpoints = pair.endpoints
    reader_dsn = endpoints.reader_dsn("primary")
    assert scalar(reader_dsn, "SELECT current_user") == READER_USER
    assert scalar(reader_dsn, "SELECT pg_has_role('pg_monitor', 'USAGE')") is False
    hidden = "SELECT count(*) FROM pg_stat_replication WHERE pid IS NOT NULL AND state IS NULL"
    assert scalar(reader_dsn, hidden) == 2
    assert scalar(endpoints.reader_dsn("replica"), "SELECT pg_is_in_recovery()") is True
    assert "password" not in endpoints.reader_dsn("replica", with_password=False)
