"""Replication sources: classification and catch-up maths on recorded data, then the real sandbox.

The PostgreSQL source is checked against pg_wal_lsn_diff and friends queried directly in the
same test; the RDS source against boto3 calls to the sandbox's moto and datapoints put there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import boto3
import psycopg
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from cockpit.clock import FrozenClock
from cockpit.config import (
    Config,
    PostgresReplication,
    RdsReplication,
    ReplicationSection,
    load_config,
)
from cockpit.io.context import AwsClients, SourceContext
from cockpit.io.rds import RdsInstance, parse_instance
from cockpit.live.poller import poll_once
from cockpit.model import Reading, SignalKind, Status
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sources.base import Schedule
from cockpit.sources.replication import build_replication_sources
from cockpit.sources.replication_postgres import (
    LagHistory,
    Observation,
    PostgresReplicationSource,
    PrimaryView,
    ReplicaView,
    StandbyIdentity,
    StandbyRow,
    WalQuietTracker,
    WriteMarkers,
    catchup_eta_seconds,
    catchup_rate,
    classify,
    lsn_bytes,
    lsn_diff_bytes,
    match_standby,
    parse_primary_rows,
    parse_replica_row,
    reading_values,
    server_text,
    wal_receiver_name,
)
from cockpit.sources.replication_rds import LagDatapoint, RdsReplicationSource, latest_datapoint
from cockpit.sources.replication_rds import classify as classify_rds

T = TypeVar("T")
START = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)

# --- recorded payloads (from the sandbox's PostgreSQL 15 and moto) --------------------------------

PRIMARY_ROWS_STREAMING = [
    (
        *("0/3000000", "745", 1200, 3, "cutover", 4242, "replica", "127.0.0.1", None),
        *("streaming", "async", 0.0012, 0.0015, 0.0021, 0),
    ),
]
PRIMARY_ROWS_NO_STANDBY = [("0/3000000", "745", 1200, 3, "cutover", *(None,) * 10)]
# As a role without pg_monitor sees two default-named standbys, one on a slot.
HIDDEN_PREFIX = ("0/3000000", "745", 1200, 3, "cockpit_reader")
PRIMARY_ROWS_HIDDEN = [
    (*HIDDEN_PREFIX, 4242, "walreceiver", None, "cockpit_replica", *(None,) * 6),
    (*HIDDEN_PREFIX, 4243, "walreceiver", None, None, *(None,) * 6),
]
WAL_RECEIVER_CONNINFO = (
    "user=postgres passfile=/var/lib/postgresql/.pgpass channel_binding=prefer dbname=replication"
    " host=127.0.0.1 port=51149 fallback_application_name=replica sslmode=prefer"
)
REPLICA_ROW = (True, "0/3000000", "0/3000000", False, 104.2, WAL_RECEIVER_CONNINFO, None, True)
REPLICA_ROW_PROMOTED = (False, "0/3000000", "0/3000148", None, 12.5, None, None, False)
REPLICA_ROW_HIDDEN = (True, "0/3000000", "0/2FFF000", False, 3.0, None, "cockpit_replica", True)

MOTO_REPLICA = {
    "DBInstances": [
        {
            "DBInstanceIdentifier": "shop-db-replica",
            "DBInstanceStatus": "available",
            "ReadReplicaSourceDBInstanceIdentifier": "shop-db",
            "ReadReplicaDBInstanceIdentifiers": [],
        }
    ]
}
# Real AWS after promote_read_replica: the source link is gone (moto keeps it).
AWS_PROMOTED = {
    "DBInstances": [
        {
            "DBInstanceIdentifier": "shop-db-replica",
            "DBInstanceStatus": "available",
            "ReadReplicaDBInstanceIdentifiers": [],
        }
    ]
}
AWS_PRIMARY_WITH_REPLICA = {
    "DBInstances": [
        {
            "DBInstanceIdentifier": "shop-db",
            "DBInstanceStatus": "available",
            "ReadReplicaDBInstanceIdentifiers": ["shop-db-replica"],
        }
    ]
}


REPLICA_REPLAY_LSN = "0/3000000"


def standby(**changes: Any) -> StandbyRow:
    row = StandbyRow("replica", "streaming", "async", 0.001, 0.001, 0.002, pid=4242)
    return replace(row, **changes)


def replica_view(**changes: Any) -> ReplicaView:
    view = ReplicaView(True, REPLICA_REPLAY_LSN, REPLICA_REPLAY_LSN, False, 5.0, "replica")
    return replace(view, **changes)


def lsn_ahead_by(lag_bytes: int) -> str:
    """The primary's LSN when it is `lag_bytes` ahead of the replica's replay position."""
    position = 0x3000000 + lag_bytes
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def observed(*standbys: StandbyRow, lag_bytes: int = 0, **changes: Any) -> Observation:
    primary = PrimaryView(lsn_ahead_by(lag_bytes), standbys, role_name="cutover")
    base = Observation(primary=primary, replica=replica_view())
    return replace(base, **changes)


# --- PostgreSQL: parsing --------------------------------------------------------------------------


def test_primary_rows_parse_into_standbys_and_no_standby_is_an_empty_tuple() -> None:
    view = parse_primary_rows(PRIMARY_ROWS_STREAMING)
    assert view.wal_lsn == "0/3000000"
    assert (view.next_xid, view.role_name) == ("745", "cutover")
    assert view.write_marker == WriteMarkers("745", rows_written=1200, maintenance_runs=3)
    assert view.standbys == (
        StandbyRow(
            "replica", "streaming", "async", 0.0012, 0.0015, 0.0021, 0, "127.0.0.1", pid=4242
        ),
    )
    assert parse_primary_rows(PRIMARY_ROWS_NO_STANDBY).standbys == ()


def test_hidden_rows_keep_name_and_slot_and_say_they_are_hidden() -> None:
    view = parse_primary_rows(PRIMARY_ROWS_HIDDEN)
    assert [(s.application_name, s.slot_name, s.details_hidden) for s in view.standbys] == [
        ("walreceiver", "cockpit_replica", True),
        ("walreceiver", None, True),
    ]
    assert parse_replica_row(REPLICA_ROW_HIDDEN).slot_name == "cockpit_replica"


def test_replica_row_parses_and_names_its_wal_receiver() -> None:
    view = parse_replica_row(REPLICA_ROW)
    assert view == ReplicaView(
        True, "0/3000000", "0/3000000", False, 104.2, "replica", None, wal_receiver_running=True
    )
    promoted = parse_replica_row(REPLICA_ROW_PROMOTED)
    assert (promoted.in_recovery, promoted.replay_paused, promoted.wal_receiver_name) == (
        False,
        None,
        None,
    )


def test_wal_receiver_name_prefers_an_explicit_application_name() -> None:
    assert wal_receiver_name("host=a application_name=dr fallback_application_name=x") == "dr"
    assert wal_receiver_name(WAL_RECEIVER_CONNINFO) == "replica"
    assert wal_receiver_name(None) is None
    assert wal_receiver_name("not a conninfo ===") is None


def test_server_text_is_one_short_printable_line() -> None:
    assert server_text("wal\x1b[31mreceiver\n  two") == "wal\\x1b[31mreceiver two"
    assert server_text(None) is None
    assert len(server_text("x" * 500) or "") == 120


def test_lsn_diff_is_bytes_and_never_negative() -> None:
    assert lsn_diff_bytes("1/0", "0/FFFFFFFF") == 1
    assert lsn_diff_bytes("0/3000000", "0/3000100") == 0
    assert lsn_diff_bytes(None, "0/0") is None
    assert lsn_diff_bytes("junk", "0/0") is None


NONE = StandbyIdentity()


def test_match_prefers_the_config_then_the_replicas_slot_then_its_name() -> None:
    ours = standby(application_name="walreceiver", slot_name="s1", client_addr="10.0.0.9")
    other = standby(application_name="walreceiver", client_addr="10.0.0.7")
    backup = standby(state="backup")
    rows = [other, ours, backup]
    by_addr = match_standby(rows, StandbyIdentity(client_addr="10.0.0.9"), None)
    assert by_addr.standby is ours
    assert match_standby(rows, NONE, replica_view(slot_name="s1")).standby is ours
    by_name = match_standby(rows, NONE, replica_view(wal_receiver_name="walreceiver"))
    assert (by_name.standby, by_name.ambiguous, len(by_name.candidates)) == (None, True, 2)
    assert match_standby([backup, other], NONE, None).standby is other
    assert match_standby([], NONE, replica_view()).standby is None


def test_a_named_key_the_role_cannot_see_still_leaves_the_choice_open() -> None:
    hidden = parse_primary_rows(PRIMARY_ROWS_HIDDEN).standbys
    by_addr = match_standby(hidden, StandbyIdentity(client_addr="10.0.0.9"), None)
    assert by_addr.ambiguous
    by_slot = match_standby(hidden, StandbyIdentity(slot_name="cockpit_replica"), None)
    assert by_slot.standby is hidden[0]


# --- PostgreSQL: classification -------------------------------------------------------------------


def test_caught_up_is_ok_and_an_idle_primary_is_not_lag() -> None:
    assert classify(observed(standby())) == (Status.OK, "caught up")
    idle = observed(standby(), replica=replica_view(seconds_since_last_replay=250.0))
    assert classify(idle) == (
        Status.OK,
        "caught up; no recent transactions (last replay 4m ago)",
    )
    fresh = observed(standby(), replica=replica_view(seconds_since_last_replay=None))
    assert classify(fresh) == (Status.OK, "caught up; no transactions replayed yet")


def test_small_lag_while_streaming_is_ok_with_rate_and_eta() -> None:
    behind = observed(standby(), lag_bytes=12_000, catchup_bytes_per_second=3_000.0)
    assert classify(behind) == (
        Status.OK,
        "streaming, 11.7 KiB behind (replay lag 0.0 s), catching up at 2.9 KiB/s, ETA 4s",
    )
    assert reading_values(behind)["catchup_eta_seconds"] == 4.0


def test_lag_warns_over_16_mib_or_10_seconds_and_says_when_falling_behind() -> None:
    big = observed(standby(), lag_bytes=20 * 1024**2, catchup_bytes_per_second=-1e6)
    status, detail = classify(big)
    assert status is Status.WARN
    assert detail == (
        "streaming, 20.0 MiB behind (replay lag 0.0 s), falling behind at 976.6 KiB/s (over 16 MiB)"
    )
    slow = observed(standby(replay_lag_seconds=12.0), lag_bytes=100)
    assert classify(slow)[0] is Status.WARN
    assert "catch-up rate not known yet" in classify(slow)[1]


@pytest.mark.parametrize(
    ("row", "lag_bytes", "expected"),
    [
        (standby(state="catchup"), 5000, "standby is catchup, not streaming"),
        (standby(), 2 * 1024**3, "streaming, 2.0 GiB behind"),
    ],
)
def test_not_streaming_or_over_a_gib_is_critical(
    row: StandbyRow, lag_bytes: int, expected: str
) -> None:
    status, detail = classify(observed(row, lag_bytes=lag_bytes))
    assert status is Status.CRITICAL
    assert detail.startswith(expected)


def test_replay_paused_warns_even_when_caught_up() -> None:
    paused = observed(standby(), replica=replica_view(replay_paused=True))
    assert classify(paused) == (Status.WARN, "replay paused, 0 B behind")


def test_lag_comes_from_the_replicas_own_lsn_not_another_standbys_row() -> None:
    other = standby(application_name="walreceiver", replay_lag_bytes=0)
    ours = standby(application_name="walreceiver", slot_name="s1")
    watched = replica_view(slot_name="s1", replay_paused=True)
    reading = observed(other, ours, lag_bytes=2_000_000, replica=watched)
    assert reading.standby is ours
    assert classify(reading) == (Status.WARN, "replay paused, 1.9 MiB behind")
    values = reading_values(reading)
    assert values["replay_lag_bytes"] == 2_000_000
    assert values["standby_named_by"] == "the replica's primary_slot_name 's1'"


def test_two_standbys_that_could_be_the_replica_are_unknown_and_named() -> None:
    twins = (standby(application_name="walreceiver"), standby(application_name="walreceiver"))
    watched = replica_view(wal_receiver_name="walreceiver")
    reading = observed(*twins, lag_bytes=1_900_000, replica=watched)
    status, detail = classify(reading)
    assert status is Status.UNKNOWN
    assert detail.startswith("cannot tell which standby is the replica: 2 could be it")
    assert "set replication.postgres.standby_slot_name" in detail
    assert "the replica's own LSNs say 1.8 MiB behind" in detail
    values = reading_values(reading)
    assert (values["standby_ambiguous"], values["replay_lag_bytes"]) == (True, 1_900_000)


def test_a_role_without_pg_monitor_reads_the_lag_and_is_told_the_grant() -> None:
    primary = parse_primary_rows(PRIMARY_ROWS_HIDDEN)
    replica = parse_replica_row(REPLICA_ROW_HIDDEN)
    status, detail = classify(Observation(primary, replica))
    assert status is Status.WARN
    assert detail.startswith("connected, 4.0 KiB behind")
    assert detail.endswith(
        "role cockpit_reader cannot see replication details: GRANT pg_monitor TO cockpit_reader"
    )
    caught_up = Observation(primary, replace(replica, replay_lsn="0/3000000"))
    assert classify(caught_up)[1].startswith("caught up;")
    assert reading_values(caught_up)["role_lacks_pg_monitor"] is True


def test_replica_in_recovery_without_a_standby_row_is_critical() -> None:
    assert classify(observed()) == (Status.CRITICAL, "replica not connected to the primary")
    no_receiver = observed(replica=replica_view(wal_receiver_running=False))
    assert classify(no_receiver)[1].endswith("; the replica's WAL receiver is not running")
    named = observed(standby(client_addr="10.0.0.7"), identity=StandbyIdentity(slot_name="gone"))
    assert classify(named) == (
        Status.CRITICAL,
        "replica not connected to the primary (nothing matches standby_slot_name = 'gone';"
        " the primary streams to replica from 10.0.0.7)",
    )


def test_promoted_replica_is_ok_and_warns_when_the_old_primary_is_still_written() -> None:
    promoted = observed(replica=replica_view(in_recovery=False, replay_paused=None))
    assert classify(promoted) == (Status.OK, "promoted: no longer replicating (left recovery)")
    assert reading_values(promoted)["promoted"] is True
    still_written = replace(promoted, primary_quiet_seconds=0.0)
    status, detail = classify(still_written)
    assert status is Status.WARN
    assert "a transaction wrote to the old primary since the last poll" in detail
    primary_gone = replace(promoted, primary=None, primary_error="connection refused")
    assert classify(primary_gone) == (
        Status.OK,
        "promoted: no longer replicating (left recovery); old primary unreadable "
        "(connection refused)",
    )


def test_one_end_failing_keeps_the_other_ends_values() -> None:
    replica_down = observed(replica=None, replica_error="connection refused")
    assert classify(replica_down) == (
        Status.CRITICAL,
        "cannot read the replica (connection refused); the primary has no standby connected",
    )
    values = reading_values(replica_down)
    assert values["primary_wal_lsn"] == "0/3000000"
    assert values["in_recovery"] is None
    assert values["promoted"] is False
    still_streaming = replace(replica_down, primary=PrimaryView("0/3000000", (standby(),)))
    assert classify(still_streaming)[1].endswith("the primary streams to replica streaming")
    assert classify(still_streaming)[0] is Status.UNKNOWN
    primary_down = observed(primary=None, primary_error="timeout after 1.6 s")
    assert classify(primary_down) == (
        Status.UNKNOWN,
        "cannot read the primary (timeout after 1.6 s); replica in recovery, replaying up to "
        "0/3000000",
    )
    assert reading_values(primary_down)["replay_lag_bytes"] is None


# --- PostgreSQL: catch-up rate, ETA and quiet time on a frozen clock ------------------------------


def test_catchup_rate_is_the_least_squares_slope_and_eta_follows() -> None:
    clock = FrozenClock(START)
    history = LagHistory()
    for lag in (10_000_000, 9_000_000, 8_000_000, 7_000_000):
        history.add(clock(), lag)
        clock.advance(1.0)
    assert history.rate_bytes_per_second() == pytest.approx(1_000_000.0)
    assert catchup_eta_seconds(7_000_000, 1_000_000.0) == pytest.approx(7.0)
    assert catchup_eta_seconds(0, None) == 0.0
    assert catchup_eta_seconds(5, -3.0) is None
    assert catchup_eta_seconds(None, 3.0) is None


def test_growing_lag_gives_a_negative_rate_and_one_point_none() -> None:
    assert catchup_rate([(0.0, 100)]) is None
    assert catchup_rate([(0.0, 100), (0.0, 200)]) is None
    assert catchup_rate([(0.0, 0), (1.0, 500_000), (2.0, 1_000_000)]) == pytest.approx(-500_000)


def test_rate_turns_positive_as_soon_as_the_lag_turns_down() -> None:
    rising_then_drop = [(0.0, 1_000), (1.0, 2_000), (2.0, 3_000), (3.0, 4_000), (4.0, 2_000)]
    assert catchup_rate(rising_then_drop) == pytest.approx(2_000.0)
    settled = [*rising_then_drop, (5.0, 2_000)]
    assert catchup_rate(settled) == pytest.approx(1_000.0)
    assert catchup_rate([(0.0, 0), (1.0, 0), (2.0, 0)]) == 0.0


def test_history_forgets_points_older_than_30_seconds() -> None:
    clock = FrozenClock(START)
    history = LagHistory()
    history.add(clock(), 50_000_000)
    clock.advance(40.0)
    history.add(clock(), 2_000)
    clock.advance(1.0)
    history.add(clock(), 1_000)
    assert history.rate_bytes_per_second() == pytest.approx(1_000.0)


def test_quiet_tracker_counts_from_the_first_poll_that_saw_the_lsn() -> None:
    clock = FrozenClock(START)
    tracker = WalQuietTracker()
    assert tracker.observe("0/100", clock()) is None
    assert tracker.observe("0/100", clock.advance(2.0)) == 2.0
    assert tracker.observe("0/200", clock.advance(1.0)) == 0.0
    assert tracker.observe(None, clock.advance(1.0)) is None
    assert tracker.observe("0/200", clock.advance(1.0)) == 2.0


def test_quiet_means_no_client_writes_not_an_autoanalyze() -> None:
    clock = FrozenClock(START)
    tracker = WalQuietTracker()
    assert tracker.observe(WriteMarkers("700", 50, 1), clock()) is None
    autoanalyze = WriteMarkers("701", 50, 2)
    assert tracker.observe(autoanalyze, clock.advance(2.0)) == 2.0
    assert tracker.observe(WriteMarkers("702", 50, 2), clock.advance(1.0)) == 0.0
    rows_reported_late = WriteMarkers("702", 51, 2)
    assert tracker.observe(rows_reported_late, clock.advance(1.0)) == 1.0
    rows_with_an_analyze = WriteMarkers("704", 60, 3)
    assert tracker.observe(rows_with_an_analyze, clock.advance(1.0)) == 0.0
    assert tracker.observe(WriteMarkers("704", 60, 3), clock.advance(1.0)) == 1.0


# --- RDS: parsing and classification --------------------------------------------------------------


def test_rds_instance_parse_for_a_replica_and_after_a_real_promotion() -> None:
    assert parse_instance(MOTO_REPLICA) == RdsInstance("shop-db-replica", "available", "shop-db")
    promoted = parse_instance(AWS_PROMOTED)
    assert not promoted.is_replica
    lag = LagDatapoint(0.0, START)
    assert classify_rds(promoted, lag, None, START) == (
        Status.OK,
        "promoted: no longer a read replica (status available)",
    )


def test_rds_primary_configured_by_mistake_warns() -> None:
    status, detail = classify_rds(parse_instance(AWS_PRIMARY_WITH_REPLICA), None, None, START)
    assert status is Status.WARN
    assert "not a read replica but the source of shop-db-replica" in detail


def test_latest_datapoint_takes_the_newest_timestamp_not_the_first() -> None:
    response = {
        "MetricDataResults": [
            {
                "Id": "replica_lag",
                "Timestamps": [START, START + timedelta(minutes=2), START + timedelta(minutes=1)],
                "Values": [1.0, 7.5, 3.0],
            }
        ]
    }
    assert latest_datapoint(response) == LagDatapoint(7.5, START + timedelta(minutes=2))
    empty = {"MetricDataResults": [{"Id": "replica_lag", "Timestamps": [], "Values": []}]}
    assert latest_datapoint(empty) is None


@pytest.mark.parametrize(
    ("status", "lag_seconds", "expected_status", "expected_in_detail"),
    [
        ("available", 2.0, Status.OK, "replica of shop-db; ReplicaLag 2.0 s; byte lag not exposed"),
        ("available", 12.0, Status.WARN, "ReplicaLag 12.0 s, over 10 s"),
        ("available", -1.0, Status.CRITICAL, "replication is not running"),
        ("available", None, Status.UNKNOWN, "no ReplicaLag datapoints in the last 5 min"),
        ("modifying", 1.0, Status.WARN, "status modifying; replica of shop-db"),
        ("modifying", None, Status.UNKNOWN, "status modifying"),
    ],
)
def test_rds_classification(
    status: str,
    lag_seconds: float | None,
    expected_status: Status,
    expected_in_detail: str,
) -> None:
    instance = RdsInstance("shop-db-replica", status, "shop-db")
    lag = None if lag_seconds is None else LagDatapoint(lag_seconds, START)
    verdict, detail = classify_rds(instance, lag, None, START + timedelta(seconds=30))
    assert verdict is expected_status
    assert expected_in_detail in detail


def test_rds_old_datapoint_says_its_age() -> None:
    instance = RdsInstance("shop-db-replica", "available", "shop-db")
    lag = LagDatapoint(0.0, START)
    detail = classify_rds(instance, lag, None, START + timedelta(minutes=4))[1]
    assert "ReplicaLag 0.0 s (newest datapoint 4m old)" in detail


# --- building -------------------------------------------------------------------------------------


def with_replication(config: Config, section: ReplicationSection | None) -> Config:
    return config.model_copy(update={"replication": section})


def test_build_returns_the_configured_backend_or_nothing(running_sandbox: SandboxHandle) -> None:
    config = load_config(running_sandbox.config_path)
    [postgres] = build_replication_sources(SourceContext(config, {}))
    assert isinstance(postgres, PostgresReplicationSource)
    assert (postgres.signal_ids, postgres.kind) == (("replication",), SignalKind.REPLICATION)
    rds_section = ReplicationSection(rds=RdsReplication(replica_instance_id="shop-db-replica"))
    [rds] = build_replication_sources(SourceContext(with_replication(config, rds_section), {}))
    assert isinstance(rds, RdsReplicationSource)
    assert build_replication_sources(SourceContext(with_replication(config, None), {})) == []


# --- PostgreSQL against the sandbox ---------------------------------------------------------------


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 30.0, every: float = 0.2
) -> T:
    """Awaits probe() until it returns something truthy; fails with the last value otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: T | None = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {within} s (last value {last!r})")


