"""The access log source with configured formats, on files the test writes (no nginx needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.clock import FrozenClock
from cockpit.config import load_config
from cockpit.io.context import SourceContext
from cockpit.io.http import PROBE_USER_AGENT
from cockpit.live.poller import poll_once
from cockpit.model import Reading, Status
from cockpit.sources.build import build_errors_sources

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def combined(at: datetime, status: int = 200, agent: str = "Mozilla/5.0") -> str:
    stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'10.0.0.7 - - [{stamp}] "GET / HTTP/1.1" {status} 512 "-" "{agent}"\n'


async def read(tmp_path: Path, log_format: str, *lines: str, at: datetime = NOW) -> Reading:
    log = tmp_path / "new.log"
    log.write_text("".join(lines))
    config_path = tmp_path / "cockpit.toml"
    config_path.write_text(
        '[cutover]\nname = "formats"\n[errors]\nwindow_seconds = 60\n'
        f'[[errors.access_logs]]\nside = "new"\npath = "{log}"\nformat = \'{log_format}\'\n'
    )
    context = SourceContext(load_config(config_path), {}, FrozenClock(at))
    (source,) = build_errors_sources(context)
    readings, _ = await poll_once(source)
    (reading,) = readings
    return reading


async def test_stock_combined_is_counted_not_zero(tmp_path: Path) -> None:
    lines = [combined(NOW - timedelta(seconds=i), 503 if i <= 3 else 200) for i in range(1, 41)]
    for configured in ("combined", "auto"):
        reading = await read(tmp_path, configured, *lines)
        assert (reading.values["requests"], reading.values["errors_5xx"]) == (40, 3)
        assert reading.values["p95_seconds"] is None
        assert reading.values["lines_not_understood"] == 0


async def test_probes_are_left_out_and_counted(tmp_path: Path) -> None:
    served = [combined(NOW - timedelta(seconds=i)) for i in range(1, 6)]
    probes = [combined(NOW - timedelta(seconds=i), 503, PROBE_USER_AGENT) for i in range(1, 5)]
    reading = await read(tmp_path, "combined", *served, *probes)
    assert (reading.values["requests"], reading.values["errors_5xx"]) == (5, 0)
    assert reading.values["probe_lines_excluded"] == 4
    assert "4 cockpit probe lines left out" in reading.detail


async def test_only_probes_at_zero_weight_are_no_requests(tmp_path: Path) -> None:
    probes = [combined(NOW - timedelta(seconds=i), 200, PROBE_USER_AGENT) for i in range(1, 5)]
    reading = await read(tmp_path, "combined", *probes)
    assert reading.status is Status.UNKNOWN and reading.values["requests"] == 0
    assert "error" not in reading.values
    assert reading.detail == "no requests in the last 60 s; 4 cockpit probe lines left out"


async def test_a_format_without_agent_cannot_tell_probes_apart(tmp_path: Path) -> None:
    line = f"{NOW.timestamp():.3f} 200 0.010\n"
    reading = await read(tmp_path, "$msec $status $request_time", line, line)
    assert reading.values["requests"] == 2 and reading.values["probe_lines_excluded"] is None
    assert reading.values["p95_seconds"] == 0.01


async def test_a_wrong_format_blocks_the_guard_instead_of_passing_as_zero(tmp_path: Path) -> None:
    lines = [combined(NOW - timedelta(seconds=i)) for i in range(1, 11)]
    reading = await read(tmp_path, "combined_request_time", *lines)
    assert reading.status is Status.UNKNOWN
    # "error" keeps the guards' no-traffic exemption (a counted zero at new 0 %) from passing.
    assert reading.values["requests"] is None and reading.values["error"]
    assert reading.detail.startswith(
        "the log does not match the configured format combined_request_time: none of its 10 lines"
    )
    assert "0 %" not in reading.detail


async def test_a_format_without_time_counts_lines_as_read(tmp_path: Path) -> None:
    reading = await read(tmp_path, '"$request" $status', '"GET / HTTP/1.1" 500\n' * 3)
    assert (reading.values["requests"], reading.values["errors_5xx"]) == (3, 3)
