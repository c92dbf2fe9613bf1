"""The logical-replication stand-in: a real publisher and subscriber; lag, a table still syncing,
sequences left behind, a stuck slot, reset, and the same through the running sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cockpit.config import load_config
from cockpit.io.context import SourceContext
from cockpit.model import Status
from cockpit.sandbox.aws import asset_objects
from cockpit.sandbox.files import COCKPIT_LOGICAL_TOML
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sandbox.logical import LogicalEndpoints, LogicalPair
from cockpit.sandbox.shared import SandboxError
from cockpit.sources.build import build_sources
from cockpit.sources.integrity_buckets import BucketIntegritySource
from cockpit.sources.integrity_values import BucketValues
from tests.integrity_support import poll_until_done
from tests.sandbox.test_postgres import PASSWORD, scalar, stop_and_remove, wait_for

SUBSCRIPTION = "cockpit_sub"
TABLES = {"customers", "orders", "order_events"}


def rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as connection:
        return connection.execute(query).fetchall()


@pytest.fixture(scope="module")
def running_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogicalPair]:
    pair = LogicalPair.create(tmp_path_factory.mktemp("logical"), password=PASSWORD)
    pids = pair.server_pids()
    try:
        yield pair
    finally:
        stop_and_remove(pair)
    assert [pid for pid in pids.values() if process_exists(pid)] == []


@pytest.fixture
def pair(running_pair: LogicalPair) -> LogicalPair:
    """The module's pair, put back in its starting state for this test."""
    running_pair.reset()
    return running_pair


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- the test's own view of replication, in SQL -------------------------------------------------

LAG_SQL = (
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
    " FROM pg_replication_slots WHERE slot_name = 'cockpit_sub'"
)
CONFIRMED_SQL = (
    "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'cockpit_sub'"
)
RETAINED_SQL = (
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint"
    " FROM pg_replication_slots WHERE slot_name = 'cockpit_sub'"
)
STATES_SQL = "SELECT srrelid::regclass::text, srsubstate FROM pg_subscription_rel"
APPLY_ERRORS_SQL = (
    "SELECT apply_error_count FROM pg_stat_subscription_stats WHERE subname = 'cockpit_sub'"
)
SEQUENCES_SQL = "SELECT sequencename, last_value FROM pg_sequences"


def lag_bytes(endpoints: LogicalEndpoints) -> int:
    return int(scalar(endpoints.publisher_dsn, LAG_SQL))


def table_states(endpoints: LogicalEndpoints) -> dict[str, str]:
    return dict(rows(endpoints.subscriber_dsn, STATES_SQL))


def apply_errors(endpoints: LogicalEndpoints) -> int:
    return int(scalar(endpoints.subscriber_dsn, APPLY_ERRORS_SQL))


def count(dsn: str, table: str) -> int:
    return int(scalar(dsn, f"SELECT count(*) FROM {table}"))


def sequences(dsn: str) -> dict[str, int | None]:
    return dict(rows(dsn, SEQUENCES_SQL))


def write(endpoints: LogicalEndpoints, orders: int = 1) -> None:
    with psycopg.connect(endpoints.publisher_dsn, autocommit=True) as connection:
        for _ in range(orders):
            connection.execute("INSERT INTO orders (payload) VALUES ('test')")


def caught_up(endpoints: LogicalEndpoints) -> bool:
    """Lag 0 with the same orders on both ends."""
    same = count(endpoints.publisher_dsn, "orders") == count(endpoints.subscriber_dsn, "orders")
    return same and lag_bytes(endpoints) == 0


# --- the pair ------------------------------------------------------------------------------------


def test_it_comes_up_subscribed_with_every_table_ready_and_no_lag(pair: LogicalPair) -> None:
    endpoints = pair.endpoints
    assert table_states(endpoints) == dict.fromkeys(TABLES, "r")
    wait_for(lambda: caught_up(endpoints), "no lag")
    for table in TABLES:
        assert count(endpoints.publisher_dsn, table) == count(endpoints.subscriber_dsn, table) > 0
    subscription = rows(
        endpoints.subscriber_dsn,
        "SELECT subname, subowner::regrole::text, subslotname, subenabled FROM pg_subscription",
    )
    assert subscription == [(SUBSCRIPTION, "cutover", "cockpit_sub", True)]
    slot = rows(endpoints.publisher_dsn, "SELECT slot_name, plugin FROM pg_replication_slots")
    assert slot == [("cockpit_sub", "pgoutput")]
    assert scalar(endpoints.publisher_dsn, "SELECT pubname FROM pg_publication") == "cockpit_pub"
    assert set(pair.server_pids()) == {"publisher", "subscriber"}
    assert pair.subscription_enabled()