def sandbox_context(sandbox: SandboxHandle, **environ: str) -> SourceContext:
    env = {**os.environ, **sandbox.env, **environ}
    return SourceContext(load_config(sandbox.config_path), environ=env)


@pytest.fixture
async def source(sandbox: SandboxHandle) -> AsyncIterator[PostgresReplicationSource]:
    """The configured PostgreSQL source, with the password from the sandbox's env var."""
    [built] = build_replication_sources(sandbox_context(sandbox))
    assert isinstance(built, PostgresReplicationSource)
    yield built
    await built.close()


def direct(sandbox: SandboxHandle, end: str, sql: str) -> Any:
    """One value queried straight from one end, independently of the source."""
    with psycopg.connect(sandbox.info["postgres"][f"{end}_dsn"], autocommit=True) as connection:
        row = connection.execute(sql).fetchone()
    return None if row is None else row[0]


def run_sql(sandbox: SandboxHandle, end: str, sql: str) -> None:
    """A statement run straight on one end, for its effect."""
    with psycopg.connect(sandbox.info["postgres"][f"{end}_dsn"], autocommit=True) as connection:
        connection.execute(sql)


def direct_lag_bytes(sandbox: SandboxHandle, standby: str = "replica") -> int:
    """The truth: the primary's WAL position now minus the replay position the standby gives."""
    replay_lsn = direct(sandbox, standby, "SELECT pg_last_wal_replay_lsn()::text")
    sql = f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{replay_lsn}')::bigint"
    return cast(int, direct(sandbox, "primary", sql))


