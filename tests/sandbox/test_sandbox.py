"""The whole sandbox, reached the way the cockpit will reach it: psycopg, boto3, UDP DNS, HTTP."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import psycopg
import pytest
from botocore.config import Config as BotoConfig

from cockpit.config import load_config
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sandbox.shared import SandboxError

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, within: float = 30.0, every: float = 0.2) -> T:
    """Polls until probe() returns something truthy; fails with the last value otherwise."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"condition not met within {within} s (last value {last!r})")


def aws_client(sandbox: SandboxHandle, service: str) -> Any:
    aws = sandbox.info["aws"]
    return boto3.client(
        service,
        endpoint_url=aws["endpoint_url"],
        region_name=aws["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=BotoConfig(retries={"mode": "standard"}),
    )


def query(address: str, name: str = "app.cutover.test.") -> dns.message.Message:
    host, port = address.rsplit(":", 1)
    request = dns.message.make_query(name, dns.rdatatype.A)
    return dns.query.udp(request, host, port=int(port), timeout=2.0)


def answer_of(response: dns.message.Message) -> tuple[set[str], int]:
    rrset = response.answer[0]
    return {item.to_text() for item in rrset}, rrset.ttl


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# --- what `up` leaves behind ---------------------------------------------------------------


def test_the_sandbox_files_are_readable_by_their_owner_only(sandbox: SandboxHandle) -> None:
    """sandbox.json holds the database password."""
    for name in ("sandbox.json", "cockpit.toml", "pids.json"):
        assert (sandbox.directory / name).stat().st_mode & 0o777 == 0o600, name


def test_sandbox_json_has_the_documented_keys(sandbox: SandboxHandle) -> None:
    info = sandbox.info
    assert set(info["postgres"]) >= {"primary_dsn", "replica_dsn"}
    assert set(info["aws"]) >= {
        "endpoint_url",
        "region",
        "hosted_zone_id",
        "record_name",
        "old_answers",
        "new_answers",
        "listener_arn",
        "target_groups",
    }
    assert set(info["aws"]["target_groups"]) == {"old", "new"}
    assert info["dns"]["authoritative"].startswith("127.0.0.1:")
    assert len(info["dns"]["resolvers"]) >= 3
    assert all(r.startswith("127.") for r in info["dns"]["resolvers"])
    assert set(info["http"]) >= {"front_door", "old", "new", "access_logs"}


def test_generated_config_is_valid_and_points_at_the_sandbox(sandbox: SandboxHandle) -> None:
    config = load_config(sandbox.config_path)
    assert config.aws is not None
    assert config.aws.endpoint_url == sandbox.info["aws"]["endpoint_url"]
    assert config.dns is not None
    assert [r.address for r in config.dns.resolvers] == sandbox.info["dns"]["resolvers"]
    assert config.replication is not None and config.replication.postgres is not None
    assert "password" not in config.replication.postgres.primary_dsn
    assert sandbox.info["env"]["COCKPIT_SANDBOX_PGPASSWORD"] not in sandbox.config_path.read_text()


# --- PostgreSQL over psycopg ----------------------------------------------------------------


def replay_lag_bytes(sandbox: SandboxHandle) -> int | None:
    """The primary's lag for the watched replica: the standby on its slot (there are two)."""
    sql = (
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint"
        " FROM pg_stat_replication AS r JOIN pg_replication_slots AS s ON s.active_pid = r.pid"
        " WHERE s.slot_name = %s"
    )
    slot = sandbox.info["postgres"]["replica_slot"]
    with psycopg.connect(sandbox.info["postgres"]["primary_dsn"], autocommit=True) as conn:
        row = conn.execute(sql, (slot,)).fetchone()
    return None if row is None else int(row[0])


def in_recovery(sandbox: SandboxHandle) -> bool:
    with psycopg.connect(sandbox.info["postgres"]["replica_dsn"], autocommit=True) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    assert row is not None
    return bool(row[0])


def test_replica_streams_and_lag_grows_while_replay_is_paused(sandbox: SandboxHandle) -> None:
    assert in_recovery(sandbox)
    assert eventually(lambda: replay_lag_bytes(sandbox) == 0)
    sandbox.client.inject("lag-spike", rows_per_second=5000)
    first = eventually(lambda: replay_lag_bytes(sandbox))
    assert first is not None
    eventually(lambda: (replay_lag_bytes(sandbox) or 0) > max(first, 1_000_000))
    sandbox.client.inject("catch-up")
    eventually(lambda: replay_lag_bytes(sandbox) == 0)


def test_promotion_ends_recovery_and_reset_restores_a_replica(sandbox: SandboxHandle) -> None:
    sandbox.client.inject("promote")
    assert not in_recovery(sandbox)
    sandbox.client.reset()
    assert in_recovery(sandbox)
    eventually(lambda: replay_lag_bytes(sandbox) == 0)


# --- AWS over boto3 with endpoint_url --------------------------------------------------------


def route53_weights(sandbox: SandboxHandle) -> dict[str, int]:
    aws = sandbox.info["aws"]
    sets = aws_client(sandbox, "route53").list_resource_record_sets(
        HostedZoneId=aws["hosted_zone_id"]
    )["ResourceRecordSets"]
    return {s["SetIdentifier"]: s["Weight"] for s in sets if "SetIdentifier" in s}


def upsert_weights(sandbox: SandboxHandle, old: int, new: int) -> None:
    aws = sandbox.info["aws"]
    answers = {"old": aws["old_answers"], "new": aws["new_answers"]}
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": aws["record_name"],
                "Type": "A",
                "SetIdentifier": side,
                "Weight": weight,
                "TTL": aws["ttl"],
                "ResourceRecords": [{"Value": v} for v in answers[side]],
            },
        }
        for side, weight in (("old", old), ("new", new))
    ]
    aws_client(sandbox, "route53").change_resource_record_sets(
        HostedZoneId=aws["hosted_zone_id"], ChangeBatch={"Changes": changes}
    )


