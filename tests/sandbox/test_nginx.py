"""Against Debian's nginx: access log readings equal the lines counted in the file, and HTTP
checks by host header, TLS server name with a private CA, and expected body.

Each test runs its own nginx in front of its own app server, so the log holds only what the
test sent; the truth is counted from the file with plain string splitting.
"""

from __future__ import annotations

import http.client
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cockpit.clock import system_clock
from cockpit.config import Config, HttpHealthCheck, TargetsSection, load_config
from cockpit.io.context import SourceContext
from cockpit.io.http import PROBE_USER_AGENT
from cockpit.live.poller import poll_once
from cockpit.log_format import NGINX_COMBINED
from cockpit.model import Reading, Status
from cockpit.sandbox.http import AppServer
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sandbox.nginx import (
    TIMED_LOG_FORMAT,
    WRONG_HOST_BODY,
    NginxServer,
    NginxSite,
    make_certificate,
)
from cockpit.sandbox.shared import free_port
from cockpit.sources.build import build_errors_sources
from cockpit.sources.errors_access_log import AccessLogErrorsSource
from cockpit.sources.targets import HttpChecksSource, build_target_sources

pytestmark = pytest.mark.skipif(
    not NginxServer.available(), reason="nginx is not installed (apt-get install nginx-light)"
)

T = TypeVar("T")
HOST = "127.0.30.1"
HOSTNAME = "app.cutover.test"
CLIENT_AGENT = "nginx-test-client/1.0"


@dataclass
class Behind:
    """One app behind one nginx site, and where that site logs."""

    app: AppServer
    site: NginxSite
    ca_file: Path
    nginx: NginxServer


@pytest.fixture
def behind_nginx(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Behind]:
    """nginx writing the format the test is parametrized with (None: stock combined)."""
    log_format = getattr(request, "param", None)
    app = AppServer("new", HOST, free_port(HOST), tmp_path / "app.log", rng=random.Random(13))
    app.start()
    certificate = make_certificate(tmp_path / "tls", HOSTNAME)
    site = NginxSite(
        "new",
        HOST,
        free_port(HOST),
        (HOST, int(app.url.rsplit(":", 1)[1])),
        tmp_path / "access.log",
        log_format,
        free_port(HOST),
    )
    nginx = NginxServer(tmp_path / "nginx", (HOSTNAME,), (site,), certificate)
    try:
        nginx.start()
        yield Behind(app, site, certificate[0], nginx)
    finally:
        nginx.stop()
        app.stop()


def eventually(probe: Callable[[], T | None], within: float = 30.0) -> T:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"not within {within} s")


def get(url: str, path: str, *, host: str = HOSTNAME, agent: str = CLIENT_AGENT) -> int:
    host_port = url.removeprefix("http://")
    connection = http.client.HTTPConnection(host_port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host, "User-Agent": agent})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def log_with(path: Path, count: int) -> list[str]:
    """The log's lines once it holds at least `count` of them."""
    return eventually(lambda: [lines] if len(lines := lines_of(path)) >= count else None)[0]


def send_traffic(behind: Behind, *, requests: int, probes: int, error_rate: float) -> list[str]:
    """Client requests and cockpit-agent probes; returns the log once all of them are in it."""
    behind.app.set_error_rate(error_rate)
    for index in range(requests):
        get(behind.site.url, f"/shop/{index}")
    for _ in range(probes):
        get(behind.site.url, "/health", agent=PROBE_USER_AGENT)
    return log_with(behind.site.access_log, requests + probes)


@dataclass(frozen=True)
class Truth:
    requests: int
    errors_5xx: int
    probes: int


def truth_of(lines: list[str]) -> Truth:
    """Counted with string splitting: status after the quoted request, agent quoted 3rd."""
    requests = errors = probes = 0
    for line in lines:
        quoted = line.split('"')
        status, agent = int(quoted[2].split()[0]), quoted[5]
        if agent == PROBE_USER_AGENT:
            probes += 1
            continue
        requests += 1
        errors += 500 <= status <= 599
    return Truth(requests, errors, probes)


def errors_config(tmp_path: Path, log: Path, log_format: str) -> Config:
    path = tmp_path / "cockpit.toml"
    path.write_text(
        '[cutover]\nname = "nginx"\n[errors]\nwindow_seconds = 300\n'
        f'[[errors.access_logs]]\nside = "new"\npath = "{log}"\nformat = \'{log_format}\'\n'
    )
    return load_config(path)


async def read_errors(tmp_path: Path, log: Path, log_format: str) -> Reading:
    context = SourceContext(errors_config(tmp_path, log, log_format), {}, system_clock)
    (source,) = build_errors_sources(context)
    assert isinstance(source, AccessLogErrorsSource)
    readings, _ = await poll_once(source)
    (reading,) = readings
    return reading