def slot_streaming(sandbox: SandboxHandle) -> bool:
    """Whether the primary streams to a standby through the replica's slot."""
    slot = sandbox.info["postgres"]["replica_slot"]
    sql = f"SELECT count(*) > 0 FROM pg_replication_slots WHERE slot_name = '{slot}' AND active"
    return bool(direct(sandbox, "primary", sql))


async def read_one(source: PostgresReplicationSource) -> Reading:
    [reading] = await source.read()
    assert reading.signal_id == "replication"
    return reading


def replay_between(reading: Reading, before: str, after: str) -> bool:
    """The reading's replay position lies between two the test read around it.

    Background WAL (checkpoints, standby snapshots) moves replay on between the reads.
    """
    position = lsn_bytes(str(reading.values["replay_lsn"]))
    low, high = lsn_bytes(before), lsn_bytes(after)
    return None not in (position, low, high) and low <= position <= high  # type: ignore[operator]


async def caught_up(source: PostgresReplicationSource) -> Reading | None:
    reading = await read_one(source)
    return reading if reading.values["replay_lag_bytes"] == 0 else None


async def test_steady_state_is_ok_caught_up_in_recovery(
    sandbox: SandboxHandle, source: PostgresReplicationSource
) -> None:
    replayed_before = direct(sandbox, "replica", "SELECT pg_last_wal_replay_lsn()::text")
    reading = await eventually(lambda: caught_up(source))
    assert reading.status is Status.OK
    assert reading.detail.startswith("caught up")
    assert reading.values["in_recovery"] is True
    assert reading.values["promoted"] is False
    assert reading.values["state"] == "streaming"
    assert reading.values["replay_paused"] is False
    # Background WAL (a checkpoint record) may land between two queries: the truth is that
    # the replica keeps catching up to zero, not that no byte is ever in flight.
    await eventually(lambda: asyncio.to_thread(lambda: direct_lag_bytes(sandbox) == 0))
    assert direct(sandbox, "replica", "SELECT pg_is_in_recovery()") is True
    replayed_after = direct(sandbox, "replica", "SELECT pg_last_wal_replay_lsn()::text")
    assert replay_between(reading, replayed_before, replayed_after)


