"""Target health and traffic weights, read against the sandbox and checked by independent reads."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from botocore.exceptions import ClientError

from cockpit.clock import FrozenClock
from cockpit.config import (
    AlbTraffic,
    Config,
    HttpHealthCheck,
    TargetsSection,
    TrafficSection,
    load_config,
)
from cockpit.io.context import SourceContext
from cockpit.io.http import HttpAnswer, display_url, printable_snippet
from cockpit.io.traffic import (
    WeightsReadBack,
    fetch_route53_record_sets,
    forward_weights,
    has_maintenance_rule,
    parse_alb_weights,
    parse_route53_weights,
)
from cockpit.live.poller import poll_once
from cockpit.model import Reading, Status
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sources.base import Source
from cockpit.sources.targets import (
    HttpChecksSource,
    TargetGroupsSource,
    build_target_sources,
    classify_http_answer,
    classify_target_group,
    parse_target_health,
)
from cockpit.sources.traffic import build_traffic_sources, classify_traffic, step_position
from cockpit.units import percent_number
from tests.sandbox.test_sandbox import aws_client, upsert_weights

T = TypeVar("T")

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config.example.toml"
STEPS = (0, 5, 10, 25, 50, 75, 100)


# --- helpers ----------------------------------------------------------------------------------


def context_for(sandbox: SandboxHandle, config: Config | None = None) -> SourceContext:
    return SourceContext(
        config or load_config(sandbox.config_path),
        environ={**os.environ, **sandbox.env},
        clock=FrozenClock(datetime(2026, 11, 22, 2, 0, tzinfo=UTC)),
    )


def source_of(sources: list[Source], kind: type[T]) -> T:
    return next(source for source in sources if isinstance(source, kind))


async def poll(source: Source) -> dict[str, Reading]:
    readings, _ = await poll_once(source)
    return {reading.signal_id: reading for reading in readings}


async def until(probe: Callable[[], Awaitable[T | None]], within: float = 20.0) -> T:
    """Polls an async probe until it returns something truthy (the sandbox caches ~1 s)."""
    deadline = asyncio.get_running_loop().time() + within
    last: T | None = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met within {within} s (last value {last!r})")


def get(url: str) -> tuple[int, str]:
    """An independent GET: (status, body)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def target_health(sandbox: SandboxHandle, side: str) -> list[dict[str, Any]]:
    arn = sandbox.info["aws"]["target_groups"][side]
    answer = aws_client(sandbox, "elbv2").describe_target_health(TargetGroupArn=arn)
    return list(answer["TargetHealthDescriptions"])


def with_targets(config: Config, **changes: Any) -> Config:
    assert config.targets is not None
    return config.model_copy(update={"targets": config.targets.model_copy(update=changes)})


# --- target groups: pure -----------------------------------------------------------------------

RECORDED_TARGET_HEALTH = {
    "TargetHealthDescriptions": [
        {"Target": {"Id": "10.0.1.5", "Port": 80}, "TargetHealth": {"State": "healthy"}},
        {"Target": {"Id": "10.0.1.6", "Port": 80}, "TargetHealth": {"State": "healthy"}},
        {
            "Target": {"Id": "10.0.1.7", "Port": 80},
            "TargetHealth": {
                "State": "unhealthy",
                "Reason": "Target.Timeout",
                "Description": "Request timed out",
            },
        },
    ]
}


def test_some_unhealthy_is_a_warning_naming_the_target_and_its_reason() -> None:
    targets = parse_target_health(RECORDED_TARGET_HEALTH)
    verdict = classify_target_group(targets)
    assert verdict.status is Status.WARN
    assert (
        verdict.detail == "2/3 healthy; 10.0.1.7:80 unhealthy: Target.Timeout (Request timed out)"
    )
    assert targets[2].as_value() == {
        "id": "10.0.1.7:80",
        "state": "unhealthy",
        "reason": "Target.Timeout",
        "description": "Request timed out",
    }


def test_target_group_rules_all_healthy_none_healthy_and_empty() -> None:
    healthy = parse_target_health(
        {"TargetHealthDescriptions": RECORDED_TARGET_HEALTH["TargetHealthDescriptions"][:2]}
    )
    assert classify_target_group(healthy).status is Status.OK
    assert classify_target_group(healthy).detail == "2/2 healthy"
    none = parse_target_health(
        {"TargetHealthDescriptions": RECORDED_TARGET_HEALTH["TargetHealthDescriptions"][2:]}
    )
    assert classify_target_group(none).status is Status.CRITICAL
    assert classify_target_group([]).status is Status.CRITICAL
    assert classify_target_group([]).detail == "no targets registered"


