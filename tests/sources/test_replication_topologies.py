"""The PostgreSQL source on the shapes real servers have: two standbys, a role without pg_monitor.

Every reading is compared with a truth this test takes itself on both ends: the replay position
a standby gives (pg_last_wal_replay_lsn() on it) against the primary's pg_current_wal_lsn(), as
pg_wal_lsn_diff computes it on the primary. Conditions are awaited, never slept for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

from cockpit.config import load_config
from cockpit.live.state import State, apply
from cockpit.model import Reading, Status
from cockpit.rules.guards import GuardInputs, primary_quiet, replication_caught_up
from cockpit.rules.verdicts import SessionFacts
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sources.replication_postgres import PostgresReplicationSource, grant_advice
from tests.sources.test_replication import direct, eventually, postgres_source, run_sql

ONE_MEGABYTE = 1_000_000
READER = "cockpit_reader"
UNNAMED = {"standby_slot_name": None}


@asynccontextmanager
async def opened(source: PostgresReplicationSource) -> AsyncIterator[PostgresReplicationSource]:
    try:
        yield source
    finally:
        await source.close()


def reader_source(sandbox: SandboxHandle, **changes: Any) -> PostgresReplicationSource:
    """The sandbox's source, reading as the LOGIN role that lacks pg_monitor."""
    postgres = sandbox.info["postgres"]
    return postgres_source(
        sandbox,
        primary_dsn=postgres["reader_primary_dsn_without_password"],
        replica_dsn=postgres["reader_replica_dsn_without_password"],
        **changes,
    )


def true_lag_bytes(sandbox: SandboxHandle, standby: str = "replica") -> int:
    """The standby's replay position, then how far the primary's WAL is past it right now."""
    replay_lsn = direct(sandbox, standby, "SELECT pg_last_wal_replay_lsn()::text")
    sql = f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{replay_lsn}')::bigint"
    return cast(int, direct(sandbox, "primary", sql))


def primary_row_lag_bytes(sandbox: SandboxHandle, slot: str | None) -> list[int]:
    """The lag pg_stat_replication reports for the standbys on `slot` (None: on no slot)."""
    where = "s.slot_name IS NULL" if slot is None else f"s.slot_name = '{slot}'"
    sql = (
        "SELECT coalesce(array_agg(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint),"
        " '{}') FROM pg_stat_replication AS r"
        f" LEFT JOIN pg_replication_slots AS s ON s.active_pid = r.pid WHERE {where}"
    )
    return [int(lag) for lag in direct(sandbox, "primary", sql)]


async def truth(sandbox: SandboxHandle, standby: str = "replica") -> int:
    return await asyncio.to_thread(true_lag_bytes, sandbox, standby)


async def read_one(source: PostgresReplicationSource) -> Reading:
    [reading] = await source.read()
    return reading


async def read_between_truths(
    sandbox: SandboxHandle, source: PostgresReplicationSource
) -> tuple[int, Reading, int]:
    """A reading of a replica whose replay stands still, with the truth just before and after."""
    before = await truth(sandbox)
    reading = await read_one(source)
    after = await truth(sandbox)
    return before, reading, after


def lag_of(reading: Reading) -> int:
    lag = reading.values["replay_lag_bytes"]
    assert isinstance(lag, int), reading.values
    return lag


def guards_from(sandbox: SandboxHandle, reading: Reading) -> GuardInputs:
    state, _ = apply(State(), [reading])
    config = load_config(sandbox.config_path)
    return GuardInputs(state, config, reading.observed_at, SessionFacts())


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    await eventually(condition)


async def behind_by_a_megabyte(sandbox: SandboxHandle, standby: str = "replica") -> bool:
    return await truth(sandbox, standby) > ONE_MEGABYTE


async def stop_writes_and_wait_caught_up(
    sandbox: SandboxHandle, source: PostgresReplicationSource, standby: str
) -> Reading:
    """Writes off, then polls until the reading and the truth both say 0 for `standby`."""
    sandbox.client.inject("writes-off")

    async def both_zero() -> Reading | None:
        reading = await read_one(source)
        if reading.values["replay_lag_bytes"] == 0 and await truth(sandbox, standby) == 0:
            return reading
        return None

    return await eventually(both_zero)


