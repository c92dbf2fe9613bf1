"""How fast the integrity check compares a one-million-row table on two servers, against a plain
`md5(string_agg(...))` over the whole table on each side, measured in the same run.

Both servers get the same rows (inserted by the same generate_series), then are vacuumed and
analysed. The check runs with its default range size and a rate cap too high to bind; a second
check runs after ten rows on the new side were changed, to show what finding them costs.

Run: .venv/bin/python benchmarks/integrity.py [--rows N] [--runs N]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from cockpit.config import IntegritySection
from cockpit.io.integrity_db import check_databases
from cockpit.sandbox.twin import Twin, TwinServers

PASSWORD_ENV = "BENCH_INTEGRITY_PASSWORD"
TABLE = "public.bench_orders"
CREATE = (
    f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, customer_id int NOT NULL,"
    " amount numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL, note text)"
)
FILL = (
    f"INSERT INTO {TABLE} SELECT g, g %% 5000, (g %% 100000) / 100.0,"
    " timestamptz '2026-01-01 00:00+00' + g * interval '1 second', md5(g::text) || md5(g::text)"
    " FROM generate_series(1, %s) AS g"
)
BASELINE = f"SELECT md5(string_agg(t::text, '' ORDER BY t.id)) FROM {TABLE} AS t"
CHANGE_TEN_ROWS = f"UPDATE {TABLE} SET note = 'changed' WHERE id %% (%s / 10) = 7"


def execute(twins: TwinServers, server: Twin, statement: str, params: object = None) -> None:
    with psycopg.connect(twins.endpoints.dsn(server), autocommit=True) as connection:
        connection.execute(statement, params)  # type: ignore[arg-type]


def fill_both(twins: TwinServers, rows: int) -> None:
    for server in ("old", "new"):
        execute(twins, server, CREATE)
        execute(twins, server, FILL, (rows,))
        execute(twins, server, f"VACUUM ANALYZE {TABLE}")


def baseline_seconds(twins: TwinServers) -> float:
    """md5 of the whole table in key order, on the old side and then the new side."""
    started = time.perf_counter()
    digests = set()
    for server in ("old", "new"):
        with psycopg.connect(twins.endpoints.dsn(server)) as connection:
            row = connection.execute(BASELINE).fetchone()
            digests.add(None if row is None else row[0])
    elapsed = time.perf_counter() - started
    assert len(digests) == 1, "the two sides should hold the same rows"
    return elapsed


def check_seconds(twins: TwinServers, expected_status: str) -> tuple[float, int]:
    """(seconds, queries) of one integrity check of the table."""
    endpoints = twins.endpoints
    settings = IntegritySection(
        old_dsn=endpoints.reader_dsn("old", with_password=False),
        new_dsn=endpoints.reader_dsn("new", with_password=False),
        password_env=PASSWORD_ENV,
        tables=(TABLE,),
        max_rows_per_second=100_000_000,
    )
    started = time.perf_counter()
    run = check_databases(settings, {PASSWORD_ENV: endpoints.password})
    elapsed = time.perf_counter() - started
    (result,) = run.results
    assert result.status == expected_status, result.summary
    return elapsed, result.queries


def median_of(runs: int, measure: Callable[[], float]) -> float:
    measure()  # one unmeasured pass, so both start from a warm cache
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    rows, runs = arguments.rows, arguments.runs
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as scratch:
        twins = TwinServers.create(Path(scratch), password=secrets.token_urlsafe(12))
        try:
            fill_both(twins, rows)
            baseline = median_of(runs, lambda: baseline_seconds(twins))
            identical = median_of(runs, lambda: check_seconds(twins, "OK")[0])
            _, identical_queries = check_seconds(twins, "OK")
            execute(twins, "new", CHANGE_TEN_ROWS, (rows,))
            different, different_queries = check_seconds(twins, "DIFFERENT")
        finally:
            twins.stop()
            shutil.rmtree(twins.data_root, ignore_errors=True)
    report(rows, runs, baseline, (identical, identical_queries), (different, different_queries))


def report(
    rows: int,
    runs: int,
    baseline: float,
    identical: tuple[float, int],
    different: tuple[float, int],
) -> None:
    print(f"rows: {rows} per side, runs: {runs} (median)")
    print(
        f"baseline  md5(string_agg) on each side:  {baseline:.2f} s  {rows / baseline:,.0f} rows/s"
    )
    seconds, queries = identical
    print(f"check     identical table:              {seconds:.2f} s  {rows / seconds:,.0f} rows/s")
    print(f"          queries: {queries}")
    seconds_changed, queries_changed = different
    print(
        f"check     ten rows changed on new:      {seconds_changed:.2f} s"
        f"  {rows / seconds_changed:,.0f} rows/s, queries: {queries_changed}"
    )
    print(f"ratio     check / baseline (identical): {seconds / baseline:.2f}x")


if __name__ == "__main__":
    main()
