"""The AWS stand-in: moto's real HTTP server driven through boto3, and the in-process readers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cockpit.sandbox.aws import (
    AwsSeed,
    AwsStandIn,
    MetricsPublisher,
    alb_maintenance,
    alb_weights,
    http_health_probe,
    install_target_health,
    load_balancer_dimension,
    route53_record_source,
    route53_weights,
    seed,
    target_group_dimension,
    uninstall_target_health,
)
from cockpit.sandbox.shared import (
    FixedResponse,
    SandboxError,
    Side,
    SideCounts,
    WeightedRecordSet,
    Weights,
    free_port,
)

OLD_IP = "127.0.10.1"
NEW_IP = "127.0.20.1"


class HealthServer:
    """A tiny real HTTP target on NEW_IP whose /health answers a status the test can flip."""

    def __init__(self) -> None:
        self.health_status = 200
        health_server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status = health_server.health_status if self.path == "/health" else 404
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((NEW_IP, 0), Handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> HealthServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _answers(endpoint_url: str) -> bool:
    host, port = endpoint_url.removeprefix("http://").split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        return client.connect_ex((host, int(port))) == 0


def test_stop_closes_the_server_and_lets_another_stand_in_start() -> None:
    first, second = AwsStandIn(), AwsStandIn()
    try:
        endpoint_url = first.start()
        assert first.start() == endpoint_url
        assert _answers(endpoint_url)
        first.stop()
        first.stop()
        assert not _answers(endpoint_url)
        assert _answers(second.start())
    finally:
        first.stop()
        second.stop()


@pytest.fixture(scope="module")
def health_server() -> Iterator[HealthServer]:
    with HealthServer() as server:
        yield server


@pytest.fixture(scope="module")
def old_port_with_nothing_listening() -> int:
    return free_port(OLD_IP)


@pytest.fixture(scope="module")
def aws(
    health_server: HealthServer, old_port_with_nothing_listening: int
) -> Iterator[tuple[AwsStandIn, AwsSeed]]:
    stand_in = AwsStandIn()
    try:
        started = time.perf_counter()
        stand_in.start()
        seeded_at = time.perf_counter()
        aws_seed = seed(
            stand_in,
            targets={
                "old": (OLD_IP, old_port_with_nothing_listening),
                "new": (NEW_IP, health_server.port),
            },
            answers={"old": (OLD_IP,), "new": (NEW_IP,)},
        )
        done = time.perf_counter()
        print(
            f"\nAWS stand-in: start() {seeded_at - started:.2f} s, "
            f"seed() {done - seeded_at:.2f} s, total {done - started:.2f} s"
        )
        yield stand_in, aws_seed
    finally:
        stand_in.stop()
        stand_in.stop()


def test_seed_creates_the_zone_with_two_weighted_sets_of_the_same_ttl(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    stand_in, aws_seed = aws
    route53 = stand_in.client("route53")
    zone = route53.get_hosted_zone(Id=aws_seed.hosted_zone_id)["HostedZone"]
    record_sets = route53.list_resource_record_sets(HostedZoneId=aws_seed.hosted_zone_id)[
        "ResourceRecordSets"
    ]
    weighted = {r["SetIdentifier"]: r for r in record_sets if r["Name"] == "app.cutover.test."}

    assert zone["Name"] == "cutover.test."
    assert {sid: r["Weight"] for sid, r in weighted.items()} == {"old": 100, "new": 0}
    assert {r["TTL"] for r in weighted.values()} == {30}
    assert weighted["old"]["ResourceRecords"] == [{"Value": OLD_IP}]
    assert weighted["new"]["ResourceRecords"] == [{"Value": NEW_IP}]


def test_seed_creates_the_alb_with_a_weighted_listener_and_registered_targets(
    aws: tuple[AwsStandIn, AwsSeed],
    health_server: HealthServer,
    old_port_with_nothing_listening: int,
) -> None:
    stand_in, aws_seed = aws
    elbv2 = stand_in.client("elbv2")
    load_balancer = elbv2.describe_load_balancers(LoadBalancerArns=[aws_seed.load_balancer_arn])[
        "LoadBalancers"
    ][0]
    listener = elbv2.describe_listeners(ListenerArns=[aws_seed.listener_arn])["Listeners"][0]
    forward = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]

    assert (load_balancer["LoadBalancerName"], load_balancer["Scheme"]) == (
        "cutover-alb",
        "internet-facing",
    )
    assert (listener["Protocol"], listener["Port"]) == ("HTTP", 80)
    assert {g["TargetGroupArn"]: g["Weight"] for g in forward} == {
        aws_seed.target_groups["old"]: 100,
        aws_seed.target_groups["new"]: 0,
    }
    expected_targets: dict[Side, tuple[str, str, int]] = {
        "old": ("cutover-old", OLD_IP, old_port_with_nothing_listening),
        "new": ("cutover-new", NEW_IP, health_server.port),
    }
    for side, (name, ip, port) in expected_targets.items():
        arn = aws_seed.target_groups[side]
        group = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        assert (group["TargetGroupName"], group["TargetType"], group["Port"]) == (name, "ip", port)
        assert group["HealthCheckPath"] == "/health"
        assert [h["Target"] for h in health] == [{"Id": ip, "Port": port}]


def test_seed_creates_the_rds_primary_and_its_read_replica(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    stand_in, aws_seed = aws
    rds = stand_in.client("rds")
    replica = rds.describe_db_instances(DBInstanceIdentifier=aws_seed.rds_replica_id)[
        "DBInstances"
    ][0]
    primary = rds.describe_db_instances(DBInstanceIdentifier=aws_seed.rds_primary_id)[
        "DBInstances"
    ][0]

    assert (aws_seed.rds_primary_id, aws_seed.rds_replica_id) == ("shop-db", "shop-db-replica")
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == "shop-db"
    assert primary["Engine"] == "postgres"
    assert primary["ReadReplicaDBInstanceIdentifiers"] == ["shop-db-replica"]


def _upsert_weights(stand_in: AwsStandIn, aws_seed: AwsSeed, old: int, new: int) -> None:
    new_weights: tuple[tuple[Side, int], ...] = (("old", old), ("new", new))
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": aws_seed.record_name,
                "Type": "A",
                "TTL": aws_seed.ttl,
                "SetIdentifier": side,
                "Weight": weight,
                "ResourceRecords": [{"Value": value} for value in aws_seed.answers[side]],
            },
        }
        for side, weight in new_weights
    ]
    stand_in.client("route53").change_resource_record_sets(
        HostedZoneId=aws_seed.hosted_zone_id, ChangeBatch={"Changes": changes}
    )


def test_an_upsert_of_both_weights_is_seen_at_once_by_the_in_process_readers(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    stand_in, aws_seed = aws
    weights = route53_weights(stand_in, aws_seed)
    records = route53_record_source(stand_in, aws_seed.hosted_zone_id)
    assert weights() == Weights(old=100, new=0)

    _upsert_weights(stand_in, aws_seed, old=40, new=60)
    try:
        assert weights() == Weights(old=40, new=60)
        assert sorted(records("app.cutover.test.", "A"), key=lambda r: r.values) == [
            WeightedRecordSet("app.cutover.test.", "A", 30, (OLD_IP,), "old", 40),
            WeightedRecordSet("app.cutover.test.", "A", 30, (NEW_IP,), "new", 60),
        ]
    finally:
        _upsert_weights(stand_in, aws_seed, old=100, new=0)


def test_the_record_source_normalises_names_and_serves_apex_and_cname_records(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    stand_in, aws_seed = aws
    records = route53_record_source(stand_in, aws_seed.hosted_zone_id)
    stand_in.client("route53").change_resource_record_sets(
        HostedZoneId=aws_seed.hosted_zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "www.cutover.test.",
                        "Type": "CNAME",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "app.cutover.test"}],
                    },
                }
            ]
        },
    )

    assert {r.set_identifier for r in records("APP.Cutover.Test", "a")} == {"old", "new"}
    assert records("www.cutover.test.", "A") == [
        WeightedRecordSet("www.cutover.test.", "CNAME", 60, ("app.cutover.test.",))
    ]
    assert records("nothing.cutover.test.", "A") == []
    name_servers = records("cutover.test.", "NS")
    assert len(name_servers) == 1
    assert name_servers[0].values and all(v.endswith(".") for v in name_servers[0].values)
    assert [r.rtype for r in records("cutover.test.", "SOA")] == ["SOA"]


def test_the_record_source_says_when_the_zone_is_unknown(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    stand_in, _ = aws
    with pytest.raises(SandboxError, match="no hosted zone"):
        route53_record_source(stand_in, "/hostedzone/ZNOSUCHZONE")("app.cutover.test.", "A")


def _forward_to(aws_seed: AwsSeed, old: int, new: int) -> list[dict[str, Any]]:
    groups = [
        {"TargetGroupArn": aws_seed.target_groups["old"], "Weight": old},
        {"TargetGroupArn": aws_seed.target_groups["new"], "Weight": new},
    ]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]


def test_modify_listener_weights_are_seen_by_alb_weights(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    stand_in, aws_seed = aws
    elbv2 = stand_in.client("elbv2")
    weights = alb_weights(stand_in, aws_seed)
    assert weights() == Weights(old=100, new=0)

    elbv2.modify_listener(
        ListenerArn=aws_seed.listener_arn, DefaultActions=_forward_to(aws_seed, 25, 75)
    )
    try:
        assert weights() == Weights(old=25, new=75)
    finally:
        elbv2.modify_listener(
            ListenerArn=aws_seed.listener_arn, DefaultActions=_forward_to(aws_seed, 100, 0)
        )
    assert weights() == Weights(old=100, new=0)


def _create_fixed_response_rule(
    elbv2: Any, aws_seed: AwsSeed, priority: int, status: str, body: str
) -> str:
    rule = elbv2.create_rule(
        ListenerArn=aws_seed.listener_arn,
        Priority=priority,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": status,
                    "ContentType": "text/html",
                    "MessageBody": body,
                },
            }
        ],
    )["Rules"][0]
    arn: str = rule["RuleArn"]
    return arn


def test_a_fixed_response_rule_is_seen_by_alb_maintenance_until_deleted(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    stand_in, aws_seed = aws
    elbv2 = stand_in.client("elbv2")
    maintenance = alb_maintenance(stand_in, aws_seed)
    assert maintenance() is None

    lower = _create_fixed_response_rule(elbv2, aws_seed, 10, "500", "lower priority")
    higher = _create_fixed_response_rule(elbv2, aws_seed, 1, "503", "back soon")
    try:
        assert maintenance() == FixedResponse(503, "text/html", "back soon")
        elbv2.delete_rule(RuleArn=higher)
        assert maintenance() == FixedResponse(500, "text/html", "lower priority")
    finally:
        for arn in (higher, lower):
            with contextlib.suppress(elbv2.exceptions.RuleNotFoundException):
                elbv2.delete_rule(RuleArn=arn)
    assert maintenance() is None


def _target_health(stand_in: AwsStandIn, aws_seed: AwsSeed, side: Side) -> dict[str, Any]:
    descriptions = stand_in.client("elbv2").describe_target_health(
        TargetGroupArn=aws_seed.target_groups[side]
    )["TargetHealthDescriptions"]
    health: dict[str, Any] = descriptions[0]["TargetHealth"]
    return health


def test_target_health_follows_the_real_health_endpoints(
    aws: tuple[AwsStandIn, AwsSeed], health_server: HealthServer
) -> None:
    stand_in, aws_seed = aws
    try:
        health_server.health_status = 200
        install_target_health(http_health_probe())
        install_target_health(http_health_probe())
        assert _target_health(stand_in, aws_seed, "new") == {"State": "healthy"}
        assert _target_health(stand_in, aws_seed, "old") == {
            "State": "unhealthy",
            "Reason": "Target.FailedHealthChecks",
            "Description": "Health checks failed",
        }

        health_server.health_status = 503
        install_target_health(http_health_probe())
        assert _target_health(stand_in, aws_seed, "new") == {
            "State": "unhealthy",
            "Reason": "Target.ResponseCodeMismatch",
            "Description": "Health checks failed with these codes: [503]",
        }
    finally:
        health_server.health_status = 200
        uninstall_target_health()
    assert _target_health(stand_in, aws_seed, "old") == {"State": "healthy"}


def test_the_health_probe_reports_a_target_that_never_answers_as_timed_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        probe = http_health_probe(timeout_seconds=0.2)
        assert probe("127.0.0.1", silent.getsockname()[1]) == (
            "unhealthy",
            "Target.Timeout",
            "Request timed out",
        )


def test_the_health_probe_never_leaves_loopback() -> None:
    state, reason, _ = http_health_probe(timeout_seconds=0.2)("192.0.2.1", 80)
    assert (state, reason) == ("unhealthy", "Target.FailedHealthChecks")


def _metric_values(
    stand_in: AwsStandIn,
    namespace: str,
    name: str,
    dimensions: dict[str, str],
    stat: str,
    at: datetime,
) -> list[float]:
    result = stand_in.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    },
                    "Period": 60,
                    "Stat": stat,
                },
            }
        ],
        StartTime=at - timedelta(seconds=30),
        EndTime=at + timedelta(seconds=30),
    )
    values: list[float] = result["MetricDataResults"][0]["Values"]
    return values


def _alb_dimensions(aws_seed: AwsSeed, side: Side) -> dict[str, str]:
    return {
        "LoadBalancer": load_balancer_dimension(aws_seed.load_balancer_arn),
        "TargetGroup": target_group_dimension(aws_seed.target_groups[side]),
    }


def test_published_traffic_is_returned_by_get_metric_data_per_target_group(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    stand_in, aws_seed = aws
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    MetricsPublisher(stand_in, aws_seed).publish_traffic(
        {"old": SideCounts(10, 2, (0.1, 0.2, 0.3, 0.2)), "new": SideCounts(0, 0, ())}, at
    )

    def values(name: str, side: Side, stat: str) -> list[float]:
        return _metric_values(
            stand_in, "AWS/ApplicationELB", name, _alb_dimensions(aws_seed, side), stat, at
        )

    assert sum(values("RequestCount", "old", "Sum")) == 10
    assert sum(values("HTTPCode_Target_5XX_Count", "old", "Sum")) == 2
    assert values("TargetResponseTime", "old", "SampleCount") == [4]
    assert values("TargetResponseTime", "old", "Maximum") == [0.3]
    assert values("TargetResponseTime", "old", "Average") == [pytest.approx(0.2)]
    assert sum(values("RequestCount", "new", "Sum")) == 0
    assert values("RequestCount", "new", "SampleCount") == [1]
    assert values("TargetResponseTime", "new", "SampleCount") == []


def test_many_response_times_are_published_as_statistics(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    stand_in, aws_seed = aws
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    times = tuple(0.001 * n for n in range(1, 501))
    MetricsPublisher(stand_in, aws_seed).publish_traffic(
        {"new": SideCounts(len(times), 0, times)}, at
    )
    dimensions = _alb_dimensions(aws_seed, "new")

    def values(stat: str) -> list[float]:
        return _metric_values(
            stand_in, "AWS/ApplicationELB", "TargetResponseTime", dimensions, stat, at
        )

    assert values("SampleCount") == [500]
    assert values("Average") == [pytest.approx(0.2505)]
    assert values("Maximum") == [pytest.approx(0.5)]


def test_published_replica_lag_is_readable_back(aws: tuple[AwsStandIn, AwsSeed]) -> None:
    stand_in, aws_seed = aws
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    MetricsPublisher(stand_in, aws_seed).publish_replica_lag(4.5, at)

    assert _metric_values(
        stand_in,
        "AWS/RDS",
        "ReplicaLag",
        {"DBInstanceIdentifier": "shop-db-replica"},
        "Maximum",
        at,
    ) == [4.5]


def test_metric_timestamps_must_be_timezone_aware(aws: tuple[AwsStandIn, AwsSeed]) -> None:
    stand_in, aws_seed = aws
    with pytest.raises(SandboxError, match="timezone-aware"):
        MetricsPublisher(stand_in, aws_seed).publish_replica_lag(1.0, datetime(2026, 1, 1))  # noqa: DTZ001


def test_arns_map_to_cloudwatch_dimensions() -> None:
    account = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
    assert load_balancer_dimension(f"{account}:loadbalancer/app/cutover-alb/50dc6c495c0c9188") == (
        "app/cutover-alb/50dc6c495c0c9188"
    )
    assert target_group_dimension(f"{account}:targetgroup/cutover-new/73e2d6bc24d8a067") == (
        "targetgroup/cutover-new/73e2d6bc24d8a067"
    )
    with pytest.raises(SandboxError, match="targetgroup"):
        target_group_dimension(f"{account}:loadbalancer/app/cutover-alb/50dc6c495c0c9188")


def test_clients_ignore_the_real_aws_configuration_and_proxies(
    aws: tuple[AwsStandIn, AwsSeed], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in, aws_seed = aws
    broken = tmp_path / "broken-config"
    broken.write_text("[profile nowhere\nnot ini at all [[\n")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(broken))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(broken))
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")

    zones = stand_in.client("route53").list_hosted_zones()["HostedZones"]

    assert {z["Id"].removeprefix("/hostedzone/") for z in zones} == {
        aws_seed.hosted_zone_id,
        aws_seed.shapes.hosted_zone_id,
    }


def test_a_second_stand_in_in_the_same_process_is_refused(
    aws: tuple[AwsStandIn, AwsSeed],
) -> None:
    second = AwsStandIn()
    try:
        with pytest.raises(SandboxError, match="already running in this process"):
            second.start()
    finally:
        second.stop()


def test_a_port_in_use_is_reported_with_the_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        stand_in = AwsStandIn(port=port)
        try:
            with pytest.raises(SandboxError, match=f"127.0.0.1:{port}"):
                stand_in.start()
        finally:
            stand_in.stop()


def test_a_stand_in_that_never_started_has_no_endpoint_and_stops_quietly() -> None:
    stand_in = AwsStandIn()
    stand_in.stop()
    with pytest.raises(SandboxError, match="not running"):
        _ = stand_in.endpoint_url
