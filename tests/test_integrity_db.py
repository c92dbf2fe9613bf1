"""The database integrity check against two real PostgreSQL 15 servers, an old and a new.

The old database is filled once (a bigint key, a composite key, a text key with hostile values,
hostile table and column names, a table without a primary key, an empty table); before each
test the new one is copied from it by pg_dump | pg_restore, then changed on purpose. The check
runs as a read-only role (pg_read_all_data), with its password from an environment variable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cockpit.config import IntegritySection
from cockpit.io.integrity_db import IntegrityControls, check_databases, check_table
from cockpit.io.integrity_ranges import BlockPlan, RowPacer, merged_differences
from cockpit.io.integrity_result import IntegrityProgress, IntegrityRun, RowDifference
from cockpit.outside import outside_text
from cockpit.sandbox.pg_server import dsn
from cockpit.sandbox.postgres import PostgresPair
from cockpit.sandbox.twin import Twin, TwinServers
from tests.sandbox.test_dns import ManualClock
from tests.sandbox.test_postgres import stop_and_remove, wait_for

# A space and a quote prove the password travels intact; it must never be shown.
PASSWORD = "hv7 q'uiet-Secret-9204"
PASSWORD_ENV = "COCKPIT_TEST_INTEGRITY_PASSWORD"
RANGE_ROWS = 1000
ORDERS = 30_000
ORDER_LINES = 4000 * 3
ODD_TABLE = 'public."Odd ""name"".with.dots"'
HOSTILE_NAMES = (
    "Robert'); DROP TABLE accounts;--",
    'quote"s, (parens) and \\backslash',
    "line\nbreak\ttab",
    "\x1b[31mred\x1b[0m",
    "right-to-left \u202e override",
    "%s and {} and %(x)s",
    "sql ' || pg_sleep(5) || '",
    "emoji 🚀 and ünïcödé",
)
KEYED_TABLES = {
    "public.orders": ORDERS,
    "public.order_lines": ORDER_LINES,
    "public.accounts": 2000 + len(HOSTILE_NAMES),
    "public.empty_things": 0,
    ODD_TABLE: 500,
}

SCHEMA = (
    "CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2),"
    " placed_at timestamptz, note text)",
    "INSERT INTO orders SELECT g, 'customer ' || (g % 97), (g * 1.25)::numeric(12,2),"
    " timestamptz '2026-01-01 00:00+00' + g * interval '1 minute',"
    " CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END"
    f" FROM generate_series(1, {ORDERS}) AS g",
    "CREATE TABLE order_lines (order_id bigint, line int, sku text, quantity int,"
    " PRIMARY KEY (order_id, line))",
    "INSERT INTO order_lines SELECT o, l, 'sku-' || (o * l % 500), l"
    " FROM generate_series(1, 4000) AS o, generate_series(1, 3) AS l",
    "CREATE TABLE accounts (name text PRIMARY KEY, balance bigint)",
    "INSERT INTO accounts SELECT 'user ' || g, g FROM generate_series(1, 2000) AS g",
    # No primary key, and duplicate rows: compared by count and a whole-table hash.
    "CREATE TABLE events (kind text, payload jsonb)",
    "INSERT INTO events SELECT 'kind ' || (g % 5), jsonb_build_object('n', g % 50)"
    " FROM generate_series(1, 5000) AS g",
    "CREATE TABLE empty_things (id int PRIMARY KEY)",
    # Names the statements use for themselves, as columns of a table named with dots and quotes.
    f'CREATE TABLE {ODD_TABLE} ("t" int PRIMARY KEY, "row_hash" text, "key_0" text,'
    ' "position" int)',
    f"INSERT INTO {ODD_TABLE} SELECT g, 'h' || g, 'k' || g, -g FROM generate_series(1, 500) AS g",
)


def execute(twins: TwinServers, server: Twin, *statements: str, params: Any = None) -> None:
    """Statements run as the application role (which owns every table) on one server."""
    with psycopg.connect(twins.endpoints.dsn(server), autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement, params)


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwinServers]:
    """Both servers, the old one filled; stopped by PID when the module is done."""
    servers = TwinServers.create(tmp_path_factory.mktemp("twins"), password=PASSWORD)
    try:
        execute(servers, "old", *SCHEMA)
        for name in HOSTILE_NAMES:
            execute(servers, "old", "INSERT INTO accounts VALUES (%s, 1)", params=(name,))
        execute(servers, "old", "ANALYZE")
        yield servers
    finally:
        stop_and_remove(servers)


@pytest.fixture
def copied(twins: TwinServers) -> TwinServers:
    """The new database freshly copied from the old one."""
    twins.copy_old_to_new()
    return twins


def settings(twins: TwinServers, **changes: Any) -> IntegritySection:
    endpoints = twins.endpoints
    fields: dict[str, Any] = {
        "old_dsn": endpoints.reader_dsn("old", with_password=False),
        "new_dsn": endpoints.reader_dsn("new", with_password=False),
        "password_env": PASSWORD_ENV,
        "range_rows": RANGE_ROWS,
    }
    return IntegritySection(**(fields | changes))


ENVIRON = {PASSWORD_ENV: PASSWORD}


def by_table(run: IntegrityRun) -> dict[str, Any]:
    return {result.table: result for result in run.results}


def identical_table_queries(rows: int) -> int:
    """The bound for a table with a primary key that is the same on both sides: its shape on
    each side, then one statement on each side per range of RANGE_ROWS (the last one open)."""
    return 2 + 2 * (rows // RANGE_ROWS + 1)


def lsn(position: str | None) -> int:
    """A WAL position (as pg_lsn prints it) as a number, to compare."""
    high, low = str(position).split("/")
    return (int(high, 16) << 32) + int(low, 16)


def key(text: str) -> str:
    """A key as a result names it: made visible on one line."""
    return outside_text(text, 160)


# --- identical copies -----------------------------------------------------------------------------


@pytest.mark.parametrize("parallel_tables", [1, 3])
def test_identical_copy_is_ok_in_one_pass(copied: TwinServers, parallel_tables: int) -> None:
    run = check_databases(settings(copied, parallel_tables=parallel_tables), ENVIRON)

    results = by_table(run)
    assert run.status == "OK", [r.summary for r in run.results]
    assert set(results) == {*KEYED_TABLES, "public.events"}
    for table, rows in KEYED_TABLES.items():
        assert (results[table].old_rows, results[table].new_rows) == (rows, rows)
        assert results[table].queries == identical_table_queries(rows), table
        assert not results[table].no_primary_key
    events = results["public.events"]
    assert events.status == "OK" and events.no_primary_key
    assert (events.old_rows, events.new_rows) == (5000, 5000)
    assert all(r.old_position and r.new_position for r in run.results)
    assert run.error is None and not run.cancelled


def test_a_run_reads_back_from_its_json(copied: TwinServers) -> None:
    execute(copied, "new", "DELETE FROM orders WHERE id = 7")
    run = check_databases(settings(copied), ENVIRON)

    assert IntegrityRun.from_json(json.loads(json.dumps(run.to_json()))) == run
    assert run.to_json()["status"] == "DIFFERENT"


# --- differences made on purpose ------------------------------------------------------------------


def test_exactly_the_changed_rows_are_named(copied: TwinServers) -> None:
    execute(
        copied,
        "new",
        "DELETE FROM orders WHERE id = 1234",
        "UPDATE orders SET note = 'changed' WHERE id = 20500",
        "INSERT INTO orders VALUES (30001, 'late customer', 1.00, now(), NULL)",
        "UPDATE order_lines SET quantity = 99 WHERE order_id = 517 AND line = 2",
        "UPDATE events SET payload = '{\"n\": -1}'"
        " WHERE ctid = (SELECT ctid FROM events WHERE kind = 'kind 3' LIMIT 1)",
        "DROP TABLE empty_things",
    )
    execute(
        copied, "new", "UPDATE accounts SET balance = 2 WHERE name = %s", params=(HOSTILE_NAMES[0],)
    )
    execute(copied, "new", "DELETE FROM accounts WHERE name = %s", params=(HOSTILE_NAMES[3],))

    results = by_table(check_databases(settings(copied), ENVIRON))

    assert not any(result.moving for result in results.values())
    assert results["public.orders"].first_differences == (
        RowDifference("id=1234", "missing on new"),
        RowDifference("id=20500", "differs"),
        RowDifference("id=30001", "extra on new"),
    )
    assert results["public.order_lines"].first_differences == (
        RowDifference("order_id=517, line=2", "differs"),
    )
    assert set(results["public.accounts"].first_differences) == {
        RowDifference(key(f"name={HOSTILE_NAMES[0]}"), "differs"),
        RowDifference(key(f"name={HOSTILE_NAMES[3]}"), "missing on new"),
    }
    events = results["public.events"]
    assert (events.status, events.old_rows, events.new_rows) == ("DIFFERENT", 5000, 5000)
    assert events.no_primary_key and events.first_differences == ()
    empty = results["public.empty_things"]
    assert (empty.status, empty.table_difference) == ("DIFFERENT", "missing on new")
    assert results[ODD_TABLE].status == "OK"
    different = {table for table, result in results.items() if result.status == "DIFFERENT"}
    assert different == {table for table in results if table != ODD_TABLE}
    assert not any(r.more_differences for r in results.values())


def test_only_the_first_differences_are_named(copied: TwinServers) -> None:
    execute(copied, "new", "DELETE FROM orders WHERE id % 1000 = 5")

    run = check_databases(settings(copied, tables=("public.orders",), first_differences=3), ENVIRON)

    (orders,) = run.results
    assert [d.key for d in orders.first_differences] == ["id=5", "id=1005", "id=2005"]
    assert orders.more_differences and orders.new_rows == ORDERS - 30


def test_a_changed_column_list_is_named(copied: TwinServers) -> None:
    execute(copied, "new", "ALTER TABLE order_lines ADD COLUMN gift boolean")

    run = check_databases(settings(copied, tables=("public.order_lines",)), ENVIRON)

    (lines,) = run.results
    assert lines.table_difference == "columns differ (only on old: none; only on new: gift boolean)"
    assert lines.status == "DIFFERENT" and lines.more_differences


def test_a_difference_found_while_the_old_side_takes_writes_is_moving(
    copied: TwinServers,
) -> None:
    """A write on the old database during the check moves its WAL past the table's snapshot:
    the difference is marked moving. Checked again with writes stopped, it is plain DIFFERENT."""
    execute(copied, "new", "DELETE FROM orders WHERE id = 1234")
    config = settings(copied, tables=("public.orders",))
    written: list[int] = []

    def write_on_old(progress: IntegrityProgress) -> None:
        if not written:
            execute(copied, "old", "UPDATE orders SET note = note WHERE id = 1")
            written.append(progress.ranges_done)

    (during,) = check_databases(config, ENVIRON, IntegrityControls(progress=write_on_old)).results
    (after,) = check_databases(config, ENVIRON).results

    assert written
    assert (during.status, during.moving, during.word) == ("DIFFERENT", True, "MOVING")
    assert during.first_differences == (RowDifference("id=1234", "missing on new"),)
    assert during.summary.startswith("public.orders: MOVING, ")
    assert (after.status, after.moving, after.word) == ("DIFFERENT", False, "DIFFERENT")


# --- one table again ------------------------------------------------------------------------------


def test_one_table_is_checked_again_by_its_name(copied: TwinServers) -> None:
    before = check_table(settings(copied), ENVIRON, ODD_TABLE)
    execute(copied, "new", f"UPDATE {ODD_TABLE} SET row_hash = 'x' WHERE t = 250")
    after = check_table(settings(copied), ENVIRON, ODD_TABLE)

    assert before.status == "OK" and before.table == ODD_TABLE
    assert after.first_differences == (RowDifference("t=250", "differs"),)


def test_a_schema_without_tables_is_named(copied: TwinServers) -> None:
    run = check_databases(settings(copied, schemas=("nothing_here",)), ENVIRON)

    assert run.error == "no tables in schemas nothing_here on the old database"
    assert run.status == "UNCHECKED"


def test_a_table_missing_on_the_old_side_is_unchecked(copied: TwinServers) -> None:
    result = check_table(settings(copied), ENVIRON, "public.nowhere")

    assert (result.status, result.error) == (
        "UNCHECKED",
        "no table public.nowhere on the old database",
    )


# --- failures -------------------------------------------------------------------------------------


def test_a_statement_timeout_leaves_the_table_unchecked(copied: TwinServers) -> None:
    tables = ("public.order_lines", "public.orders")
    config = settings(copied, tables=tables, statement_timeout_seconds=1.0)
    with psycopg.connect(copied.endpoints.dsn("new")) as holder:
        holder.execute("LOCK TABLE order_lines IN ACCESS EXCLUSIVE MODE")
        run = check_databases(config, ENVIRON)
        holder.rollback()

    lines, orders = run.results
    assert lines.status == "UNCHECKED"
    where = f"the new database ({copied.endpoints.host}:{copied.endpoints.new_port}, db shop)"
    assert lines.error == (
        f"{where}: a query ran past the statement timeout of 1 s "
        "(integrity.statement_timeout_seconds): lower range_rows or raise the timeout"
    )
    assert orders.status == "OK"


def test_no_password_in_any_text(copied: TwinServers) -> None:
    leaked = f"leak {PASSWORD}"
    execute(copied, "new", "INSERT INTO accounts VALUES (%s, 0)", params=(leaked,))
    with_password = copied.endpoints.reader_dsn("old")
    refused = dsn("127.0.0.1", 1, "cockpit_reader", "shop", PASSWORD)

    found = check_databases(settings(copied, tables=("public.accounts",)), ENVIRON)
    unreachable = check_databases(
        settings(copied, old_dsn=with_password, new_dsn=refused, password_env=None), {}
    )

    (accounts,) = found.results
    assert accounts.first_differences == (RowDifference("name=leak ***", "extra on new"),)
    assert unreachable.status == "UNCHECKED"
    assert unreachable.error == (
        "cannot connect to the new database (127.0.0.1:1, db shop): connection refused"
    )
    for run in (found, unreachable):
        assert PASSWORD not in json.dumps(run.to_json())


def test_an_unset_password_env_is_named(copied: TwinServers) -> None:
    run = check_databases(settings(copied), {})

    assert run.error == f"${PASSWORD_ENV} is not set (integrity.password_env): export it and retry"
    assert run.results == () and run.status == "UNCHECKED"


# --- load bounds ----------------------------------------------------------------------------------


def test_rows_per_second_stay_under_the_cap(copied: TwinServers) -> None:
    cap = 10_000
    clock = ManualClock()
    start = clock.now
    seen: list[tuple[float, int]] = []

    def record(progress: IntegrityProgress) -> None:
        seen.append((clock.now - start, progress.rows_done))

    controls = IntegrityControls(progress=record, monotonic=clock, sleep=clock.advance)
    config = settings(copied, tables=("public.orders",), max_rows_per_second=cap)
    (orders,) = check_databases(config, ENVIRON, controls).results

    assert orders.status == "OK"
    assert len(seen) == ORDERS // RANGE_ROWS + 1
    for elapsed, rows_done in seen:
        assert rows_done <= cap * elapsed + RANGE_ROWS
    assert clock.now - start >= (ORDERS - RANGE_ROWS) / cap


def test_cancel_stops_between_ranges(copied: TwinServers) -> None:
    cancel = threading.Event()

    def cancel_after_two_ranges(progress: IntegrityProgress) -> None:
        if progress.ranges_done == 2:
            cancel.set()

    controls = IntegrityControls(progress=cancel_after_two_ranges, cancel=cancel)
    config = settings(copied, tables=("public.orders", "public.order_lines"))
    orders, lines = check_databases(config, ENVIRON, controls).results

    assert (orders.status, orders.error) == ("UNCHECKED", "cancelled before the check finished")
    assert orders.queries == 2 + 2 * 2
    assert (lines.status, lines.error) == ("UNCHECKED", "cancelled before it was checked")


# --- a standby ------------------------------------------------------------------------------------


def test_a_standby_is_compared_at_its_replay_position(tmp_path: Path) -> None:
    """The old side may be a hot standby: its position is where replay stands."""
    pair = PostgresPair.create(tmp_path, password=PASSWORD)
    try:
        endpoints = pair.endpoints
        with psycopg.connect(endpoints.primary_dsn, autocommit=True) as primary:
            primary.execute("INSERT INTO orders (payload) SELECT 'x' FROM generate_series(1, 2500)")
            written = primary.execute("SELECT pg_current_wal_lsn()::text").fetchall()[0][0]
        wait_for(lambda: pair.replay_lag_bytes() == 0, "the replica to replay every write")
        config = IntegritySection(
            old_dsn=endpoints.without_password("replica"),
            new_dsn=endpoints.without_password("primary"),
            password_env=PASSWORD_ENV,
            tables=("public.orders",),
        )
        (orders,) = check_databases(config, ENVIRON).results
    finally:
        stop_and_remove(pair)

    assert (orders.status, orders.old_rows, orders.new_rows) == ("OK", 2500, 2500)
    assert lsn(orders.old_position) >= lsn(written)
    assert lsn(orders.new_position) >= lsn(orders.old_position)


# --- pure parts -----------------------------------------------------------------------------------


def test_block_ranges_hold_about_range_rows_and_the_last_is_open() -> None:
    plan = BlockPlan(blocks=10, rows_estimate=1000, range_rows=250)

    assert plan.bounds() == [(0, 2), (2, 4), (4, 6), (6, 8), (8, None)]
    assert BlockPlan(blocks=0, rows_estimate=None, range_rows=250).bounds() == [(0, None)]


def test_the_pacer_waits_until_the_rows_hashed_are_paid_for() -> None:
    clock = ManualClock()
    start = clock.now
    pacer = RowPacer(1000, clock, clock.advance)

    pacer.wait_turn()
    pacer.spend(500)
    pacer.wait_turn()
    pacer.spend(2000)
    pacer.wait_turn()

    assert clock.now - start == pytest.approx(2.5)


def test_merged_differences_keep_key_order() -> None:
    old = [(("1",), 10), (("2",), 20), (("4",), 40), (("6",), 60)]
    new = [(("0",), 0), (("2",), 21), (("3",), 30), (("4",), 40), (("7",), 70)]

    assert list(merged_differences(old, new)) == [
        (("1",), "missing on new"),
        (("0",), "extra on new"),
        (("2",), "differs"),
        (("3",), "extra on new"),
        (("6",), "missing on new"),
        (("7",), "extra on new"),
    ]