async def test_lag_spike_tracks_the_primarys_byte_diff_then_catches_up(
    sandbox: SandboxHandle, source: PostgresReplicationSource
) -> None:
    await eventually(lambda: caught_up(source))
    sandbox.client.inject("lag-spike", rows_per_second=5000)
    await eventually(lambda: asyncio.to_thread(lambda: (direct_lag_bytes(sandbox) or 0) > 1e6))
    before = direct_lag_bytes(sandbox)
    reading = await read_one(source)
    after = direct_lag_bytes(sandbox)
    assert before is not None and after is not None
    assert before <= cast(int, reading.values["replay_lag_bytes"]) <= after
    assert reading.status is Status.WARN
    assert reading.detail.startswith("replay paused, ")
    assert reading.values["replay_paused"] is True
    await asyncio.sleep(0.5)
    growing = await read_one(source)
    assert cast(float, growing.values["catchup_bytes_per_second"]) < 0
    assert growing.values["catchup_eta_seconds"] is None

    sandbox.client.inject("catch-up")
    rates: list[Any] = []

    async def settled() -> Reading | None:
        reading = await read_one(source)
        rates.append(reading.values["catchup_bytes_per_second"])
        return reading if reading.values["replay_lag_bytes"] == 0 else None

    done = await eventually(settled, every=0.3)
    assert done.status is Status.OK
    assert done.detail.startswith("caught up")
    assert done.values["catchup_eta_seconds"] == 0.0
    assert any(isinstance(rate, float) and rate > 0 for rate in rates), rates
    await eventually(lambda: asyncio.to_thread(lambda: direct_lag_bytes(sandbox) == 0))