def test_route53_and_listener_weights(sandbox: SandboxHandle) -> None:
    assert route53_weights(sandbox) == {"old": 100, "new": 0}
    upsert_weights(sandbox, 75, 25)
    assert route53_weights(sandbox) == {"old": 75, "new": 25}
    listener = aws_client(sandbox, "elbv2").describe_listeners(
        ListenerArns=[sandbox.info["aws"]["listener_arn"]]
    )["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    by_arn = {g["TargetGroupArn"]: g["Weight"] for g in groups}
    target_groups = sandbox.info["aws"]["target_groups"]
    assert by_arn == {target_groups["old"]: 100, target_groups["new"]: 0}


def target_health(sandbox: SandboxHandle, side: str) -> list[dict[str, Any]]:
    arn = sandbox.info["aws"]["target_groups"][side]
    health = aws_client(sandbox, "elbv2").describe_target_health(TargetGroupArn=arn)
    return [d["TargetHealth"] for d in health["TargetHealthDescriptions"]]


def test_target_health_follows_the_real_health_endpoint(sandbox: SandboxHandle) -> None:
    assert [h["State"] for h in target_health(sandbox, "new")] == ["healthy"]
    sandbox.client.inject("target-unhealthy", side="new")
    unhealthy = eventually(
        lambda: [h for h in target_health(sandbox, "new") if h["State"] == "unhealthy"]
    )
    assert unhealthy[0]["Reason"] == "Target.ResponseCodeMismatch"
    assert "503" in unhealthy[0]["Description"]
    assert [h["State"] for h in target_health(sandbox, "old")] == ["healthy"]


def metric_sum(sandbox: SandboxHandle, name: str, side: str) -> float:
    from cockpit.sandbox.aws import load_balancer_dimension, target_group_dimension

    aws = sandbox.info["aws"]
    now = datetime.now(UTC)
    result = aws_client(sandbox, "cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": name,
                        "Dimensions": [
                            {
                                "Name": "LoadBalancer",
                                "Value": load_balancer_dimension(aws["load_balancer_arn"]),
                            },
                            {
                                "Name": "TargetGroup",
                                "Value": target_group_dimension(aws["target_groups"][side]),
                            },
                        ],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
    )
    return float(sum(result["MetricDataResults"][0]["Values"]))


def test_traffic_generator_feeds_cloudwatch(sandbox: SandboxHandle) -> None:
    eventually(lambda: metric_sum(sandbox, "RequestCount", "old") > 0)
    sandbox.client.inject("error-burst", side="old", ratio=1.0)
    eventually(lambda: metric_sum(sandbox, "HTTPCode_Target_5XX_Count", "old") > 0)


# --- DNS over UDP ------------------------------------------------------------------------------


def test_weight_change_reaches_authoritative_at_once_and_resolvers_after_ttl(
    sandbox: SandboxHandle,
) -> None:
    dns_info = sandbox.info["dns"]
    old, new = set(sandbox.info["aws"]["old_answers"]), set(sandbox.info["aws"]["new_answers"])
    for resolver in dns_info["resolvers"]:
        assert answer_of(query(resolver))[0] == old
    upsert_weights(sandbox, 0, 100)
    response = query(dns_info["authoritative"])
    assert answer_of(response)[0] == new
    assert response.flags & dns.flags.AA
    for resolver in dns_info["resolvers"]:
        cached, ttl_left = answer_of(query(resolver))
        assert cached == old, f"{resolver} dropped its cached answer before the TTL ran out"
        assert ttl_left <= sandbox.info["aws"]["ttl"]
    for resolver in dns_info["resolvers"]:
        eventually(lambda r=resolver: answer_of(query(r))[0] == new, within=15)


def test_resolver_faults(sandbox: SandboxHandle) -> None:
    resolvers = sandbox.info["dns"]["resolvers"]
    sandbox.client.inject("resolver-servfail", resolver=0)
    assert query(resolvers[0]).rcode() == dns.rcode.SERVFAIL
    sandbox.client.inject("resolver-timeout", resolver=1)
    with pytest.raises(dns.exception.Timeout):
        host, port = resolvers[1].rsplit(":", 1)
        dns.query.udp(
            dns.message.make_query("app.cutover.test.", "A"), host, port=int(port), timeout=0.5
        )
    assert query(resolvers[2]).rcode() == dns.rcode.NOERROR


# --- HTTP --------------------------------------------------------------------------------------


def test_app_maintenance_gives_503_and_the_access_log_records_it(sandbox: SandboxHandle) -> None:
    old_url = sandbox.info["http"]["old"]
    log = Path(sandbox.info["http"]["access_logs"]["old"])
    sandbox.client.inject("app-maintenance", side="old")
    assert http_status(f"{old_url}/maintenance-probe") == 503
    assert http_status(f"{old_url}/health") == 200
    line = eventually(
        lambda: next((x for x in log.read_text().splitlines() if "/maintenance-probe" in x), None)
    )
    assert '"GET /maintenance-probe HTTP/1.1" 503 ' in line


def test_alb_fixed_response_rule_puts_the_front_door_in_maintenance(
    sandbox: SandboxHandle,
) -> None:
    front_door = sandbox.info["http"]["front_door"]
    assert http_status(front_door + "/") == 200
    aws_client(sandbox, "elbv2").create_rule(
        ListenerArn=sandbox.info["aws"]["listener_arn"],
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "503",
                    "ContentType": "text/plain",
                    "MessageBody": "down for maintenance",
                },
            }
        ],
    )
    assert http_status(front_door + "/") == 503
    sandbox.client.reset()
    assert http_status(front_door + "/") == 200