def test_initial_and_draining_count_as_not_healthy_and_say_so() -> None:
    payload = {
        "TargetHealthDescriptions": [
            {"Target": {"Id": "i-0abc", "Port": 8080}, "TargetHealth": {"State": "healthy"}},
            {
                "Target": {"Id": "i-0def", "Port": 8080},
                "TargetHealth": {
                    "State": "initial",
                    "Reason": "Elb.RegistrationInProgress",
                    "Description": "Target registration is in progress",
                },
            },
            {
                "Target": {"Id": "2001:db8::7", "Port": 80},
                "TargetHealth": {"State": "draining", "Reason": "Target.DeregistrationInProgress"},
            },
        ]
    }
    verdict = classify_target_group(parse_target_health(payload))
    assert verdict.status is Status.WARN
    assert verdict.detail.startswith("1/3 healthy; i-0def:8080 initial (registering, not healthy")
    assert "[2001:db8::7]:80 draining (deregistering, not counted as healthy)" in verdict.detail


def test_http_answers_are_classified_as_an_alb_would() -> None:
    url = "http://10.0.0.1/health"
    ok, entry = classify_http_answer(HttpAnswer(200, None, b"ok", 0.012), 200, url)
    assert (ok.status, ok.detail, entry.state) == (Status.OK, "HTTP 200 in 12 ms", "healthy")
    moved, entry = classify_http_answer(HttpAnswer(302, "/login", b"", 0.002), 200, url)
    assert moved.status is Status.CRITICAL
    assert moved.detail == "redirect (HTTP 302 to /login) is not healthy"
    assert entry.state == "unhealthy"
    failing, entry = classify_http_answer(
        HttpAnswer(503, None, b"db\x00 down\n" * 20, 0.1), 200, url
    )
    assert failing.detail.startswith("HTTP 503: db\\x00 down db\\x00 down")
    assert len(failing.detail) <= len("HTTP 503: ") + 80 and failing.detail.endswith("…")
    empty, _ = classify_http_answer(HttpAnswer(204, None, b"", 0.1), 200, url)
    assert (empty.status, empty.detail) == (Status.CRITICAL, "HTTP 204 (expected 200)")
    assert printable_snippet("déjà\tvu\x07!".encode()) == "déjà vu\\x07!"
    assert display_url("https://u:secret@host:8443/health?x=1") == "https://host:8443/health?x=1"


# --- target groups: sandbox --------------------------------------------------------------------


async def test_target_groups_steady_state_matches_aws_and_the_health_urls(
    sandbox: SandboxHandle,
) -> None:
    source = source_of(build_target_sources(context_for(sandbox)), TargetGroupsSource)
    readings = await poll(source)
    assert set(readings) == {"targets:tg-old", "targets:tg-new"}
    for side in ("old", "new"):
        reading = readings[f"targets:tg-{side}"]
        described = target_health(sandbox, side)
        assert reading.status is Status.OK, reading.detail
        assert reading.detail == f"{len(described)}/{len(described)} healthy"
        assert reading.values["healthy"] == reading.values["total"] == len(described) == 1
        assert reading.values["unhealthy"] == 0
        assert reading.values["side"] == side
        expected_ids = [f"{d['Target']['Id']}:{d['Target']['Port']}" for d in described]
        assert [t["id"] for t in reading.values["targets"]] == expected_ids
        assert get(sandbox.info["http"][side] + "/health")[0] == 200


async def test_unhealthy_new_target_is_reported_with_its_reason_and_recovers(
    sandbox: SandboxHandle,
) -> None:
    source = source_of(build_target_sources(context_for(sandbox)), TargetGroupsSource)
    sandbox.client.inject("target-unhealthy", side="new")

    async def new_is_unhealthy() -> dict[str, Reading] | None:
        readings = await poll(source)
        return readings if readings["targets:tg-new"].status is not Status.OK else None

    readings = await until(new_is_unhealthy)
    new = readings["targets:tg-new"]
    assert new.status in (Status.WARN, Status.CRITICAL)
    assert "Target.ResponseCodeMismatch" in new.detail
    (target,) = new.values["targets"]
    described = target_health(sandbox, "new")[0]["TargetHealth"]
    assert target["state"] == described["State"] == "unhealthy"
    assert target["reason"] == described["Reason"] == "Target.ResponseCodeMismatch"
    assert get(sandbox.info["http"]["new"] + "/health")[0] == 503
    assert readings["targets:tg-old"].status is Status.OK

    sandbox.client.reset()

    async def new_is_healthy() -> bool:
        return (await poll(source))["targets:tg-new"].status is Status.OK

    await until(new_is_healthy)


