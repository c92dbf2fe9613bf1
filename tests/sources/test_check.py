"""`cockpit check` against the sandbox: every configured signal, the exit code, no secrets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sandbox.shared import free_port

EXPECTED_SIGNALS = {
    "replication",
    "targets:tg-old",
    "targets:tg-new",
    "targets:app-old",
    "targets:app-new",
    "dns:app.cutover.test",
    "errors:cloudwatch:old",
    "errors:cloudwatch:new",
    "errors:access_log:old",
    "errors:access_log:new",
    "traffic",
    "maintenance",
}
EXIT_BY_STATUS = {"ok": 0, "warn": 1, "unknown": 1, "stale": 1, "critical": 2}


def check(sandbox: SandboxHandle, *args: str | Path, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "check", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **sandbox.env, **(env or {})},
    )


def readings_by_signal(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {reading["signal"]: reading for reading in document["readings"]}


def test_check_json_reads_every_configured_signal(sandbox: SandboxHandle) -> None:
    result = check(sandbox, "-c", sandbox.config_path, "--json")
    document = json.loads(result.stdout)
    readings = readings_by_signal(document)
    assert set(readings) == EXPECTED_SIGNALS
    guards = {entry["action"]: entry for entry in document["guards"]}
    assert list(guards) == [
        "maintenance-on",
        "maintenance-off",
        "promote",
        "weight-up",
        "weight-down",
        "rollback",
    ]
    assert guards["maintenance-on"]["ready"] is True
    promote = {g["guard"]: g for g in guards["promote"]["guards"]}
    assert promote["promotion-requires-maintenance"]["passed"] is False
    assert "maintenance is off" in promote["promotion-requires-maintenance"]["reason"]
    assert guards["rollback"]["ready"] is False
    worst = max((EXIT_BY_STATUS[r["status"]] for r in readings.values()), default=0)
    assert result.returncode == worst
    assert readings["replication"]["values"]["in_recovery"] is True
    assert readings["targets:tg-new"]["values"]["total"] == 1
    assert readings["traffic"]["values"]["weights"] == {"old": 100.0, "new": 0.0}
    for signal in ("errors:cloudwatch:old", "errors:cloudwatch:new", "errors:access_log:old"):
        values = readings[signal]["values"]
        if not values["requests"]:  # no data is never 0 %
            assert values["error_ratio"] is None
            if signal.endswith(":new"):
                assert readings[signal]["status"] == "ok", "new has 0 %: idle is expected"
                assert readings[signal]["detail"].endswith(": expected, its weight is 0 %")
            else:
                assert readings[signal]["status"] == "unknown"


def test_check_exits_2_on_a_critical_signal(sandbox: SandboxHandle) -> None:
    sandbox.client.inject("target-unhealthy", side="new")
    result = check(sandbox, "-c", sandbox.config_path, "--json")
    readings = readings_by_signal(json.loads(result.stdout))
    assert readings["targets:app-new"]["status"] == "critical"
    assert result.returncode == 2


def test_check_table_spells_statuses_in_words_and_shows_every_guard(
    sandbox: SandboxHandle,
) -> None:
    sandbox.client.inject("target-unhealthy", side="new")
    result = check(sandbox, "-c", sandbox.config_path, env={"NO_COLOR": "1", "COLUMNS": "160"})
    lines = result.stdout.splitlines()
    assert "STATUS" in result.stdout
    assert any(" CRIT " in line and "targets:app-new" in line for line in lines)
    assert "CRITICAL" not in result.stdout, "the screen's word, CRIT"
    assert any("maintenance-on" in line and "READY" in line for line in lines)
    promote = next(line for line in lines if " promote " in f" {line} ")
    assert "BLOCKED" in promote and "maintenance is off" in promote
    assert {"weight-up", "weight-down", "rollback", "maintenance-off"} <= set(result.stdout.split())
    assert "overall: CRIT" in result.stdout
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_a_pre_flight_check_comes_out_green_before_traffic_moves(sandbox: SandboxHandle) -> None:
    """Weights old 100 / new 0: the idle new side is expected, so nothing keeps this from 0."""
    deadline = time.monotonic() + 90
    while True:
        result = check(sandbox, "-c", sandbox.config_path, "--json")
        document = json.loads(result.stdout)
        if result.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    not_ok = {r["signal"]: r["detail"] for r in document["readings"] if r["status"] != "ok"}
    assert result.returncode == 0, not_ok
    assert (document["status"], document["word"], document["exit_code"]) == ("ok", "OK", 0)


def test_a_warning_exits_1(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """A resolver that does not answer (nothing listens on its port) is a WARN: exit 1."""
    dead_port = free_port("127.0.0.9", socket.SOCK_DGRAM)
    text = sandbox.config_path.read_text().replace(
        "resolvers = [\n",
        f'resolvers = [\n    {{ address = "127.0.0.9:{dead_port}", name = "gone" }},\n',
        1,
    )
    config = tmp_path / "cockpit.toml"
    config.write_text(text)
    result = check(sandbox, "-c", config, "--json")
    dns = readings_by_signal(json.loads(result.stdout))["dns:app.cutover.test"]
    assert (dns["status"], dns["word"]) == ("warn", "WARN"), dns["detail"]
    assert result.returncode == 1


def test_watch_repeats_the_check_and_exits_with_the_last_code(sandbox: SandboxHandle) -> None:
    result = check(sandbox, "-c", sandbox.config_path, "--json", "--watch", "0.2", "--count", "2")
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(documents) == 2, "one JSON document per line, one line per check"
    assert documents[0]["checked_at"] < documents[1]["checked_at"]
    assert result.returncode == documents[-1]["exit_code"]
    for reading in documents[-1]["readings"]:
        assert reading["word"] in {"OK", "WARN", "CRIT", "UNKNOWN", "STALE"}


def test_check_never_shows_a_password(sandbox: SandboxHandle, tmp_path: Path) -> None:
    password = sandbox.env["COCKPIT_SANDBOX_PGPASSWORD"]
    text = sandbox.config_path.read_text().replace(
        'password_env = "COCKPIT_SANDBOX_PGPASSWORD"', ""
    )
    text = text.replace("dbname=shop", f"dbname=shop password={password}x")
    config = tmp_path / "cockpit.toml"
    config.write_text(text)
    result = check(sandbox, "-c", config, "--json")
    assert password not in result.stdout + result.stderr
    readings = readings_by_signal(json.loads(result.stdout))
    assert "authentication failed" in readings["replication"]["detail"]


def test_check_with_a_bad_config_is_a_clean_error(tmp_path: Path, sandbox: SandboxHandle) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[cutover]\nname = 'x'\nrefresh = 1\n")
    result = check(sandbox, "-c", config)
    assert result.returncode == 3
    assert "cutover.refresh: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
