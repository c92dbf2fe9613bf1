"""The database integrity source and `cockpit integrity` against two real PostgreSQL servers.

The source checks in the background: its first readings say how far it got, then every
table's result; a re-check keeps the last result until it is done. The command runs the same
check from a shell and exits 2 on a difference.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import tomli_w

from cockpit.config import config_from_data
from cockpit.io.context import SourceContext
from cockpit.io.integrity_result import IntegrityRun, TableResult
from cockpit.model import Status
from cockpit.sandbox.twin import TwinServers
from cockpit.sources.background import CheckState
from cockpit.sources.integrity_database import DatabaseIntegritySource, classify
from cockpit.sources.integrity_values import DatabaseValues, integrity_verdict, verdict_of
from tests.integrity_support import poll_until_done
from tests.sandbox.test_postgres import stop_and_remove

PASSWORD = "s0urce 'check' pass"
PASSWORD_ENV = "COCKPIT_TEST_INTEGRITY_SOURCE_PASSWORD"
WAIT_SECONDS = 60.0


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwinServers]:
    servers = TwinServers.create(tmp_path_factory.mktemp("twins"), password=PASSWORD)
    try:
        with psycopg.connect(servers.endpoints.dsn("old"), autocommit=True) as connection:
            connection.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
            connection.execute(
                "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 3000) g"
            )
            connection.execute("CREATE TABLE notes (body text)")
            connection.execute(
                "INSERT INTO notes SELECT 'note ' || g FROM generate_series(1, 50) g"
            )
            connection.execute("ANALYZE")
        servers.copy_old_to_new()
        yield servers
    finally:
        stop_and_remove(servers)


def integrity_data(twins: TwinServers) -> dict[str, object]:
    return {
        "old_dsn": twins.endpoints.reader_dsn("old", with_password=False),
        "new_dsn": twins.endpoints.reader_dsn("new", with_password=False),
        "password_env": PASSWORD_ENV,
        "range_rows": 500,
    }


def source_for(twins: TwinServers, tmp_path: Path) -> DatabaseIntegritySource:
    data = {"cutover": {"name": "integrity"}, "integrity": integrity_data(twins)}
    config = config_from_data(data, source="test", base_dir=tmp_path)
    assert config.integrity is not None
    return DatabaseIntegritySource(
        config.integrity, SourceContext(config, {PASSWORD_ENV: PASSWORD})
    )


def test_the_check_runs_in_the_background_and_then_names_a_changed_row(
    twins: TwinServers, tmp_path: Path
) -> None:
    twins.copy_old_to_new()
    source = source_for(twins, tmp_path)
    readings = poll_until_done(source)
    assert readings[0].status is Status.UNKNOWN and readings[0].detail.startswith("checking")
    done = readings[-1]
    assert done.status is Status.OK, done.detail
    assert done.detail == "OK: 2 tables, 3,050 rows, the same in both databases"
    assert verdict_of(done) == "OK"
    verdict, started = integrity_verdict(done)
    assert verdict == "OK" and started is not None, "the guard can tell when the run started"

    with psycopg.connect(twins.endpoints.dsn("new"), autocommit=True) as connection:
        connection.execute("UPDATE items SET name = 'changed' WHERE id = 1234")
    assert source.check.start()
    (rechecking,) = asyncio.run(source.read())
    assert rechecking.status is Status.OK, "the last result stands while re-checking"
    assert "(re-checking: " in rechecking.detail
    changed = poll_until_done(source)[-1]
    assert changed.status is Status.CRITICAL
    assert changed.detail.startswith("DIFFERENT: public.items: DIFFERENT, 3000 old / 3000 new rows")
    assert "id=1234 differs" in changed.detail
    run = DatabaseValues.from_reading(changed).result
    assert run is not None and [r.table for r in run.results if r.status == "DIFFERENT"] == [
        "public.items"
    ]


def test_one_table_is_checked_again_and_the_run_keeps_its_start(
    twins: TwinServers, tmp_path: Path
) -> None:
    twins.copy_old_to_new()
    source = source_for(twins, tmp_path)
    assert not source.recheck_table("public.items"), "nothing to re-check before a first run"
    first = DatabaseValues.from_reading(poll_until_done(source)[-1]).result
    assert first is not None and first.status == "OK"

    with psycopg.connect(twins.endpoints.dsn("new"), autocommit=True) as connection:
        connection.execute("DELETE FROM items WHERE id = 9")
    assert source.recheck_table("public.items")
    again = poll_until_done(source)[-1]

    run = DatabaseValues.from_reading(again).result
    assert run is not None and again.status is Status.CRITICAL
    assert [(r.table, r.status) for r in run.results] == [
        ("public.items", "DIFFERENT"),
        ("public.notes", "OK"),
    ]
    assert run.result("public.notes") == first.result("public.notes")
    assert integrity_verdict(again) == ("DIFFERENT", first.started_at)


def test_cockpit_integrity_checks_the_databases_from_a_shell(
    twins: TwinServers, tmp_path: Path
) -> None:
    twins.copy_old_to_new()
    with psycopg.connect(twins.endpoints.dsn("new"), autocommit=True) as connection:
        connection.execute("DELETE FROM items WHERE id = 77")
    config = tmp_path / "cockpit.toml"
    config.write_text(
        tomli_w.dumps({"cutover": {"name": "integrity"}, "integrity": integrity_data(twins)})
    )
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "integrity", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, PASSWORD_ENV: PASSWORD},
    )
    assert result.returncode == 2, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "different"
    items = next(r for r in document["database"]["results"] if r["table"] == "public.items")
    assert items["first_differences"] == [{"key": "id=77", "kind": "missing on new"}]
    assert "table 1 of 2: public.items" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    notes = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit",
            "integrity",
            "-c",
            str(config),
            "--table",
            "public.notes",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, PASSWORD_ENV: PASSWORD},
    )
    assert notes.returncode == 0, notes.stderr
    assert "public.notes" in notes.stdout and "public.items" not in notes.stdout


def test_check_waits_for_the_integrity_result(twins: TwinServers, tmp_path: Path) -> None:
    """`cockpit check` is a one-shot: it reports the finished check, not "checking"."""
    from cockpit.commands.check import run_check

    twins.copy_old_to_new()
    data = {"cutover": {"name": "integrity"}, "integrity": integrity_data(twins)}
    data["journal"] = {"dir": str(tmp_path / "journal")}
    config = config_from_data(data, source="test", base_dir=tmp_path)
    result = run_check(config, {PASSWORD_ENV: PASSWORD})
    [reading] = [r for r in result.readings if r.signal_id == "integrity:database"]
    assert reading.status is Status.OK, reading.detail
    assert reading.detail.startswith("OK: 2 tables")
    weight_up = next(entry for entry in result.guards if entry["action"] == "weight-up")
    assert "integrity-clean" in json.dumps(weight_up["guards"])


def test_differences_found_while_writes_flow_read_warn_as_moving() -> None:
    now = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    differs = TableResult("public.items", "DIFFERENT", now, 3000, 2999, moving=True)
    run = IntegrityRun(now, now, "old", "new", (differs, TableResult("public.notes", "OK", now)))
    state = CheckState(False, now, None, run, None, now)

    status, detail = classify(state, now)
    assert status is Status.WARN
    assert detail == (
        "MOVING (the old database still takes writes; re-check once they stop): "
        "public.items: MOVING, 3000 old / 2999 new rows"
    )
    settled = replace(run, results=(replace(differs, moving=False),))
    assert classify(replace(state, last_result=settled), now)[0] is Status.CRITICAL