def test_the_app_role_is_a_superuser_only_on_the_subscriber(pair: LogicalPair) -> None:
    is_superuser = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
    assert scalar(pair.endpoints.subscriber_dsn, is_superuser) is True
    assert scalar(pair.endpoints.publisher_dsn, is_superuser) is False
    owner = "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'"
    assert scalar(pair.endpoints.publisher_dsn, owner) == "cutover"
    no_key = (
        "SELECT relreplident FROM pg_class WHERE relname = 'order_events'"
        " AND NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = 'order_events'::regclass)"
    )
    assert scalar(pair.endpoints.publisher_dsn, no_key) == "d"


def test_held_apply_builds_byte_lag_that_drains_after_release(pair: LogicalPair) -> None:
    endpoints = pair.endpoints
    pair.hold_apply()
    pair.write_rows(200)
    wait_for(lambda: lag_bytes(endpoints) > 0, "lag while apply is held")
    first = lag_bytes(endpoints)
    pair.write_rows(200)
    wait_for(lambda: lag_bytes(endpoints) > first, "lag to grow with writes")
    assert count(endpoints.subscriber_dsn, "orders") < count(endpoints.publisher_dsn, "orders")

    pair.release_apply()
    write(endpoints)
    wait_for(lambda: caught_up(endpoints), "lag back to 0 after release")


def test_a_table_whose_copy_is_held_stays_not_ready_until_released(pair: LogicalPair) -> None:
    endpoints = pair.endpoints
    pair.hold_table_sync()
    assert table_states(endpoints)["late_items"] in {"i", "d"}
    write(endpoints, orders=3)
    wait_for(lambda: caught_up(endpoints), "the other tables to keep replicating")
    assert table_states(endpoints)["late_items"] in {"i", "d"}
    assert count(endpoints.subscriber_dsn, "late_items") == 0

    pair.release_table_sync()
    wait_for(lambda: table_states(endpoints)["late_items"] == "r", "late_items to reach r")
    with pytest.raises(SandboxError, match="subscribed already"):
        pair.hold_table_sync()
    assert count(endpoints.subscriber_dsn, "late_items") == count(
        endpoints.publisher_dsn, "late_items"
    )


def test_publisher_sequences_advance_and_the_subscribers_stay(pair: LogicalPair) -> None:
    endpoints = pair.endpoints
    publisher_before = sequences(endpoints.reader_dsn("publisher"))
    subscriber_before = sequences(endpoints.reader_dsn("subscriber"))
    pair.advance_publisher_sequences(500)
    publisher_after = sequences(endpoints.reader_dsn("publisher"))
    for name in ("orders_id_seq", "invoice_numbers"):
        before = publisher_before[name]
        assert before is not None
        assert publisher_after[name] == before + 500
    assert publisher_after["customers_id_seq"] == publisher_before["customers_id_seq"]
    write(endpoints)
    wait_for(lambda: caught_up(endpoints), "the write to replicate")
    assert sequences(endpoints.reader_dsn("subscriber")) == subscriber_before


def test_a_conflicting_row_stops_the_slot_until_mended(pair: LogicalPair) -> None:
    endpoints = pair.endpoints
    errors_before = apply_errors(endpoints)
    pair.break_apply()
    assert apply_errors(endpoints) > errors_before
    for again in (pair.hold_table_sync, pair.break_apply):
        with pytest.raises(SandboxError, match="conflicting row"):
            again()
    stuck_at = scalar(endpoints.publisher_dsn, CONFIRMED_SQL)
    retained = int(scalar(endpoints.publisher_dsn, RETAINED_SQL))
    wal_before = scalar(endpoints.publisher_dsn, "SELECT pg_current_wal_lsn()::text")
    pair.write_rows(500)
    failed_once = apply_errors(endpoints)
    wait_for(lambda: apply_errors(endpoints) >= failed_once + 2, "apply to fail again")
    assert scalar(endpoints.publisher_dsn, CONFIRMED_SQL) == stuck_at
    assert scalar(endpoints.publisher_dsn, "SELECT pg_current_wal_lsn()::text") != wal_before
    assert int(scalar(endpoints.publisher_dsn, RETAINED_SQL)) > retained
    assert lag_bytes(endpoints) > 0

    pair.mend_apply()
    write(endpoints)
    wait_for(lambda: caught_up(endpoints), "apply to go on after mending")
    publisher_customers = rows(endpoints.publisher_dsn, "SELECT * FROM customers ORDER BY id")
    assert rows(endpoints.subscriber_dsn, "SELECT * FROM customers ORDER BY id") == (
        publisher_customers
    )


