"""The HTTP app servers, the front door and the traffic generator, over real HTTP on loopback."""

from __future__ import annotations

import http.client
import random
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cockpit.sandbox.http import AppServer, FrontDoor
from cockpit.sandbox.shared import (
    FixedResponse,
    SandboxError,
    Side,
    TrafficStats,
    Weights,
    free_port,
)
from cockpit.sandbox.traffic import TrafficGenerator

OLD_HOST = "127.0.10.1"
NEW_HOST = "127.0.20.1"
DOOR_HOST = "127.0.0.1"

ACCESS_LOG_LINE = re.compile(
    r"^(?P<remote_addr>127\.\d+\.\d+\.\d+) - - "
    r"\[(?P<time_local>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<body_bytes>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)" (?P<request_time>\d+\.\d{3})$'
)


@dataclass(frozen=True)
class Response:
    status: int
    served_by: str | None
    content_type: str | None
    content_length: int
    body: str


def fetch(
    url: str, path: str = "/", *, method: str = "GET", headers: dict[str, str] | None = None
) -> Response:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        body = response.read().decode()
        return Response(
            status=response.status,
            served_by=response.getheader("X-Served-By"),
            content_type=response.getheader("Content-Type"),
            content_length=int(response.getheader("Content-Length") or -1),
            body=body,
        )
    finally:
        connection.close()


