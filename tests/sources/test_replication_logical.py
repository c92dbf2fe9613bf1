"""Logical replication read from two real PostgreSQL 15 servers, a publisher and a subscriber.

Each reading is compared with the test's own queries on the servers (lag bytes, table states,
sequence values, apply errors), and the cutover runs end to end through `cockpit act promote`:
refused while a table is not ready or a sequence would go backwards, then sequences set, the
subscription disabled, both read back and journaled. The cockpit reads with the unprivileged
reader role; the test's own queries and the cutover use the application role.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import tomli_w

from cockpit.actions.model import ActionId
from cockpit.clock import system_clock
from cockpit.commands.act import ActRequest, run_act
from cockpit.config import LogicalReplication
from cockpit.model import Reading, Status
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sources.base import Schedule
from cockpit.sources.logical_values import LogicalValues, sequence_rows
from cockpit.sources.replication_logical import LogicalReplicationSource
from tests.actions.support import action_records

MARGIN = 100
WAIT_SECONDS = 60.0
SCHEDULE = Schedule(interval_seconds=0.5, timeout_seconds=5.0, stale_after_seconds=30.0)


def logical(sandbox: SandboxHandle) -> dict[str, Any]:
    return dict(sandbox.info["logical"])


def rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as connection:
        return connection.execute(query).fetchall()


def own_lag(sandbox: SandboxHandle) -> int:
    query = (
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
        f"FROM pg_replication_slots WHERE slot_name = '{logical(sandbox)['slot']}'"
    )
    return int(rows(logical(sandbox)["publisher_dsn"], query)[0][0])


def own_sequences(sandbox: SandboxHandle, end: str) -> dict[str, int | None]:
    query = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
    return dict(rows(logical(sandbox)[f"{end}_dsn"], query))


def own_table_states(sandbox: SandboxHandle) -> dict[str, str]:
    query = "SELECT srrelid::regclass::text, srsubstate::text FROM pg_subscription_rel"
    return dict(rows(logical(sandbox)["subscriber_dsn"], query))


def own_apply_errors(sandbox: SandboxHandle) -> int:
    query = "SELECT apply_error_count FROM pg_stat_subscription_stats"
    return int(rows(logical(sandbox)["subscriber_dsn"], query)[0][0])


def reader_source(sandbox: SandboxHandle) -> LogicalReplicationSource:
    info = logical(sandbox)
    settings = LogicalReplication(
        publisher_dsn=info["reader_publisher_dsn_without_password"],
        subscriber_dsn=info["reader_subscriber_dsn_without_password"],
        subscription=info["subscription"],
        password_env=info["password_env"],
        sequence_margin=MARGIN,
    )
    return LogicalReplicationSource(settings, SCHEDULE, sandbox.env, system_clock)


def read_until(
    source: LogicalReplicationSource, condition: Callable[[Reading], bool], what: str
) -> Reading:
    """Polls the source until a reading meets `condition`; fails naming `what` and the last."""

    async def poll() -> Reading:
        deadline = time.monotonic() + WAIT_SECONDS
        try:
            while True:
                (reading,) = await source.read()
                if condition(reading):
                    return reading
                if time.monotonic() > deadline:
                    pytest.fail(f"timed out waiting for {what}; last: {reading.detail}")
                await asyncio.sleep(0.2)
        finally:
            await source.close()

    return asyncio.run(poll())


def values(reading: Reading) -> LogicalValues:
    return LogicalValues.from_reading(reading)


def copying(reading: Reading) -> bool:
    """A table held in its initial copy (state d), where the sandbox keeps it until let go."""
    return any(row.get("state") == "d" for row in values(reading).tables_not_ready)


def quiet_for(seconds: float) -> Callable[[Reading], bool]:
    """Caught up, with no write on the publisher for `seconds` (the cutover's quiet guard)."""
    return lambda reading: (
        caught_up(reading) and (values(reading).primary_quiet_seconds or 0.0) >= seconds
    )


def caught_up(reading: Reading) -> bool:
    return values(reading).replay_lag_bytes == 0 and not values(reading).tables_not_ready


# --- readings against the servers' own answers ----------------------------------------------------


def test_caught_up_reading_matches_both_ends(sandbox: SandboxHandle) -> None:
    reading = read_until(reader_source(sandbox), caught_up, "lag 0 with every table ready")
    read = values(reading)
    assert read.tables_total == len(own_table_states(sandbox))
    assert read.no_identity_tables == ("order_events",)
    assert reading.status is Status.WARN, "a published table without a replica identity"
    assert "no replica identity (updates/deletes will not replicate): order_events" in (
        reading.detail
    )
    publisher, subscriber = (
        own_sequences(sandbox, "publisher"),
        own_sequences(sandbox, "subscriber"),
    )
    shown = {row.name: row for row in sequence_rows(read)}
    assert set(shown) == set(publisher)
    for name, row in shown.items():
        assert (row.publisher_value, row.subscriber_value) == (publisher[name], subscriber[name])
    assert read.in_recovery is True and read.promoted is False
    assert read.replay_lag_hidden is True, "the reader has no pg_read_all_stats"


def test_lag_is_the_slots_distance_from_the_publishers_wal(sandbox: SandboxHandle) -> None:
    sandbox.client.inject("logical-lag")
    source = reader_source(sandbox)
    read_until(source, lambda r: (values(r).replay_lag_bytes or 0) > 64 * 1024, "lag building")
    before = own_lag(sandbox)
    (reading,) = asyncio.run(source.read())
    after = own_lag(sandbox)
    asyncio.run(source.close())
    assert before <= (values(reading).replay_lag_bytes or -1) <= after
    assert (values(reading).retained_wal_bytes or 0) >= before

    sandbox.client.inject("logical-catch-up")
    done = read_until(source, caught_up, "catch-up to lag 0")
    assert own_lag(sandbox) >= 0 and done.detail.startswith("caught up (byte lag 0 B)")


def test_a_table_still_syncing_is_named_with_its_state(sandbox: SandboxHandle) -> None:
    sandbox.client.inject("logical-table-syncing")
    source = reader_source(sandbox)
    reading = read_until(source, copying, "late_items held while copying its data")
    [row] = values(reading).tables_not_ready
    assert own_table_states(sandbox)["late_items"] == row["state"] == "d"
    assert row["table"] == "late_items"
    assert "tables not ready: late_items" in reading.detail

    sandbox.client.inject("logical-table-synced")
    done = read_until(source, caught_up, "late_items ready")
    assert values(done).tables_total == len(own_table_states(sandbox))
    assert set(own_table_states(sandbox).values()) == {"r"}


def test_sequences_are_shown_at_both_ends(sandbox: SandboxHandle) -> None:
    sandbox.client.inject("logical-sequence-behind", steps=500)
    publisher, subscriber = (
        own_sequences(sandbox, "publisher"),
        own_sequences(sandbox, "subscriber"),
    )
    reading = read_until(reader_source(sandbox), caught_up, "lag 0")
    shown = {row.name: row for row in sequence_rows(values(reading))}
    for name in ("orders_id_seq", "invoice_numbers"):
        assert shown[name].publisher_value == publisher[name]
        assert shown[name].subscriber_value == subscriber[name]
        assert shown[name].needed == (publisher[name] or 0) + MARGIN
        assert shown[name].behind
    assert values(reading).sequences_behind == sum(row.behind for row in shown.values())


def test_a_stuck_slot_is_critical_until_apply_goes_on(sandbox: SandboxHandle) -> None:
    sandbox.client.inject("logical-stuck-slot")
    source = reader_source(sandbox)
    stuck = read_until(source, lambda r: r.status is Status.CRITICAL, "the stuck slot")
    assert stuck.detail.startswith(("apply failing", "no apply worker running"))
    assert "retains" in stuck.detail
    assert 0 < (values(stuck).apply_error_count or 0) <= own_apply_errors(sandbox)

    sandbox.client.inject("logical-slot-mended")
    read_until(source, caught_up, "apply going on to lag 0")


# --- the cutover, end to end ---------------------------------------------------------------------


def write_config(sandbox: SandboxHandle, folder: Path) -> Path:
    info = logical(sandbox)
    data = {
        "cutover": {"name": "logical cutover"},
        "journal": {"dir": str(folder / "journal"), "anchor_syslog": False},
        "replication": {"interval_seconds": 0.5, "timeout_seconds": 5.0},
        "promotion": {"logical": {"timeout_seconds": 10.0}},
        "guards": {"promote_requires_maintenance": False, "promote_quiet_seconds": 1.0},
    }
    data["replication"]["logical"] = {
        "publisher_dsn": info["publisher_dsn_without_password"],
        "subscriber_dsn": info["subscriber_dsn_without_password"],
        "subscription": info["subscription"],
        "password_env": info["password_env"],
        "sequence_margin": MARGIN,
    }
    path = folder / "cockpit.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def cut_over(sandbox: SandboxHandle, config: Path, name: str) -> tuple[int, str]:
    said: list[str] = []
    request = ActRequest(ActionId.PROMOTE, config, confirm_name=name)
    code = run_act(request, sandbox.env, ask=lambda prompt: "", say=said.append)
    return code, "\n".join(said)


def subscription_enabled(sandbox: SandboxHandle) -> bool:
    query = "SELECT subenabled FROM pg_subscription"
    return bool(rows(logical(sandbox)["subscriber_dsn"], query)[0][0])


def test_the_cutover_sets_sequences_disables_the_subscription_and_reads_both_back(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    config, name = write_config(sandbox, tmp_path), logical(sandbox)["subscription"]
    sandbox.client.inject("logical-table-syncing")
    read_until(reader_source(sandbox), lambda r: bool(values(r).tables_not_ready), "syncing")
    code, text = cut_over(sandbox, config, name)
    assert code == 1 and "tables still syncing: late_items" in text
    sandbox.client.inject("logical-table-synced")

    ahead = "SELECT setval('orders_id_seq', 1000000000)"
    rows(logical(sandbox)["subscriber_dsn"], ahead)
    read_until(reader_source(sandbox), caught_up, "late_items ready")
    code, text = cut_over(sandbox, config, name)
    assert code == 1 and "would go backwards: orders_id_seq (1000000000 past" in text
    assert subscription_enabled(sandbox)
    rows(logical(sandbox)["subscriber_dsn"], "SELECT setval('orders_id_seq', 1, false)")

    sandbox.client.inject("logical-sequence-behind", steps=250)
    publisher = own_sequences(sandbox, "publisher")
    read_until(reader_source(sandbox), quiet_for(3.0), "the publisher quiet after the writes")
    code, text = cut_over(sandbox, config, name)
    assert code == 0, text

    assert not subscription_enabled(sandbox)
    subscriber = own_sequences(sandbox, "subscriber")
    used = {name: value for name, value in publisher.items() if value is not None}
    assert {name: subscriber[name] for name in used} == {
        name: value + MARGIN for name, value in used.items()
    }
    planned = action_records(tmp_path, ActionId.PROMOTE, "planned")[-1]
    assert planned["plan"]["target"]["sequences"]["orders_id_seq"]["set_to"] == (
        publisher["orders_id_seq"] + MARGIN  # type: ignore[operator]
    )
    executed = action_records(tmp_path, ActionId.PROMOTE, "executed")[-1]
    assert sum("setval(" in line for line in executed["evidence"]) == len(used)
    assert any("DISABLE" in line for line in executed["evidence"])
    verified = action_records(tmp_path, ActionId.PROMOTE, "verified")[-1]
    assert verified["ok"] is True
    assert verified["observed"]["subscription_enabled"] is False
    assert verified["observed"]["sequences"] == {name: subscriber[name] for name in used}