async def test_idle_primary_stays_caught_up_and_quiet_time_grows_until_writes(
    sandbox: SandboxHandle, source: PostgresReplicationSource
) -> None:
    first = await eventually(lambda: caught_up(source))

    async def quiet_for_a_while() -> Reading | None:
        reading = await read_one(source)
        assert reading.status is Status.OK, reading.detail
        return reading if (reading.number("primary_quiet_seconds") or 0) >= 1.5 else None

    idle = await eventually(quiet_for_a_while, every=0.3)
    assert idle.values["replay_lag_bytes"] == 0
    assert idle.detail.startswith("caught up")
    since_replay = cast(float, idle.values["seconds_since_last_replay"])
    assert since_replay > cast(float, first.values["seconds_since_last_replay"])
    sql = "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"
    assert cast(float, direct(sandbox, "replica", sql)) >= since_replay

    sandbox.client.inject("writes-on")

    async def moved_since_last_poll() -> bool:
        reading = await read_one(source)
        return reading.values["primary_quiet_seconds"] == 0.0

    await eventually(moved_since_last_poll, every=0.4)
    await asyncio.sleep(0.4)
    assert await moved_since_last_poll(), "WAL stood still for 0.4 s under steady writes"
    sandbox.client.inject("writes-off")
    await eventually(quiet_for_a_while, every=0.3)