# --- two standbys under the default name ----------------------------------------------------------


async def test_the_watched_replica_behind_while_the_other_standby_is_caught_up(
    sandbox: SandboxHandle,
) -> None:
    async with opened(postgres_source(sandbox)) as source:
        sandbox.client.inject("lag-spike", rows_per_second=5000)
        await until(lambda: behind_by_a_megabyte(sandbox))
        sandbox.client.inject("writes-off")
        await until(lambda: other_standby_caught_up_by_every_account(sandbox))

        before, reading, after = await read_between_truths(sandbox, source)

    assert before <= lag_of(reading) <= after
    assert lag_of(reading) > ONE_MEGABYTE
    assert reading.status is Status.WARN
    assert reading.detail.startswith("replay paused, ")
    assert reading.values["replay_paused"] is True
    assert "via slot cockpit_replica" in str(reading.values["standby"])
    guard = replication_caught_up(guards_from(sandbox, reading))
    assert not guard.passed and "replay paused" in (guard.reason or "")


async def other_standby_caught_up_by_every_account(sandbox: SandboxHandle) -> bool:
    """The other standby's own position and the primary's row for it both say 0 B behind."""
    if await truth(sandbox, "other_standby") != 0:
        return False
    return await asyncio.to_thread(primary_row_lag_bytes, sandbox, None) == [0]


async def test_the_watched_replica_caught_up_while_the_other_standby_is_behind(
    sandbox: SandboxHandle,
) -> None:
    async with opened(postgres_source(sandbox)) as source:
        sandbox.client.inject("other-standby-pause")
        sandbox.client.inject("writes-on", rows_per_second=5000)
        await until(lambda: behind_by_a_megabyte(sandbox, "other_standby"))
        reading = await stop_writes_and_wait_caught_up(sandbox, source, "replica")

    other_behind = await truth(sandbox, "other_standby")
    assert other_behind > ONE_MEGABYTE
    [other_row_lag] = primary_row_lag_bytes(sandbox, slot=None)
    assert other_row_lag > ONE_MEGABYTE
    assert reading.status is Status.OK
    assert reading.detail.startswith("caught up")
    assert reading.values["replay_paused"] is False
    assert reading.values["standby_named_by"] == "standby_slot_name = 'cockpit_replica'"
    assert replication_caught_up(guards_from(sandbox, reading)).passed


async def test_without_a_named_standby_the_replicas_own_slot_picks_its_row(
    sandbox: SandboxHandle,
) -> None:
    async with opened(postgres_source(sandbox, **UNNAMED)) as source:
        sandbox.client.inject("lag-spike", rows_per_second=5000)
        await until(lambda: behind_by_a_megabyte(sandbox))
        before, reading, after = await read_between_truths(sandbox, source)

    assert before <= lag_of(reading) <= after
    assert reading.values["standby_named_by"] == "the replica's primary_slot_name 'cockpit_replica'"
    assert reading.detail.startswith("replay paused, ")


async def test_two_alike_standbys_and_none_named_is_ambiguous_and_blocks_promotion(
    sandbox: SandboxHandle,
) -> None:
    sandbox.client.inject("replica-slot-off")
    async with opened(postgres_source(sandbox, **UNNAMED)) as source:
        sandbox.client.inject("lag-spike", rows_per_second=5000)
        await until(lambda: behind_by_a_megabyte(sandbox))
        before, reading, after = await read_between_truths(sandbox, source)

    assert reading.status is Status.UNKNOWN
    assert reading.detail.startswith("cannot tell which standby is the replica: 2 could be it (")
    assert reading.detail.count("walreceiver from 127.0.0.1") == 2
    assert "set replication.postgres.standby_slot_name" in reading.detail
    assert reading.values["standby_ambiguous"] is True
    assert reading.values["state"] is None
    assert before <= lag_of(reading) <= after
    inputs = guards_from(sandbox, reading)
    for guard in (replication_caught_up(inputs), primary_quiet(inputs)):
        assert not guard.passed
        assert "cannot tell which standby is the replica" in (guard.reason or "")


