"""Every failure reason a person may meet at 2 a.m., from the real exception types."""

from __future__ import annotations

import socket

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    TokenRetrievalError,
)

from cockpit.io.failures import describe_failure


def client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeTargetHealth")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (TimeoutError(), "timeout after 2 s"),
        (TimeoutError(), "timeout after 2 s"),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "name lookup failed"),
        (client_error("Throttling"), "throttled by AWS"),
        (client_error("ThrottlingException"), "throttled by AWS"),
        (client_error("ExpiredTokenException"), "AWS credentials expired"),
        (client_error("InvalidClientTokenId"), "AWS authentication failed"),
        (client_error("AccessDenied"), "access denied"),
        (client_error("TargetGroupNotFound", "One or more target groups not found"), "AWS error "),
        (NoCredentialsError(), "no AWS credentials"),
        (TokenRetrievalError(provider="sso", error_msg="expired"), "AWS credentials expired"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "cannot reach the AWS"),
    ],
)
def test_reasons(error: BaseException, reason: str) -> None:
    assert describe_failure(error, timeout_seconds=2).startswith(reason)


def test_aws_error_code_and_message_are_kept() -> None:
    reason = describe_failure(client_error("TargetGroupNotFound", "One or more not found"))
    assert reason == "AWS error TargetGroupNotFound: One or more not found"


def test_postgres_authentication_failure() -> None:
    import psycopg

    error = psycopg.OperationalError(
        'connection failed: FATAL:  password authentication failed for user "cutover"'
    )
    assert describe_failure(error).startswith("authentication failed")


async def test_real_refused_connection_to_postgres() -> None:
    import psycopg

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(psycopg.OperationalError) as caught:
        await psycopg.AsyncConnection.connect(
            f"host=127.0.0.1 port={port} user=x dbname=x connect_timeout=2"
        )
    assert describe_failure(caught.value) == "connection refused"


def test_unknown_errors_keep_their_first_line_only() -> None:
    assert describe_failure(ValueError("bad thing\nsecond line")) == "ValueError: bad thing"
    assert describe_failure(KeyError()) == "KeyError"
