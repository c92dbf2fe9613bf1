"""The sandbox counts what it is sent: AWS requests (mutating or not, by whom) and pg_promote()."""

from __future__ import annotations

import io
from typing import Any

import pytest

from cockpit.sandbox.aws import (
    STAND_IN_ACCESS_KEY_ID,
    RecordedRequest,
    RequestLog,
    is_mutating,
    recorded_request,
)
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.sandbox.test_sandbox import aws_client, eventually, upsert_weights


def client_requests(sandbox: SandboxHandle) -> list[dict[str, Any]]:
    """The requests sent with the cockpit's keys (not the stand-in's own seed/reset/metrics)."""
    return [r for r in sandbox.client.requests()["aws"] if r["sender"] == "client"]


def environ(
    method: str, path: str, *, query: str = "", body: bytes = b"", **headers: str
) -> dict[str, Any]:
    wsgi: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    return wsgi | {key.upper(): value for key, value in headers.items()}


# --- pure ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "action", "mutating"),
    [
        ("POST", "/", "DescribeListeners", False),
        ("POST", "/", "DescribeDBInstances", False),
        ("GET", "/2013-04-01/hostedzone/Z1/rrset", "GET /2013-04-01/hostedzone/Z1/rrset", False),
        ("POST", "/", "ModifyListener", True),
        ("POST", "/", "PromoteReadReplica", True),
        ("POST", "/2013-04-01/hostedzone/Z1/rrset/", "POST /2013-04-01/hostedzone/Z1/rrset/", True),
        ("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", "PutMetricData",
         True),
        ("POST", "/service/GraniteServiceVersion20100801/operation/GetMetricData", "GetMetricData",
         False),
    ],
)  # fmt: skip
def test_reads_are_describe_list_get_and_rest_gets(
    method: str, path: str, action: str, mutating: bool
) -> None:
    assert is_mutating(method, path, action) is mutating


def test_the_action_of_a_form_body_is_found_and_the_body_left_for_moto() -> None:
    body = b"Action=ModifyListener&Version=2015-12-01&ListenerArn=x"
    wsgi = environ(
        "POST", "/", body=body, content_type="application/x-www-form-urlencoded; charset=utf-8"
    )

    request = recorded_request(wsgi)

    assert request == RecordedRequest("POST", "/", "ModifyListener", "client")
    assert wsgi["wsgi.input"].read() == body


def test_actions_come_from_the_query_the_target_header_or_the_rpc_path() -> None:
    by_query = recorded_request(environ("GET", "/", query="Action=DescribeDBInstances&x=1"))
    by_target = recorded_request(
        environ("POST", "/", http_x_amz_target="GraniteServiceVersion20100801.PutMetricData")
    )
    by_path = recorded_request(environ("POST", "/service/Granite/operation/GetMetricData"))
    rest = recorded_request(environ("POST", "/2013-04-01/hostedzone/Z1/rrset/"))

    assert [by_query.action, by_target.action, by_path.action] == [
        "DescribeDBInstances",
        "PutMetricData",
        "GetMetricData",
    ]
    assert rest.action == "POST /2013-04-01/hostedzone/Z1/rrset/" and rest.mutating


def test_the_stand_in_own_key_marks_its_requests_as_the_sandbox() -> None:
    credential = f"AWS4-HMAC-SHA256 Credential={STAND_IN_ACCESS_KEY_ID}/20261122/us-east-1/x"
    own = recorded_request(environ("POST", "/", http_authorization=credential))
    other = recorded_request(
        environ("POST", "/", http_authorization="AWS4-HMAC-SHA256 Credential=testing/2026/x")
    )
    assert (own.sender, other.sender) == ("sandbox", "client")


def test_the_log_keeps_only_the_newest_entries() -> None:
    log = RequestLog(limit=3)
    for index in range(5):
        log.record(RecordedRequest("POST", "/", f"Action{index}", "client"))
    assert [r.action for r in log.entries()] == ["Action2", "Action3", "Action4"]
    log.clear()
    assert log.entries() == ()


# --- against the sandbox ------------------------------------------------------------------------


def test_a_describe_is_recorded_as_a_read_and_a_change_batch_as_mutating(
    sandbox: SandboxHandle,
) -> None:
    assert client_requests(sandbox) == []
    aws_client(sandbox, "elbv2").describe_listeners(
        ListenerArns=[sandbox.info["aws"]["listener_arn"]]
    )
    upsert_weights(sandbox, 90, 10)

    sent = client_requests(sandbox)

    zone = sandbox.info["aws"]["hosted_zone_id"]
    assert {
        "method": "POST",
        "path": "/",
        "action": "DescribeListeners",
        "mutating": False,
        "sender": "client",
    } in sent
    change_batch = f"/2013-04-01/hostedzone/{zone}/rrset/"
    assert {
        "method": "POST",
        "path": change_batch,
        "action": f"POST {change_batch}",
        "mutating": True,
        "sender": "client",
    } in sent


def test_the_sandbox_own_metrics_are_mutating_but_marked_as_its_own(
    sandbox: SandboxHandle,
) -> None:
    def own_puts() -> list[dict[str, Any]]:
        requests = sandbox.client.requests()["aws"]
        return [r for r in requests if r["action"] == "PutMetricData"]

    puts = eventually(own_puts)
    assert {(r["sender"], r["mutating"]) for r in puts} == {("sandbox", True)}


def test_clearing_forgets_what_was_sent(sandbox: SandboxHandle) -> None:
    aws_client(sandbox, "rds").describe_db_instances()
    assert client_requests(sandbox) != []

    sandbox.client.clear_requests()

    assert client_requests(sandbox) == []


def test_pg_promote_calls_on_the_replica_are_counted_until_a_reset(
    sandbox: SandboxHandle,
) -> None:
    assert sandbox.client.requests()["postgres"] == {"pg_promote_calls": 0}

    sandbox.client.inject("promote")

    assert sandbox.client.requests()["postgres"] == {"pg_promote_calls": 1}
    sandbox.client.reset()
    assert sandbox.client.requests()["postgres"] == {"pg_promote_calls": 0}