async def test_two_alike_standbys_caught_up_still_block_until_one_is_named(
    sandbox: SandboxHandle,
) -> None:
    sandbox.client.inject("replica-slot-off")
    async with opened(postgres_source(sandbox, **UNNAMED)) as source:

        async def caught_up_by_truth() -> Reading | None:
            reading = await read_one(source)
            done = reading.values["replay_lag_bytes"] == 0 and await truth(sandbox) == 0
            return reading if done else None

        reading = await eventually(caught_up_by_truth)
    assert reading.status is Status.UNKNOWN
    assert not replication_caught_up(guards_from(sandbox, reading)).passed


# --- a role without pg_monitor --------------------------------------------------------------------


async def test_a_role_without_pg_monitor_reads_the_true_lag_and_the_grant(
    sandbox: SandboxHandle,
) -> None:
    async with opened(reader_source(sandbox)) as source:
        sandbox.client.inject("lag-spike", rows_per_second=5000)
        await until(lambda: behind_by_a_megabyte(sandbox))
        before, reading, after = await read_between_truths(sandbox, source)
        sandbox.client.inject("catch-up")
        caught_up = await stop_writes_and_wait_caught_up(sandbox, source, "replica")

    assert before <= lag_of(reading) <= after
    assert reading.status is Status.WARN
    assert reading.detail.startswith("replay paused, ")
    assert reading.detail.endswith(grant_advice(READER))
    assert grant_advice(READER) == (
        "role cockpit_reader cannot see replication details: GRANT pg_monitor TO cockpit_reader"
    )
    assert "not connected" not in reading.detail
    assert reading.values["role_lacks_pg_monitor"] is True
    assert caught_up.status is Status.WARN
    assert caught_up.detail.startswith("caught up")
    assert caught_up.detail.endswith(grant_advice(READER))
    assert replication_caught_up(guards_from(sandbox, caught_up)).passed


async def test_the_reader_without_a_named_standby_still_finds_it_by_the_replicas_slot(
    sandbox: SandboxHandle,
) -> None:
    async with opened(reader_source(sandbox, **UNNAMED)) as source:
        reading = await stop_writes_and_wait_caught_up(sandbox, source, "replica")
    assert reading.values["standby_named_by"] == "the replica's primary_slot_name 'cockpit_replica'"
    assert reading.values["standby_ambiguous"] is False
    assert reading.detail.endswith(grant_advice(READER))


# --- promotion, with background WAL on the old primary --------------------------------------------


NEXT_XID = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"


async def test_background_wal_and_analyze_on_the_old_primary_after_promotion_are_not_writes(
    sandbox: SandboxHandle,
) -> None:
    run_sql(
        sandbox, "primary", "INSERT INTO orders (payload) SELECT 'x' FROM generate_series(1, 500)"
    )
    async with opened(postgres_source(sandbox)) as source:
        await stop_writes_and_wait_caught_up(sandbox, source, "replica")
        sandbox.client.inject("promote")
        first = await read_one(source)
        lsn_sql = "SELECT pg_current_wal_lsn()::text"
        lsn_before = direct(sandbox, "primary", lsn_sql)
        direct(sandbox, "primary", "SELECT pg_switch_wal()")
        run_sql(sandbox, "primary", "CHECKPOINT")
        assert direct(sandbox, "primary", lsn_sql) != lsn_before
        after_background_wal = await read_one(source)
        xid_before = direct(sandbox, "primary", NEXT_XID)
        run_sql(sandbox, "primary", "ANALYZE orders")
        assert direct(sandbox, "primary", NEXT_XID) != xid_before, "ANALYZE took no id"
        after_analyze = await read_one(source)
        run_sql(sandbox, "primary", "INSERT INTO orders (payload) VALUES ('late write')")
        after_commit = await read_one(source)

    for reading in (first, after_background_wal, after_analyze):
        assert reading.status is Status.OK, reading.detail
        assert reading.detail == "promoted: no longer replicating (left recovery)"
        assert reading.values["primary_quiet_seconds"] != 0.0
    assert after_background_wal.values["primary_wal_lsn"] != first.values["primary_wal_lsn"]
    assert after_commit.status is Status.WARN
    assert "a transaction wrote to the old primary since the last poll" in after_commit.detail