async def test_background_wal_on_an_idle_primary_is_not_a_write(
    sandbox: SandboxHandle, source: PostgresReplicationSource
) -> None:
    await eventually(lambda: caught_up(source))
    before = await read_one(source)
    lsn_sql = "SELECT pg_current_wal_lsn()::text"
    lsn_before = direct(sandbox, "primary", lsn_sql)
    direct(sandbox, "primary", "SELECT pg_switch_wal()")
    run_sql(sandbox, "primary", "CHECKPOINT")
    assert direct(sandbox, "primary", lsn_sql) != lsn_before

    after = await read_one(source)

    assert after.values["primary_wal_lsn"] != before.values["primary_wal_lsn"]
    assert after.number("primary_quiet_seconds") not in (None, 0.0), after.values
    run_sql(sandbox, "primary", "CREATE TEMP TABLE written (n int); INSERT INTO written VALUES (1)")
    assert (await read_one(source)).values["primary_quiet_seconds"] == 0.0


async def test_promotion_reads_as_ok_promoted_not_as_an_error(
    sandbox: SandboxHandle, source: PostgresReplicationSource
) -> None:
    await eventually(lambda: caught_up(source))
    sandbox.client.inject("promote")
    reading = await read_one(source)
    assert reading.status is Status.OK
    assert reading.detail.startswith("promoted: no longer replicating (left recovery)")
    assert reading.values["promoted"] is True
    assert reading.values["in_recovery"] is False
    assert reading.values["replay_paused"] is None
    assert reading.values["primary_wal_lsn"] is not None
    assert direct(sandbox, "replica", "SELECT pg_is_in_recovery()") is False