def test_reset_puts_everything_back(pair: LogicalPair) -> None:
    endpoints = pair.endpoints
    subscriber_sequences = sequences(endpoints.subscriber_dsn)
    pair.hold_table_sync()
    pair.break_apply()
    pair.hold_apply()
    pair.start_write_load(rows_per_second=500)
    with psycopg.connect(endpoints.subscriber_dsn, autocommit=True) as connection:
        # What the cockpit's cutover does, as the application role.
        connection.execute("SELECT setval('orders_id_seq', 100000)")
        connection.execute("ALTER SUBSCRIPTION cockpit_sub DISABLE")
    assert not pair.subscription_enabled()

    pair.reset()
    assert pair.subscription_enabled()
    assert table_states(endpoints) == dict.fromkeys(TABLES, "r")
    late = "SELECT to_regclass('late_items') IS NULL"
    assert scalar(endpoints.publisher_dsn, late) and scalar(endpoints.subscriber_dsn, late)
    assert sequences(endpoints.subscriber_dsn) == subscriber_sequences
    errors = apply_errors(endpoints)
    write(endpoints)
    wait_for(lambda: caught_up(endpoints), "no lag after reset")
    assert apply_errors(endpoints) == errors


def test_the_reader_sees_sequence_values_and_cannot_write(pair: LogicalPair) -> None:
    endpoints = pair.endpoints
    reader = endpoints.reader_dsn("publisher")
    assert scalar(reader, "SELECT current_user") == "cockpit_reader"
    assert scalar(reader, "SELECT pg_has_role('pg_monitor', 'USAGE')") is False
    published = sequences(reader)
    assert set(published) == {"customers_id_seq", "orders_id_seq", "invoice_numbers"}
    assert None not in published.values()
    with psycopg.connect(endpoints.subscriber_dsn, autocommit=True) as connection:
        connection.execute("SELECT setval('invoice_numbers', 4321)")
    assert sequences(endpoints.reader_dsn("subscriber"))["invoice_numbers"] == 4321
    for end in ("publisher", "subscriber"):
        for statement in (
            "INSERT INTO orders (payload) VALUES ('reader')",
            "SELECT nextval('invoice_numbers')",
            "CREATE TABLE reader_table (id int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                scalar(endpoints.reader_dsn(end), statement)
    assert "password" not in endpoints.reader_dsn("subscriber", with_password=False)


def test_dsns_quote_the_password_and_hide_it_from_repr() -> None:
    endpoints = LogicalEndpoints("127.0.0.1", 5432, 5433, "cutover", PASSWORD, "shop")
    assert psycopg.conninfo.conninfo_to_dict(endpoints.subscriber_dsn) == {
        "host": "127.0.0.1",
        "port": "5433",
        "user": "cutover",
        "password": PASSWORD,
        "dbname": "shop",
    }
    assert "password" not in endpoints.without_password("publisher")
    assert PASSWORD not in repr(endpoints)
    assert (endpoints.subscription, endpoints.publication, endpoints.slot) == (
        "cockpit_sub",
        "cockpit_pub",
        "cockpit_sub",
    )


def test_stop_ends_both_postmasters_even_with_a_lock_held(tmp_path: Path) -> None:
    pair = LogicalPair.create(tmp_path, password=PASSWORD)
    try:
        pids = pair.server_pids()
        pair.hold_apply()
        pair.start_write_load()
        pair.stop()
        assert [pid for pid in pids.values() if process_exists(pid)] == []
        pair.stop()
        assert pair.server_pids() == {}
    finally:
        stop_and_remove(pair)


def test_a_failed_create_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: dict[str, Any] = {}

    def fail_to_subscribe(pair: LogicalPair) -> None:
        started.update(pids=pair.server_pids(), data_root=pair.data_root)
        raise SandboxError("no subscription today")

    monkeypatch.setattr(LogicalPair, "_subscribe", fail_to_subscribe)
    with pytest.raises(SandboxError, match="no subscription today"):
        LogicalPair.create(tmp_path, password=PASSWORD)
    assert set(started["pids"]) == {"publisher", "subscriber"}
    assert [pid for pid in started["pids"].values() if process_exists(pid)] == []
    assert not started["data_root"].exists()


# --- through the running sandbox -----------------------------------------------------------------


def test_sandbox_json_lists_the_logical_endpoints(sandbox: SandboxHandle) -> None:
    logical = sandbox.info["logical"]
    assert logical["subscription"] == SUBSCRIPTION
    assert logical["password_env"] == "COCKPIT_SANDBOX_PGPASSWORD"
    assert "password" not in logical["subscriber_dsn_without_password"]
    assert scalar(logical["reader_subscriber_dsn"], "SELECT current_user") == "cockpit_reader"
    assert scalar(logical["publisher_dsn"], "SELECT current_database()") == "shop"
    assert scalar(logical["reader_publisher_dsn"], "SELECT count(*) FROM pg_sequences") == 3
    pids = sandbox.client.status()["pids"]
    assert {"postgres-publisher", "postgres-subscriber"} <= set(pids["children"])


def test_the_logical_scenarios_work_through_the_sandbox(sandbox: SandboxHandle) -> None:
    logical = sandbox.info["logical"]
    publisher, subscriber = logical["publisher_dsn"], logical["subscriber_dsn"]

    def lag() -> int:
        return int(scalar(publisher, LAG_SQL))

    def states() -> dict[str, str]:
        return dict(rows(subscriber, STATES_SQL))

    def write_one() -> None:
        scalar(publisher, "INSERT INTO orders (payload) VALUES ('test') RETURNING id")

    assert "locked" in sandbox.client.inject("logical-lag", rows_per_second=2000)
    wait_for(lambda: lag() > 100_000, "lag to build")
    assert "catches up" in sandbox.client.inject("logical-catch-up")
    write_one()
    wait_for(lambda: lag() == 0, "lag back to 0")

    sandbox.client.inject("logical-table-syncing")
    assert states()["late_items"] in {"i", "d"}
    sandbox.client.inject("logical-table-synced")
    wait_for(lambda: states()["late_items"] == "r", "late_items to sync")

    before = sequences(publisher)["invoice_numbers"]
    assert "advanced 40" in sandbox.client.inject("logical-sequence-behind", steps=40)
    assert sequences(publisher)["invoice_numbers"] == (before or 0) + 40

    errors = int(scalar(subscriber, APPLY_ERRORS_SQL))
    sandbox.client.inject("logical-stuck-slot")
    assert int(scalar(subscriber, APPLY_ERRORS_SQL)) > errors
    sandbox.client.inject("logical-slot-mended")
    write_one()
    wait_for(lambda: lag() == 0, "apply to go on after mending")

    sandbox.client.reset()
    assert "late_items" not in states()


def test_the_logical_config_points_the_cockpit_at_the_pair(sandbox: SandboxHandle) -> None:
    config = load_config(sandbox.directory / COCKPIT_LOGICAL_TOML)
    assert config.replication is not None and config.replication.logical is not None
    assert config.replication.logical.subscription == SUBSCRIPTION
    assert config.promotion is not None and config.promotion.logical is not None
    assert config.replication.postgres is None
    assert config.integrity is not None
    assert config.integrity.old_dsn == config.replication.logical.publisher_dsn


def test_the_logical_config_compares_the_asset_buckets_the_sandbox_holds(
    sandbox: SandboxHandle,
) -> None:
    """The bucket pair in the demo's config, read through moto's S3 over HTTP: the objects
    under the prefix only, the same on both sides."""
    config = load_config(sandbox.directory / COCKPIT_LOGICAL_TOML)
    assert config.integrity is not None
    (pair,) = config.integrity.buckets
    context = SourceContext(config, environ=sandbox.env)
    [source] = [s for s in build_sources(context) if isinstance(s, BucketIntegritySource)]

    done = poll_until_done(source)[-1]

    result = BucketValues.from_reading(done).result
    assert done.status is Status.OK, done.detail
    assert result is not None and (pair.old_bucket, pair.prefix) == ("shop-assets", "public/")
    assert result.old_objects == result.new_objects == len(asset_objects()) - 1


def test_a_cut_over_subscription_takes_no_more_lag_or_sequence_moves(
    sandbox: SandboxHandle,
) -> None:
    subscriber = sandbox.info["logical"]["subscriber_dsn"]
    with psycopg.connect(subscriber, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f"ALTER SUBSCRIPTION {SUBSCRIPTION} DISABLE")
    for scenario in ("logical-lag", "logical-sequence-behind"):
        with pytest.raises(SandboxError, match="the subscription is cut over"):
            sandbox.client.inject(scenario)
    sandbox.client.reset()
    assert scalar(subscriber, "SELECT bool_and(subenabled) FROM pg_subscription") is True