async def test_one_failing_target_group_leaves_the_other_readable(sandbox: SandboxHandle) -> None:
    config = load_config(sandbox.config_path)
    assert config.targets is not None
    old_group, new_group = config.targets.target_groups
    missing_arn = new_group.arn.rsplit("/", 1)[0] + "/0000000000000000"
    broken = with_targets(
        config, target_groups=(old_group, new_group.model_copy(update={"arn": missing_arn}))
    )
    source = source_of(build_target_sources(context_for(sandbox, broken)), TargetGroupsSource)
    readings = await poll(source)
    new = readings["targets:tg-new"]
    assert new.status is Status.UNKNOWN
    assert new.detail == "AWS error TargetGroupNotFound: One or more target groups not found"
    assert "total" not in new.values and "healthy" not in new.values
    assert readings["targets:tg-old"].status is Status.OK


# --- HTTP health URLs --------------------------------------------------------------------------


async def test_http_checks_report_status_and_latency(sandbox: SandboxHandle) -> None:
    source = source_of(build_target_sources(context_for(sandbox)), HttpChecksSource)
    readings = await poll(source)
    targets = load_config(sandbox.config_path).targets
    assert targets is not None
    checks = {check.side: check.url for check in targets.http}
    for side in ("old", "new"):
        reading = readings[f"targets:app-{side}"]
        url = checks[side]
        assert get(sandbox.info["http"][side] + "/health")[0] == 200
        assert reading.status is Status.OK, reading.detail
        assert reading.values["status_code"] == 200
        latency = reading.number("latency_seconds")
        assert latency is not None and latency > 0
        assert reading.detail.startswith("HTTP 200 in ")
        assert reading.values["targets"] == (
            {"id": url, "state": "healthy", "reason": None, "description": None},
        )
        assert (reading.values["healthy"], reading.values["total"]) == (1, 1)


async def test_http_check_of_an_unhealthy_target_shows_the_answer(sandbox: SandboxHandle) -> None:
    source = source_of(build_target_sources(context_for(sandbox)), HttpChecksSource)
    sandbox.client.inject("target-unhealthy", side="new", reason="database unreachable")
    readings = await poll(source)
    status_code, body = get(sandbox.info["http"]["new"] + "/health")
    new = readings["targets:app-new"]
    assert new.status is Status.CRITICAL
    assert new.values["status_code"] == status_code == 503
    assert new.detail == f"HTTP 503: {body.strip()}"
    assert "database unreachable" in new.detail
    assert (new.values["healthy"], new.values["unhealthy"]) == (0, 1)
    assert readings["targets:app-old"].status is Status.OK
    sandbox.client.reset()
    assert (await poll(source))["targets:app-new"].status is Status.OK


class _RedirectToLogin(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "/login")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def redirecting_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RedirectToLogin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/health"


@pytest.fixture
def refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/health"


async def test_each_failing_health_url_says_why_and_the_others_stay_ok(
    sandbox: SandboxHandle, redirecting_url: str, silent_url: str, refused_url: str
) -> None:
    checks = {
        "refused": refused_url,
        "redirect": redirecting_url,
        "silent": silent_url,
        "tls": redirecting_url.replace("http://", "https://"),
        "app-old": sandbox.info["http"]["old"] + "/health",
    }
    section = TargetsSection(
        timeout_seconds=1.0,
        http=tuple(HttpHealthCheck(name=n, side="new", url=u) for n, u in checks.items()),
    )
    config = load_config(sandbox.config_path).model_copy(update={"targets": section})
    readings = await poll(
        source_of(build_target_sources(context_for(sandbox, config)), HttpChecksSource)
    )
    details = {signal: (r.status, r.detail) for signal, r in readings.items()}
    assert details["targets:refused"] == (Status.CRITICAL, "connection refused")
    assert details["targets:redirect"] == (
        Status.CRITICAL,
        "redirect (HTTP 302 to /login) is not healthy",
    )
    assert details["targets:silent"] == (Status.CRITICAL, "timeout after 0.8 s")
    assert details["targets:tls"][0] is Status.CRITICAL
    assert details["targets:tls"][1].startswith("TLS error")
    assert details["targets:app-old"][0] is Status.OK
    assert readings["targets:redirect"].values["status_code"] == 302
    assert readings["targets:refused"].values["status_code"] is None
    assert readings["targets:refused"].values["latency_seconds"] is None