async def test_replica_down_is_a_reading_naming_the_replica_and_recovers(
    sandbox: SandboxHandle, source: PostgresReplicationSource
) -> None:
    await eventually(lambda: caught_up(source))
    sandbox.client.inject("replica-down")
    lsn_sql = "SELECT pg_current_wal_lsn()::text"
    lsn_before = direct(sandbox, "primary", lsn_sql)
    reading = await read_one(source)
    lsn_after = direct(sandbox, "primary", lsn_sql)
    assert reading.status in (Status.CRITICAL, Status.UNKNOWN)
    assert reading.detail.startswith("cannot read the replica (connection refused)")
    assert reading.values["replica_error"] == "connection refused"
    assert reading.values["in_recovery"] is None
    # The server writes WAL of its own (standby snapshots), so the truth is a range, not a point.
    read_lsn = reading.values["primary_wal_lsn"]
    between = f"SELECT '{read_lsn}'::pg_lsn BETWEEN '{lsn_before}'::pg_lsn AND '{lsn_after}'"
    assert direct(sandbox, "primary", between) is True, (lsn_before, read_lsn, lsn_after)
    assert reading.values["primary_error"] is None

    async def standby_gone() -> Reading | None:
        reading = await read_one(source)
        return reading if reading.status is Status.CRITICAL else None

    gone = await eventually(standby_gone)
    assert gone.detail.endswith(
        "no standby on the primary matches standby_slot_name = 'cockpit_replica'"
    )
    assert not slot_streaming(sandbox)

    sandbox.client.inject("replica-up")
    back = await eventually(lambda: caught_up(source))
    assert back.status is Status.OK
    assert back.values["replica_error"] is None
    assert back.values["in_recovery"] is True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_source(sandbox: SandboxHandle, **dsns: str | None) -> PostgresReplicationSource:
    context = sandbox_context(sandbox)
    section = context.config.replication
    assert section is not None and section.postgres is not None
    settings = section.postgres.model_copy(update=dsns)
    return PostgresReplicationSource(
        settings, Schedule.from_config(section), context.environ, context.clock
    )


def dead_port_dsn() -> str:
    return f"host=127.0.0.1 port={free_port()} user=cutover dbname=shop"


async def test_wrong_password_reads_authentication_failed(sandbox: SandboxHandle) -> None:
    context = sandbox_context(sandbox, COCKPIT_SANDBOX_PGPASSWORD="not-the-password")
    [source] = build_replication_sources(context)
    readings, succeeded = await poll_once(source)
    assert not succeeded
    assert [r.status for r in readings] == [Status.UNKNOWN]
    assert "authentication failed" in readings[0].detail
    [healthy] = build_replication_sources(sandbox_context(sandbox))
    readings, succeeded = await poll_once(healthy)
    assert succeeded and readings[0].status is Status.OK
    await cast(PostgresReplicationSource, healthy).close()


async def test_unreachable_port_reads_connection_refused(sandbox: SandboxHandle) -> None:
    source = postgres_source(sandbox, primary_dsn=dead_port_dsn(), replica_dsn=dead_port_dsn())
    readings, succeeded = await poll_once(source)
    assert not succeeded
    assert readings[0].status is Status.UNKNOWN
    assert readings[0].detail == "connection refused"


async def test_primary_unreachable_keeps_the_replicas_view(sandbox: SandboxHandle) -> None:
    replayed_before = direct(sandbox, "replica", "SELECT pg_last_wal_replay_lsn()::text")
    source = postgres_source(sandbox, primary_dsn=dead_port_dsn())
    [reading] = await source.read()
    await source.close()
    assert reading.status is Status.UNKNOWN
    assert reading.detail.startswith("cannot read the primary (connection refused); replica in")
    assert reading.values["in_recovery"] is True
    assert reading.values["replay_lag_bytes"] is None
    replayed_after = direct(sandbox, "replica", "SELECT pg_last_wal_replay_lsn()::text")
    assert replay_between(reading, replayed_before, replayed_after)


async def test_a_hung_replica_times_out_alone_within_the_poll(sandbox: SandboxHandle) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        source = postgres_source(
            sandbox, replica_dsn=f"host=127.0.0.1 port={port} user=cutover dbname=shop"
        )
        readings, succeeded = await poll_once(source)
        await source.close()
    assert succeeded
    [reading] = readings
    assert reading.detail.startswith("cannot read the replica (timeout after 1.6 s)")
    assert "via slot cockpit_replica streaming" in reading.detail
    assert reading.values["replay_lag_bytes"] is None
    assert reading.values["primary_wal_lsn"] is not None


async def test_both_ends_failing_differently_names_both(sandbox: SandboxHandle) -> None:
    replica = sandbox.info["postgres"]["replica_dsn_without_password"].replace(
        "dbname=shop", "dbname=nosuchdb"
    )
    source = postgres_source(sandbox, primary_dsn=dead_port_dsn(), replica_dsn=replica)
    readings, succeeded = await poll_once(source)
    assert not succeeded
    assert "primary: connection refused; replica: " in readings[0].detail
    assert 'database "nosuchdb" does not exist' in readings[0].detail


# --- RDS against the sandbox's moto ---------------------------------------------------------------