def assert_matches_truth(reading: Reading, truth: Truth) -> None:
    assert truth.requests > 0 and truth.errors_5xx > 0 and truth.probes > 0
    assert reading.values["requests"] == truth.requests
    assert reading.values["errors_5xx"] == truth.errors_5xx
    assert reading.values["error_ratio"] == pytest.approx(truth.errors_5xx / truth.requests)
    assert reading.values["probe_lines_excluded"] == truth.probes
    assert f"{truth.errors_5xx} of {truth.requests} requests" in reading.detail
    assert f"{truth.probes} cockpit probe lines left out" in reading.detail


# --- access logs ------------------------------------------------------------------------------


async def test_stock_combined_counts_requests_and_has_no_p95(
    behind_nginx: Behind, tmp_path: Path
) -> None:
    lines = send_traffic(behind_nginx, requests=60, probes=4, error_rate=0.3)
    truth = truth_of(lines)
    for configured in ("combined", "auto"):
        reading = await read_errors(tmp_path, behind_nginx.site.access_log, configured)
        assert_matches_truth(reading, truth)
        assert reading.values["p95_seconds"] is None
        assert "p95 unavailable (" in reading.detail and "p95 0" not in reading.detail
    assert "the log format has no $request_time or $upstream_response_time" in (
        (await read_errors(tmp_path, behind_nginx.site.access_log, "combined")).detail
    )


@pytest.mark.parametrize(
    ("behind_nginx", "configured"),
    [
        (f"{NGINX_COMBINED} $request_time", "combined_request_time"),
        (f"{NGINX_COMBINED} $upstream_response_time", "combined_upstream_time"),
        (TIMED_LOG_FORMAT, TIMED_LOG_FORMAT),
    ],
    indirect=["behind_nginx"],
    ids=["request_time", "upstream_response_time", "both"],
)
async def test_timed_formats_give_a_p95(
    behind_nginx: Behind, tmp_path: Path, configured: str
) -> None:
    lines = send_traffic(behind_nginx, requests=40, probes=3, error_rate=0.25)
    reading = await read_errors(tmp_path, behind_nginx.site.access_log, configured)
    assert_matches_truth(reading, truth_of(lines))
    # The first time after the agent: $request_time when logged, else the upstream's.
    times = [float(line.split('"')[6].split()[0]) for line in lines if "/shop/" in line]
    assert reading.values["p95_seconds"] == sorted(times)[math.ceil(0.95 * len(times)) - 1]
    assert "p95 " in reading.detail


async def test_lines_not_understood_are_counted_and_shown(
    behind_nginx: Behind, tmp_path: Path
) -> None:
    send_traffic(behind_nginx, requests=30, probes=2, error_rate=0.2)
    with behind_nginx.site.access_log.open("a") as log:
        log.write("a line from something else\n\x1b[31mnot a request\x1b[0m\n{}\n")
    lines = lines_of(behind_nginx.site.access_log)
    reading = await read_errors(tmp_path, behind_nginx.site.access_log, "combined")
    assert_matches_truth(reading, truth_of(lines[:-3]))
    assert reading.values["lines_not_understood"] == 3
    assert "3 lines not understood as combined" in reading.detail
    assert "\x1b" not in reading.detail


async def test_a_wrong_format_is_said_never_zero_requests(
    behind_nginx: Behind, tmp_path: Path
) -> None:
    lines = send_traffic(behind_nginx, requests=20, probes=1, error_rate=0.0)
    reading = await read_errors(tmp_path, behind_nginx.site.access_log, "combined_request_time")
    assert reading.status is Status.UNKNOWN
    assert reading.values["requests"] is None and reading.values["error_ratio"] is None
    assert reading.values["lines_not_understood"] == len(lines)
    assert "error" in reading.values
    assert "does not match the configured format combined_request_time" in reading.detail
    assert f"{len(lines)} lines" in reading.detail and "0 %" not in reading.detail


async def test_rotation_with_a_reopen_by_signal_loses_no_line(
    behind_nginx: Behind, tmp_path: Path
) -> None:
    log = behind_nginx.site.access_log
    context = SourceContext(errors_config(tmp_path, log, "combined"), {}, system_clock)
    (source,) = build_errors_sources(context)
    first = send_traffic(behind_nginx, requests=10, probes=0, error_rate=0.0)
    assert (await poll_once(source))[0][0].values["requests"] == 10
    rotated = log.rename(log.with_name("access.log.1"))
    assert get(behind_nginx.site.url, "/before-reopen") == 200  # still into the renamed file
    behind_nginx.nginx.reopen_logs()

    def after_reopen() -> list[str] | None:
        # Workers reopen a moment after the signal: a request may still land in the old file.
        assert get(behind_nginx.site.url, "/after-reopen") == 200
        return lines_of(log) or None

    after = eventually(after_reopen)
    (reading,), _ = await poll_once(source)
    truth = truth_of(lines_of(rotated) + after)
    assert len(lines_of(rotated)) >= len(first) + 1
    assert reading.values["requests"] == truth.requests == len(lines_of(rotated) + after)


# --- HTTP checks by name ----------------------------------------------------------------------