def eventually(condition: Callable[[], bool], what: str, timeout_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def wait_for_log_lines(path: Path, count: int) -> list[dict[str, str]]:
    """The parsed access log once it holds `count` lines (lines are written after the response)."""
    eventually(lambda: len(log_lines(path)) >= count, f"{count} lines in {path.name}")
    lines = log_lines(path)
    assert len(lines) == count, lines
    parsed = [ACCESS_LOG_LINE.match(line) for line in lines]
    assert all(parsed), lines
    return [match.groupdict() for match in parsed if match]


@contextmanager
def running_app(side: Side, host: str, log: Path) -> Iterator[AppServer]:
    app = AppServer(side, host, free_port(host), log, rng=random.Random(7))
    app.start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def old_log(tmp_path: Path) -> Path:
    return tmp_path / "old" / "access.log"


@pytest.fixture
def new_log(tmp_path: Path) -> Path:
    return tmp_path / "new" / "access.log"


@pytest.fixture
def old_app(old_log: Path) -> Iterator[AppServer]:
    with running_app("old", OLD_HOST, old_log) as app:
        yield app


@pytest.fixture
def new_app(new_log: Path) -> Iterator[AppServer]:
    with running_app("new", NEW_HOST, new_log) as app:
        yield app


@dataclass
class LoadBalancerSettings:
    """What the test says the load balancer is configured with (the AWS stand-in's place)."""

    weights: Weights = field(default_factory=lambda: Weights(old=100, new=0))
    fixed_response: FixedResponse | None = None
    broken: bool = False
    weight_reads: list[Weights] = field(default_factory=list)

    def read_weights(self) -> Weights:
        if self.broken:
            raise RuntimeError("the AWS stand-in is not answering")
        self.weight_reads.append(self.weights)
        return self.weights

    def read_maintenance(self) -> FixedResponse | None:
        if self.broken:
            raise RuntimeError("the AWS stand-in is not answering")
        return self.fixed_response


@pytest.fixture
def settings() -> LoadBalancerSettings:
    return LoadBalancerSettings()


@pytest.fixture
def stats() -> TrafficStats:
    return TrafficStats()


@contextmanager
def running_door(
    upstreams: dict[Side, str],
    settings: LoadBalancerSettings,
    stats: TrafficStats,
    upstream_timeout_seconds: float = 5.0,
) -> Iterator[FrontDoor]:
    door = FrontDoor(
        DOOR_HOST,
        free_port(DOOR_HOST),
        upstreams,
        settings.read_weights,
        settings.read_maintenance,
        stats,
        rng=random.Random(42),
        upstream_timeout_seconds=upstream_timeout_seconds,
    )
    door.start()
    try:
        yield door
    finally:
        door.stop()


@pytest.fixture
def door(
    old_app: AppServer, new_app: AppServer, settings: LoadBalancerSettings, stats: TrafficStats
) -> Iterator[FrontDoor]:
    with running_door({"old": old_app.url, "new": new_app.url}, settings, stats) as door:
        yield door


def served_by(door: FrontDoor, requests: int) -> Counter[str | None]:
    return Counter(fetch(door.url, "/shop").served_by for _ in range(requests))


# --- app servers ----------------------------------------------------------------------------


def test_health_answers_ok_until_made_unhealthy_then_the_reason(old_app: AppServer) -> None:
    healthy = fetch(old_app.url, "/health")
    old_app.set_healthy(False, "database connection refused")
    unhealthy = fetch(old_app.url, "/health")

    assert (healthy.status, healthy.body, healthy.served_by) == (200, "ok", "old")
    assert healthy.content_type is not None and healthy.content_type.startswith("text/plain")
    assert (unhealthy.status, unhealthy.body) == (503, "database connection refused")
    assert old_app.knobs()["healthy"] is False


def test_pages_name_the_side_that_served_them(old_app: AppServer, new_app: AppServer) -> None:
    old_page, new_page = fetch(old_app.url, "/shop"), fetch(new_app.url, "/shop")

    assert (old_page.status, old_page.served_by) == (200, "old")
    assert "served by old" in old_page.body
    assert (new_page.status, new_page.served_by) == (200, "new")
    assert "served by new" in new_page.body


def test_maintenance_serves_a_503_page_while_health_stays_ok(new_app: AppServer) -> None:
    new_app.set_maintenance(True)
    page, health = fetch(new_app.url, "/cart"), fetch(new_app.url, "/health")
    new_app.set_maintenance(False)
    after = fetch(new_app.url, "/cart")

    assert page.status == 503
    assert page.content_type is not None and page.content_type.startswith("text/html")
    assert "maintenance" in page.body
    assert (health.status, health.body) == (200, "ok")
    assert after.status == 200


def test_error_rate_one_fails_every_page_and_zero_none(old_app: AppServer) -> None:
    old_app.set_error_rate(1.0)
    failing = [fetch(old_app.url, "/api/orders").status for _ in range(10)]
    health = fetch(old_app.url, "/health")
    old_app.set_error_rate(0.0)
    passing = [fetch(old_app.url, "/api/orders").status for _ in range(10)]

    assert failing == [500] * 10
    assert health.status == 200
    assert passing == [200] * 10


def test_error_rate_between_fails_some(old_app: AppServer) -> None:
    old_app.set_error_rate(0.5)
    statuses = Counter(fetch(old_app.url, "/").status for _ in range(60))

    assert set(statuses) == {200, 500}


def test_knobs_are_validated_and_reset(old_app: AppServer) -> None:
    with pytest.raises(SandboxError, match="error rate"):
        old_app.set_error_rate(1.5)
    with pytest.raises(SandboxError, match="latency"):
        old_app.set_latency_ms(-1)
    old_app.set_healthy(False, "draining")
    old_app.set_maintenance(True)
    old_app.set_error_rate(0.25)
    old_app.set_latency_ms(5)
    changed = old_app.knobs()
    old_app.reset()

    assert changed == {
        "healthy": False,
        "unhealthy_reason": "draining",
        "maintenance": True,
        "error_rate": 0.25,
        "latency_ms": 5,
    }
    assert old_app.knobs() == {
        "healthy": True,
        "unhealthy_reason": "",
        "maintenance": False,
        "error_rate": 0.0,
        "latency_ms": 0.0,
    }


def test_added_latency_shows_in_the_logged_request_time(old_app: AppServer, old_log: Path) -> None:
    old_app.set_latency_ms(150)
    fetch(old_app.url, "/shop")
    fetch(old_app.url, "/health")

    entries = wait_for_log_lines(old_log, 2)
    assert all(float(entry["request_time"]) >= 0.150 for entry in entries)


def test_access_log_has_one_combined_line_per_request(old_app: AppServer, old_log: Path) -> None:
    page = fetch(
        old_app.url,
        "/shop?item=7",
        headers={"Referer": "http://shop.cutover.test/", "User-Agent": 'probe "quoted"/1.0'},
    )
    health = fetch(old_app.url, "/health")
    old_app.set_maintenance(True)
    maintenance = fetch(old_app.url, "/cart", method="HEAD")
    old_app.set_maintenance(False)
    old_app.set_error_rate(1.0)
    failed = fetch(old_app.url, "/api/orders", method="POST")

    entries = wait_for_log_lines(old_log, 4)
    assert [(e["request"], e["status"]) for e in entries] == [
        ("GET /shop?item=7 HTTP/1.1", "200"),
        ("GET /health HTTP/1.1", "200"),
        ("HEAD /cart HTTP/1.1", "503"),
        ("POST /api/orders HTTP/1.1", "500"),
    ]
    assert [int(e["body_bytes"]) for e in entries] == [
        page.content_length,
        health.content_length,
        0,
        failed.content_length,
    ]
    assert maintenance.content_length > 0
    assert (entries[0]["referer"], entries[0]["user_agent"]) == (
        "http://shop.cutover.test/",
        r"probe \x22quoted\x22/1.0",
    )
    assert (entries[1]["referer"], entries[1]["user_agent"]) == ("-", "-")
    assert entries[0]["time_local"].endswith("+0000")


def test_malformed_requests_are_logged_too(old_app: AppServer, old_log: Path) -> None:
    host, port = old_app.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = raw.makefile("rb").read()

    assert reply.startswith(b"HTTP/1.0 501")
    entries = wait_for_log_lines(old_log, 1)
    assert (entries[0]["request"], entries[0]["status"]) == ("BREW /pot HTTP/1.1", "501")
    assert int(entries[0]["body_bytes"]) > 0


def test_reopen_after_rename_writes_to_a_fresh_file(old_app: AppServer, old_log: Path) -> None:
    fetch(old_app.url, "/before")
    wait_for_log_lines(old_log, 1)
    rotated = old_log.with_name("access.log.1")
    old_log.rename(rotated)
    fetch(old_app.url, "/while-rotating")
    wait_for_log_lines(rotated, 2)
    old_app.reopen_access_log()
    fetch(old_app.url, "/after")

    assert [e["request"] for e in wait_for_log_lines(old_log, 1)] == ["GET /after HTTP/1.1"]
    assert [e["request"] for e in wait_for_log_lines(rotated, 2)] == [
        "GET /before HTTP/1.1",
        "GET /while-rotating HTTP/1.1",
    ]


def test_stop_frees_the_port_and_is_idempotent(old_log: Path) -> None:
    port = free_port(OLD_HOST)
    first = AppServer("old", OLD_HOST, port, old_log)
    first.start()
    assert fetch(first.url, "/health").status == 200
    first.stop()
    first.stop()

    with pytest.raises(ConnectionRefusedError):
        fetch(f"http://{OLD_HOST}:{port}", "/health")
    second = AppServer("old", OLD_HOST, port, old_log)
    second.start()
    try:
        assert fetch(second.url, "/health").status == 200
    finally:
        second.stop()


def test_a_port_in_use_is_a_sandbox_error(old_app: AppServer, tmp_path: Path) -> None:
    port = int(old_app.url.rsplit(":", 1)[1])
    clash = AppServer("old", OLD_HOST, port, tmp_path / "clash.log")

    with pytest.raises(SandboxError, match="cannot listen"):
        clash.start()
    clash.stop()


def test_only_loopback_addresses_are_accepted(
    tmp_path: Path, settings: LoadBalancerSettings
) -> None:
    with pytest.raises(SandboxError, match="loopback"):
        AppServer("old", "0.0.0.0", 8080, tmp_path / "x.log")
    with pytest.raises(SandboxError, match="loopback"):
        FrontDoor(
            DOOR_HOST,
            0,
            {"old": "http://192.0.2.1:80", "new": "http://127.0.20.1:80"},
            settings.read_weights,
            settings.read_maintenance,
            TrafficStats(),
        )
    with pytest.raises(SandboxError, match="loopback"):
        TrafficGenerator("http://example.com/")


def test_port_zero_reports_the_bound_port(tmp_path: Path) -> None:
    app = AppServer("new", NEW_HOST, 0, tmp_path / "zero.log")
    app.start()
    try:
        assert not app.url.endswith(":0")
        assert fetch(app.url, "/health").status == 200
    finally:
        app.stop()


# --- front door -----------------------------------------------------------------------------


def test_all_weight_on_old_sends_everything_to_old(
    door: FrontDoor, settings: LoadBalancerSettings
) -> None:
    settings.weights = Weights(old=100, new=0)

    assert served_by(door, 20) == Counter({"old": 20})
    assert len(settings.weight_reads) == 20


def test_all_weight_on_new_sends_everything_to_new(
    door: FrontDoor, settings: LoadBalancerSettings
) -> None:
    settings.weights = Weights(old=0, new=100)

    assert served_by(door, 20) == Counter({"new": 20})


def test_even_weights_reach_both_sides_and_stats_agree(
    door: FrontDoor, settings: LoadBalancerSettings, stats: TrafficStats
) -> None:
    settings.weights = Weights(old=50, new=50)
    sides = served_by(door, 200)
    counts = stats.drain()

    assert sides["old"] > 50 and sides["new"] > 50
    assert (counts["old"].requests, counts["new"].requests) == (sides["old"], sides["new"])
    assert len(counts["old"].response_times_seconds) == sides["old"]
    assert stats.drain()["old"].requests == 0


def test_stats_count_5xx_per_side(
    door: FrontDoor,
    old_app: AppServer,
    settings: LoadBalancerSettings,
    stats: TrafficStats,
) -> None:
    settings.weights = Weights(old=50, new=50)
    old_app.set_error_rate(1.0)
    responses = [fetch(door.url, "/api/orders") for _ in range(40)]
    counts = stats.drain()

    old_statuses = [r.status for r in responses if r.served_by == "old"]
    new_statuses = [r.status for r in responses if r.served_by == "new"]
    assert old_statuses and set(old_statuses) == {500}
    assert new_statuses and set(new_statuses) == {200}
    assert counts["old"].requests == counts["old"].errors_5xx == len(old_statuses)
    assert (counts["new"].requests, counts["new"].errors_5xx) == (len(new_statuses), 0)


def test_maintenance_fixed_response_overrides_and_is_not_counted(
    door: FrontDoor, settings: LoadBalancerSettings, stats: TrafficStats
) -> None:
    settings.fixed_response = FixedResponse(503, "text/html", "<h1>Back soon</h1>")
    during = fetch(door.url, "/shop")
    settings.fixed_response = None
    after = fetch(door.url, "/shop")
    counts = stats.drain()

    assert (during.status, during.body, during.served_by) == (503, "<h1>Back soon</h1>", None)
    assert during.content_type == "text/html"
    assert (after.status, after.served_by) == (200, "old")
    assert counts["old"].requests + counts["new"].requests == 1


def test_no_weight_anywhere_is_a_503_not_counted(
    door: FrontDoor, settings: LoadBalancerSettings, stats: TrafficStats
) -> None:
    settings.weights = Weights(old=0, new=0)
    response = fetch(door.url, "/")
    counts = stats.drain()

    assert response.status == 503
    assert "no weight" in response.body
    assert counts["old"].requests + counts["new"].requests == 0


def test_a_broken_configuration_source_gives_503_and_serving_goes_on(
    door: FrontDoor, settings: LoadBalancerSettings
) -> None:
    settings.broken = True
    broken = fetch(door.url, "/")
    settings.broken = False
    recovered = fetch(door.url, "/")

    assert broken.status == 503
    assert "not answering" in broken.body
    assert (recovered.status, recovered.served_by) == (200, "old")


def test_the_front_door_passes_method_path_and_body_through(door: FrontDoor, old_log: Path) -> None:
    response = fetch(door.url, "/api/orders?page=2", method="POST", headers={"User-Agent": "t/1"})

    assert (response.status, response.served_by) == (200, "old")
    entries = wait_for_log_lines(old_log, 1)
    assert (entries[0]["request"], entries[0]["user_agent"]) == (
        "POST /api/orders?page=2 HTTP/1.1",
        "t/1",
    )


def test_a_dead_upstream_is_a_502_counted_for_that_side(
    new_app: AppServer, settings: LoadBalancerSettings, stats: TrafficStats
) -> None:
    dead_old = f"http://{OLD_HOST}:{free_port(OLD_HOST)}"
    settings.weights = Weights(old=100, new=0)
    with running_door({"old": dead_old, "new": new_app.url}, settings, stats) as door:
        response = fetch(door.url, "/shop")

    counts = stats.drain()
    assert (response.status, response.served_by) == (502, "old")
    assert (counts["old"].requests, counts["old"].errors_5xx) == (1, 1)
    assert counts["new"].requests == 0


def test_a_slow_upstream_is_a_504_counted_for_that_side(
    old_app: AppServer,
    new_app: AppServer,
    settings: LoadBalancerSettings,
    stats: TrafficStats,
) -> None:
    old_app.set_latency_ms(5000)
    upstreams: dict[Side, str] = {"old": old_app.url, "new": new_app.url}
    with running_door(upstreams, settings, stats, upstream_timeout_seconds=0.2) as door:
        response = fetch(door.url, "/shop")

    counts = stats.drain()
    assert response.status == 504
    assert (counts["old"].requests, counts["old"].errors_5xx) == (1, 1)


def test_the_front_door_stop_frees_its_port(
    old_app: AppServer, new_app: AppServer, settings: LoadBalancerSettings, stats: TrafficStats
) -> None:
    upstreams: dict[Side, str] = {"old": old_app.url, "new": new_app.url}
    with running_door(upstreams, settings, stats) as door:
        url = door.url
        assert fetch(url, "/").status == 200
        door.stop()

    with pytest.raises(ConnectionRefusedError):
        fetch(url, "/")


# --- traffic generator ----------------------------------------------------------------------


def test_traffic_reaches_both_sides_and_stops_when_told(
    door: FrontDoor,
    settings: LoadBalancerSettings,
    stats: TrafficStats,
    old_log: Path,
    new_log: Path,
) -> None:
    settings.weights = Weights(old=50, new=50)
    traffic = TrafficGenerator(door.url, rate_per_second=100, rng=random.Random(3))
    traffic.start()
    try:
        eventually(lambda: sum(traffic.counts().values()) >= 30, "30 responses")
    finally:
        traffic.stop()
    after_stop = traffic.counts()
    time.sleep(0.3)
    counts = stats.drain()

    assert traffic.counts() == after_stop
    assert set(after_stop) == {200}
    assert counts["old"].requests > 0 and counts["new"].requests > 0
    assert counts["old"].requests + counts["new"].requests >= after_stop[200]
    for log in (old_log, new_log):
        lines = log_lines(log)
        assert lines and all('"cockpit-traffic/0.1"' in line for line in lines)


def test_traffic_counts_server_errors_by_status(
    door: FrontDoor, old_app: AppServer, settings: LoadBalancerSettings
) -> None:
    old_app.set_error_rate(1.0)
    traffic = TrafficGenerator(door.url, rate_per_second=100, paths=("/cart",))
    traffic.start()
    try:
        eventually(lambda: traffic.counts().get(500, 0) >= 5, "5 responses with status 500")
    finally:
        traffic.stop()

    assert set(traffic.counts()) == {500}


def test_traffic_to_nothing_counts_connection_failures(tmp_path: Path) -> None:
    traffic = TrafficGenerator(f"http://{DOOR_HOST}:{free_port(DOOR_HOST)}", rate_per_second=50)
    traffic.start()
    try:
        eventually(lambda: traffic.counts().get(0, 0) >= 3, "3 connection failures")
    finally:
        traffic.stop()
        traffic.stop()

    assert set(traffic.counts()) == {0}


def test_traffic_rate_zero_pauses_and_a_new_rate_resumes(door: FrontDoor) -> None:
    traffic = TrafficGenerator(door.url, rate_per_second=0)
    traffic.start()
    try:
        time.sleep(0.3)
        paused = traffic.counts()
        traffic.set_rate(100)
        eventually(lambda: sum(traffic.counts().values()) >= 5, "5 responses after resuming")
    finally:
        traffic.stop()

    assert paused == {}
    with pytest.raises(SandboxError, match="rate"):
        traffic.set_rate(-1)


def test_stop_does_not_wait_for_slow_responses(
    door: FrontDoor, old_app: AppServer, stats: TrafficStats
) -> None:
    old_app.set_latency_ms(4000)
    traffic = TrafficGenerator(door.url, rate_per_second=20, request_timeout_seconds=30)
    traffic.start()
    time.sleep(0.2)
    traffic.stop()
    unanswered = stats.drain()

    assert traffic.counts() == {}
    assert unanswered["old"].requests == 0, "stop() waited for a response the door had recorded"