def aws_client(sandbox: SandboxHandle, service: str) -> Any:
    aws = sandbox.info["aws"]
    return boto3.client(
        service,
        endpoint_url=aws["endpoint_url"],
        region_name=aws["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=BotoConfig(retries={"mode": "standard"}),
    )


def rds_source(
    sandbox: SandboxHandle, instance_id: str, aws: object | None = None
) -> RdsReplicationSource:
    context = sandbox_context(sandbox)
    if aws is not None:
        context.aws = cast(AwsClients, aws)
    schedule = Schedule(interval_seconds=5.0, timeout_seconds=10.0, stale_after_seconds=20.0)
    return RdsReplicationSource(RdsReplication(replica_instance_id=instance_id), schedule, context)


async def test_rds_replica_status_matches_describe_db_instances(sandbox: SandboxHandle) -> None:
    replica_id = sandbox.info["aws"]["rds_replica_id"]
    source = rds_source(sandbox, replica_id)

    async def with_lag() -> Reading | None:
        [reading] = await source.read()
        return reading if reading.values["replay_lag_seconds"] is not None else None

    reading = await eventually(with_lag, within=15.0, every=0.5)
    described = aws_client(sandbox, "rds").describe_db_instances(DBInstanceIdentifier=replica_id)
    instance = described["DBInstances"][0]
    assert reading.values["db_status"] == instance["DBInstanceStatus"] == "available"
    assert reading.values["source_instance"] == sandbox.info["aws"]["rds_primary_id"]
    assert reading.values["is_replica"] is True
    assert reading.values["in_recovery"] is True
    assert reading.values["promoted"] is False
    assert reading.values["replay_lag_bytes"] is None
    assert "byte lag not exposed by RDS" in reading.detail


async def test_rds_lag_is_the_latest_datapoint_and_none_is_unknown_not_zero(
    sandbox: SandboxHandle,
) -> None:
    replica_id = f"cockpit-test-{uuid.uuid4().hex[:8]}"
    aws_client(sandbox, "rds").create_db_instance_read_replica(
        DBInstanceIdentifier=replica_id,
        SourceDBInstanceIdentifier=sandbox.info["aws"]["rds_primary_id"],
    )
    source = rds_source(sandbox, replica_id)
    [empty] = await source.read()
    assert empty.status is Status.UNKNOWN
    assert empty.values["replay_lag_seconds"] is None
    assert "no ReplicaLag datapoints in the last 5 min" in empty.detail
    assert empty.values["is_replica"] is True

    now = datetime.now(UTC)
    for at, value in ((now - timedelta(minutes=3), 1.0), (now, 12.5)):
        put_replica_lag(sandbox, replica_id, at, value)
    [reading] = await source.read()
    assert reading.values["replay_lag_seconds"] == 12.5
    assert reading.status is Status.WARN
    assert "ReplicaLag 12.5 s, over 10 s" in reading.detail


def put_replica_lag(sandbox: SandboxHandle, replica_id: str, at: datetime, value: float) -> None:
    datum = {
        "MetricName": "ReplicaLag",
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": replica_id}],
        "Timestamp": at,
        "Unit": "Seconds",
        "Value": value,
    }
    aws_client(sandbox, "cloudwatch").put_metric_data(Namespace="AWS/RDS", MetricData=[datum])


async def test_rds_unknown_instance_is_an_unknown_reading(sandbox: SandboxHandle) -> None:
    readings, succeeded = await poll_once(rds_source(sandbox, "no-such-replica"))
    assert not succeeded
    assert readings[0].status is Status.UNKNOWN
    assert "DBInstanceNotFound" in readings[0].detail


class StubAws:
    """Stands in for context.aws at our adapter boundary: moto cannot expire tokens or throttle."""

    def __init__(self, rds: Any, cloudwatch: Any) -> None:
        self._clients = {"rds": rds, "cloudwatch": cloudwatch}

    def client(self, service: str, **_: Any) -> Any:
        return self._clients[service]


class StubClient:
    """Answers each call with a canned payload or raises the canned error."""

    def __init__(self, **answers: Any) -> None:
        self._answers = answers

    def __getattr__(self, name: str) -> Callable[..., Any]:
        answer = self._answers[name]

        def call(**_: Any) -> Any:
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "stub"}}, operation)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("ExpiredTokenException", "AWS credentials expired"),
        ("Throttling", "throttled by AWS"),
    ],
)
async def test_rds_describe_failure_reason_reaches_the_reading(
    running_sandbox: SandboxHandle, code: str, reason: str
) -> None:
    failing = StubClient(describe_db_instances=client_error(code, "DescribeDBInstances"))
    stub = StubAws(failing, StubClient(get_metric_data={"MetricDataResults": []}))
    readings, succeeded = await poll_once(rds_source(running_sandbox, "shop-db-replica", stub))
    assert not succeeded
    assert readings[0].status is Status.UNKNOWN
    assert reason in readings[0].detail


async def test_rds_cloudwatch_failure_keeps_the_instance_status(
    running_sandbox: SandboxHandle,
) -> None:
    throttled = StubClient(get_metric_data=client_error("Throttling", "GetMetricData"))
    stub = StubAws(StubClient(describe_db_instances=MOTO_REPLICA), throttled)
    [reading] = await rds_source(running_sandbox, "shop-db-replica", stub).read()
    assert reading.status is Status.UNKNOWN
    assert "ReplicaLag unavailable (throttled by AWS" in reading.detail
    assert reading.values["db_status"] == "available"
    assert reading.values["is_replica"] is True
    assert reading.values["replay_lag_seconds"] is None


async def test_an_unset_password_variable_is_named_plainly() -> None:
    settings = PostgresReplication(
        primary_dsn="host=127.0.0.1 port=1 dbname=shop",
        replica_dsn="host=127.0.0.1 port=2 dbname=shop",
        password_env="CUTOVER_PG_PASSWORD",
    )
    source = PostgresReplicationSource(
        settings, Schedule(1.0, 2.0, 5.0), {}, FrozenClock(datetime(2026, 11, 22, tzinfo=UTC))
    )
    readings, succeeded = await poll_once(source)
    assert not succeeded
    assert readings[0].status is Status.UNKNOWN
    assert readings[0].detail == (
        "$CUTOVER_PG_PASSWORD is not set (replication.postgres.password_env): export it and restart"
    )