async def check_readings(tmp_path: Path, checks: list[dict[str, Any]]) -> dict[str, Reading]:
    config = errors_config(tmp_path, tmp_path / "unused.log", "combined")
    section = TargetsSection(
        timeout_seconds=5.0,
        http=tuple(HttpHealthCheck.model_validate({"side": "new", **c}) for c in checks),
    )
    context = SourceContext(config.model_copy(update={"targets": section}), {}, system_clock)
    (source,) = build_target_sources(context)
    assert isinstance(source, HttpChecksSource)
    readings, _ = await poll_once(source)
    return {reading.signal_id.removeprefix("targets:"): reading for reading in readings}


async def test_host_header_picks_the_site(behind_nginx: Behind, tmp_path: Path) -> None:
    url = f"{behind_nginx.site.url}/health"
    readings = await check_readings(
        tmp_path,
        [
            {"name": "right", "url": url, "host_header": HOSTNAME},
            {"name": "wrong", "url": url, "host_header": "wrong.cutover.test"},
            {"name": "none", "url": url},
        ],
    )
    assert readings["right"].status is Status.OK
    for name in ("wrong", "none"):
        assert readings[name].status is Status.CRITICAL
        assert readings[name].detail == f"HTTP 404: {WRONG_HOST_BODY}"
    agents = {line.split('"')[5] for line in lines_of(behind_nginx.site.access_log)}
    assert agents == {PROBE_USER_AGENT}


async def test_tls_server_name_with_the_private_ca(behind_nginx: Behind, tmp_path: Path) -> None:
    url = f"{behind_nginx.site.tls_url}/health"
    good = {"host_header": HOSTNAME, "tls_server_name": HOSTNAME}
    ca = {"ca_file": str(behind_nginx.ca_file)}
    readings = await check_readings(
        tmp_path,
        [
            {"name": "trusted", "url": url, **good, **ca},
            {"name": "untrusted", "url": url, **good},
            {"name": "wrong-name", "url": url, **good, **ca, "tls_server_name": "other.test"},
            {"name": "url-host", "url": url, "host_header": HOSTNAME, **ca},
        ],
    )
    assert readings["trusted"].status is Status.OK
    assert readings["trusted"].detail.startswith("HTTP 200 in ")
    for name, words in (
        ("untrusted", "certificate verify failed"),
        ("wrong-name", "other.test"),
        ("url-host", HOST),
    ):
        assert readings[name].status is Status.CRITICAL, name
        assert readings[name].detail.startswith("TLS error"), readings[name].detail
        assert (
            words in readings[name].detail or "CERTIFICATE_VERIFY_FAILED" in readings[name].detail
        )


async def test_expect_body(behind_nginx: Behind, tmp_path: Path) -> None:
    url = f"{behind_nginx.site.url}/health"
    readings = await check_readings(
        tmp_path,
        [
            {"name": "ok", "url": url, "host_header": HOSTNAME, "expect_body": "ok"},
            {"name": "ready", "url": url, "host_header": HOSTNAME, "expect_body": "ready"},
            {"name": "default", "url": url, "expect_body": "ok"},
        ],
    )
    assert readings["ok"].status is Status.OK
    ready = readings["ready"]
    assert ready.status is Status.CRITICAL
    assert 'but the body lacks "ready": ok' in ready.detail
    assert ready.values["targets"][0]["state"] == "unhealthy"  # type: ignore[index]
    assert readings["default"].status is Status.CRITICAL  # 404 from the default server


def test_wrong_host_request_is_logged_by_nginx(behind_nginx: Behind) -> None:
    assert get(behind_nginx.site.url, "/", host="wrong.cutover.test") == 404
    assert get(behind_nginx.site.url, "/") == 200
    lines = log_with(behind_nginx.site.access_log, 2)
    assert [line.split('"')[2].split()[0] for line in lines] == ["404", "200"]


# --- the sandbox ------------------------------------------------------------------------------


def test_sandbox_runs_nginx_and_points_the_cockpit_at_its_logs(sandbox: SandboxHandle) -> None:
    http = sandbox.info["http"]
    if not http.get("nginx"):
        pytest.skip(http.get("nginx_missing") or "the sandbox runs without nginx")
    pids = (Path(sandbox.info["config"]).parent / "pids.json").read_text()
    assert '"nginx"' in pids
    config = load_config(sandbox.config_path)
    assert config.errors is not None
    formats = {log.side: log.format for log in config.errors.access_logs}
    assert formats == {"old": "combined", "new": TIMED_LOG_FORMAT}
    assert config.targets is not None
    new_check = next(c for c in config.targets.http if c.side == "new")
    assert new_check.url.startswith("https://") and new_check.tls_server_name == HOSTNAME
    old_log = Path(http["access_logs"]["old"])
    eventually(lambda: any('" 200 ' in line for line in lines_of(old_log)))
    nginx_pid = json.loads(pids)["children"]["nginx"]
    assert Path(f"/proc/{nginx_pid}/cmdline").read_bytes().startswith(b"nginx: master process")