# --- traffic: pure -----------------------------------------------------------------------------


def test_step_positions_and_percent_formatting() -> None:
    assert step_position(STEPS, 25.0) == step_position(STEPS, 25.0000000001)
    assert (step_position(STEPS, 25.0).index, step_position(STEPS, 25.0).next_percent) == (3, 50)
    between = step_position(STEPS, 30.0)
    assert (between.index, between.previous_percent, between.next_percent) == (None, 25, 50)
    assert step_position(STEPS, 100.0).next_percent is None
    assert step_position(STEPS, 0.0).previous_percent is None
    assert [percent_number(v) for v in (25.0, 100 / 3, 0.04, 99.96)] == [
        "25",
        "33.3",
        "0.04",
        "99.96",
    ]


def test_traffic_rules_on_read_back_weights() -> None:
    def verdict(old: int | None, new: int | None, problem: str | None = None) -> Any:
        return classify_traffic(WeightsReadBack("route53", old, new, problem, 60), STEPS)

    on_step = verdict(75, 25)
    assert (on_step.status, on_step.detail) == (
        Status.OK,
        "old 75 % / new 25 % (step 4 of 7: 25 %)",
    )
    assert on_step.values["weights"] == {"old": 75.0, "new": 25.0}
    assert on_step.values["previous_step_percent"] == 10
    off_plan = verdict(70, 30)
    assert (off_plan.status, off_plan.detail) == (
        Status.WARN,
        "new 30 % is not a planned step (between 25 % and 50 %)",
    )
    assert off_plan.values["step_index"] is None
    both_zero = verdict(0, 0)
    assert both_zero.status is Status.WARN and "evenly" in both_zero.detail
    assert both_zero.values["weights"] == {"old": 50.0, "new": 50.0}
    missing = verdict(100, None, "weighted record set 'new' not found")
    assert missing.status is Status.CRITICAL and missing.values["weights"] is None
    assert missing.values["raw_weights"] == {"old": 100, "new": None}


def test_route53_record_sets_are_parsed_and_missing_sets_named() -> None:
    config = load_config(EXAMPLE_CONFIG).traffic
    assert config is not None and config.route53 is not None
    r53 = config.route53
    sets = [
        {
            "Name": "x.",
            "Type": "A",
            "SetIdentifier": r53.old_set_identifier,
            "Weight": 3,
            "TTL": 60,
        },
        {
            "Name": "x.",
            "Type": "A",
            "SetIdentifier": r53.new_set_identifier,
            "Weight": 1,
            "TTL": 30,
        },
    ]
    read_back = parse_route53_weights(sets, r53)
    assert (read_back.old, read_back.new, read_back.ttl_seconds) == (3, 1, 60)
    missing = parse_route53_weights(sets[:1], r53)
    assert missing.problem is not None
    assert missing.problem.startswith(f"weighted record set {r53.new_set_identifier!r}")
    assert "not found" in missing.problem


def test_route53_pages_are_followed_while_the_name_still_matches() -> None:
    """A stub client at our adapter boundary hands out three pages; the third is another name."""
    config = load_config(EXAMPLE_CONFIG).traffic
    assert config is not None and config.route53 is not None
    name, rtype = config.route53.record_name + ".", config.route53.record_type
    pages = [
        {
            "ResourceRecordSets": [{"Name": name, "Type": rtype, "SetIdentifier": "a"}],
            "IsTruncated": True,
            "NextRecordName": name,
            "NextRecordType": rtype,
            "NextRecordIdentifier": "b",
        },
        {
            "ResourceRecordSets": [
                {"Name": name, "Type": rtype, "SetIdentifier": "b"},
                {"Name": "zz." + name, "Type": rtype},
            ],
            "IsTruncated": True,
            "NextRecordName": "zzz." + name,
            "NextRecordType": rtype,
        },
    ]
    requests: list[dict[str, str]] = []

    class PagedClient:
        def list_resource_record_sets(self, **request: str) -> dict[str, Any]:
            requests.append(request)
            return pages[len(requests) - 1]

    found = fetch_route53_record_sets(PagedClient(), config.route53)
    assert [s["SetIdentifier"] for s in found] == ["a", "b"]
    assert len(requests) == 2 and requests[1]["StartRecordIdentifier"] == "b"