# --- controls ----------------------------------------------------------------------------------


def test_unknown_scenario_is_a_clear_error(sandbox: SandboxHandle) -> None:
    with pytest.raises(SandboxError, match="unknown scenario 'meteor'"):
        sandbox.client.inject("meteor")
    with pytest.raises(SandboxError, match="no resolver 9"):
        sandbox.client.inject("resolver-stuck", resolver=9)


def test_timed_scenario_undoes_itself(sandbox: SandboxHandle) -> None:
    new_url = sandbox.info["http"]["new"]
    sandbox.client.inject("target-unhealthy", side="new", for_seconds=1.0)
    assert http_status(f"{new_url}/health") == 503
    eventually(lambda: http_status(f"{new_url}/health") == 200, within=10)


def test_stuck_resolver_keeps_the_old_answer_after_the_ttl(sandbox: SandboxHandle) -> None:
    resolvers = sandbox.info["dns"]["resolvers"]
    old, new = set(sandbox.info["aws"]["old_answers"]), set(sandbox.info["aws"]["new_answers"])
    assert answer_of(query(resolvers[0]))[0] == old
    sandbox.client.inject("resolver-stuck", resolver=0)
    upsert_weights(sandbox, 0, 100)
    eventually(lambda: answer_of(query(resolvers[1]))[0] == new, within=15)
    time.sleep(sandbox.info["aws"]["ttl"] + 0.5)
    assert answer_of(query(resolvers[0]))[0] == old
    sandbox.client.inject("resolver-normal", resolver=0)
    eventually(lambda: answer_of(query(resolvers[0]))[0] == new, within=15)


def test_replica_down_and_up(sandbox: SandboxHandle) -> None:
    assert replay_lag_bytes(sandbox) is not None
    sandbox.client.inject("replica-down")
    assert replay_lag_bytes(sandbox) is None
    with pytest.raises(psycopg.OperationalError):
        in_recovery(sandbox)
    sandbox.client.inject("replica-up")
    assert in_recovery(sandbox)
    eventually(lambda: replay_lag_bytes(sandbox) is not None)
