"""`cockpit check` against the sandbox: every configured signal, the exit code, no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cockpit.sandbox.lifecycle import SandboxHandle

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
            expected = "ok" if signal.endswith(":new") else "unknown"
            assert readings[signal]["status"] == expected, "new has 0 %: idle is expected"
    assert readings["errors:cloudwatch:new"]["detail"].endswith(": expected, its weight is 0 %")


def test_check_exits_2_on_a_critical_signal(sandbox: SandboxHandle) -> None:
    sandbox.client.inject("target-unhealthy", side="new")
    result = check(sandbox, "-c", sandbox.config_path, "--json")
    readings = readings_by_signal(json.loads(result.stdout))
    assert readings["targets:app-new"]["status"] == "critical"
    assert result.returncode == 2


def test_check_table_spells_statuses_in_words(sandbox: SandboxHandle) -> None:
    result = check(sandbox, "-c", sandbox.config_path, env={"NO_COLOR": "1", "COLUMNS": "100"})
    assert "STATUS" in result.stdout
    assert "replication" in result.stdout
    assert "overall: " in result.stdout
    assert "Traceback" not in result.stderr


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
    assert result.returncode == 2
    assert "cutover.refresh: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