def test_alb_forwards_are_read_like_the_alb_does() -> None:
    old, new, other = (f"arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/{n}/1" for n in "abc")
    alb = AlbTraffic.model_construct(
        listener_arn="x", old_target_group_arn=old, new_target_group_arn=new
    )
    plain = {"DefaultActions": [{"Type": "forward", "TargetGroupArn": old}]}
    assert forward_weights(plain["DefaultActions"]) == {old: 1}
    plain_read = parse_alb_weights(plain, alb, False)
    assert (plain_read.old, plain_read.new, plain_read.problem) == (1, 0, None)
    assert classify_traffic(plain_read, STEPS).values["weights"] == {"old": 100.0, "new": 0.0}
    groups = [{"TargetGroupArn": old, "Weight": 90}, {"TargetGroupArn": other, "Weight": 10}]
    elsewhere = {"DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]}
    three = parse_alb_weights(elsewhere, alb, False)
    assert (three.old, three.new, three.problem) == (90, 0, None)
    assert [(m.name, m.role, m.weight) for m in three.members] == [
        (old, "old", 90),
        (new, "new", 0),
        (other, "other", 10),
    ]
    assert classify_traffic(three, STEPS).detail == (
        "a 90 % / b 0 % / c 10 %; new is 0 % of old + new (step 1 of 7: 0 %)"
    )
    fixed = {"DefaultActions": [{"Type": "fixed-response"}]}
    assert classify_traffic(parse_alb_weights(fixed, alb, None), STEPS).status is Status.CRITICAL
    rules = [
        {"IsDefault": False, "Actions": [{"Type": "fixed-response"}]},
        {"IsDefault": True, "Actions": [{"Type": "forward"}]},
    ]
    assert has_maintenance_rule(rules) and not has_maintenance_rule(rules[1:])


# --- traffic: sandbox --------------------------------------------------------------------------


def record_sets(sandbox: SandboxHandle) -> dict[str, dict[str, Any]]:
    """An independent read of the weighted record sets, by SetIdentifier."""
    aws = sandbox.info["aws"]
    listed = aws_client(sandbox, "route53").list_resource_record_sets(
        HostedZoneId=aws["hosted_zone_id"]
    )["ResourceRecordSets"]
    return {s["SetIdentifier"]: s for s in listed if "SetIdentifier" in s}


async def test_route53_weights_follow_the_zone_through_the_step_plan(
    sandbox: SandboxHandle,
) -> None:
    (source,) = build_traffic_sources(context_for(sandbox))
    reading = (await poll(source))["traffic"]
    sets = record_sets(sandbox)
    assert reading.status is Status.OK, reading.detail
    assert reading.values["raw_weights"] == {
        "old": sets["old"]["Weight"],
        "new": sets["new"]["Weight"],
    }
    assert reading.values["weights"] == {"old": 100.0, "new": 0.0}
    assert (reading.values["step_index"], reading.values["next_step_percent"]) == (0, 5)
    assert reading.values["previous_step_percent"] is None
    assert reading.values["ttl_seconds"] == sets["new"]["TTL"] == sandbox.info["aws"]["ttl"]
    assert reading.values["backend"] == "route53"

    upsert_weights(sandbox, 75, 25)
    reading = (await poll(source))["traffic"]
    assert reading.detail == "old 75 % / new 25 % (step 4 of 7: 25 %)"
    assert (reading.values["step_index"], reading.values["next_step_percent"]) == (3, 50)
    assert reading.values["raw_weights"] == {"old": 75, "new": 25}

    upsert_weights(sandbox, 70, 30)
    reading = (await poll(source))["traffic"]
    assert reading.status is Status.WARN
    assert reading.detail == "new 30 % is not a planned step (between 25 % and 50 %)"
    assert record_sets(sandbox)["new"]["Weight"] == 30

    upsert_weights(sandbox, 0, 0)
    reading = (await poll(source))["traffic"]
    assert reading.status is Status.WARN and "Route 53 answers evenly" in reading.detail


async def test_a_deleted_weighted_set_is_critical_and_recovers(sandbox: SandboxHandle) -> None:
    (source,) = build_traffic_sources(context_for(sandbox))
    aws = sandbox.info["aws"]
    aws_client(sandbox, "route53").change_resource_record_sets(
        HostedZoneId=aws["hosted_zone_id"],
        ChangeBatch={
            "Changes": [{"Action": "DELETE", "ResourceRecordSet": record_sets(sandbox)["new"]}]
        },
    )
    assert "new" not in record_sets(sandbox)
    reading = (await poll(source))["traffic"]
    assert reading.status is Status.CRITICAL
    assert reading.detail.startswith("weighted record set 'new' not found")
    assert reading.values["raw_weights"] == {"old": 100, "new": None}
    assert reading.values["weights"] is None
    sandbox.client.reset()
    assert (await poll(source))["traffic"].status is Status.OK


def alb_config(sandbox: SandboxHandle) -> Config:
    aws = sandbox.info["aws"]
    alb = AlbTraffic(
        listener_arn=aws["listener_arn"],
        old_target_group_arn=aws["target_groups"]["old"],
        new_target_group_arn=aws["target_groups"]["new"],
    )
    traffic = TrafficSection(steps=STEPS, alb=alb)
    return load_config(sandbox.config_path).model_copy(update={"traffic": traffic})


def listener_weights(sandbox: SandboxHandle) -> dict[str, int]:
    """An independent read of the listener's forward weights, by side."""
    aws = sandbox.info["aws"]
    listener = aws_client(sandbox, "elbv2").describe_listeners(ListenerArns=[aws["listener_arn"]])
    groups = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    by_arn = {g["TargetGroupArn"]: g["Weight"] for g in groups}
    return {side: by_arn[arn] for side, arn in aws["target_groups"].items()}


async def test_alb_weights_follow_modify_listener(sandbox: SandboxHandle) -> None:
    aws = sandbox.info["aws"]
    (source,) = build_traffic_sources(context_for(sandbox, alb_config(sandbox)))
    reading = (await poll(source))["traffic"]
    assert reading.status is Status.OK, reading.detail
    assert reading.values["raw_weights"] == listener_weights(sandbox) == {"old": 100, "new": 0}
    assert (reading.values["backend"], reading.values["ttl_seconds"]) == ("alb", None)
    assert reading.values["maintenance_rule"] is False

    elbv2 = aws_client(sandbox, "elbv2")
    groups = [
        {"TargetGroupArn": aws["target_groups"]["old"], "Weight": 50},
        {"TargetGroupArn": aws["target_groups"]["new"], "Weight": 50},
    ]
    elbv2.modify_listener(
        ListenerArn=aws["listener_arn"],
        DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}],
    )
    elbv2.create_rule(
        ListenerArn=aws["listener_arn"],
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain"},
            }
        ],
    )
    reading = (await poll(source))["traffic"]
    assert reading.values["raw_weights"] == listener_weights(sandbox) == {"old": 50, "new": 50}
    assert reading.values["weights"] == {"old": 50.0, "new": 50.0}
    assert reading.values["step_index"] == 4
    assert reading.values["maintenance_rule"] is True
    assert "fixed-response rule" in reading.detail


async def test_throttling_reaches_the_screen_as_a_reason() -> None:
    """A stub at our adapter boundary (the AWS client) raises what botocore does when throttled."""

    class ThrottledRoute53:
        def list_resource_record_sets(self, **_: str) -> dict[str, Any]:
            error = {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}
            raise ClientError(error, "ListResourceRecordSets")

    class ThrottledClients:
        def client(self, service: str, **_: Any) -> Any:
            assert service == "route53"
            return ThrottledRoute53()

    context = SourceContext(load_config(EXAMPLE_CONFIG), environ={})
    context.aws = ThrottledClients()  # type: ignore[assignment]
    (source,) = build_traffic_sources(context)
    readings, succeeded = await poll_once(source)
    assert not succeeded
    (reading,) = readings
    assert (reading.signal_id, reading.status) == ("traffic", Status.UNKNOWN)
    assert "throttled" in reading.detail
