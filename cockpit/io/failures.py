"""Turns any exception a source raises into a reason a tired person understands."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable

from cockpit.io.aws_errors import aws_error_of, endpoint_of, plain_text, throttled_text
from cockpit.outside import outside_text

_AWS_CODES = {
    "ExpiredToken": "AWS credentials expired: log in again (aws sso login)",
    "ExpiredTokenException": "AWS credentials expired: log in again (aws sso login)",
    "RequestExpired": "AWS request expired: check this host's clock",
    "InvalidClientTokenId": "AWS authentication failed: the access key is not valid",
    "UnrecognizedClientException": "AWS authentication failed: the access key is not valid",
    "SignatureDoesNotMatch": "AWS authentication failed: the secret key does not match",
    "AccessDenied": "access denied by AWS IAM",
    "AccessDeniedException": "access denied by AWS IAM",
}


FAILURE_LIMIT_CHARS = 300


class SourceProblem(Exception):
    """A failure the source has already put in words for a person; shown as it is."""


def describe_failure(error: BaseException, *, timeout_seconds: float | None = None) -> str:
    """One line: what went wrong, in words, without a traceback or a secret.

    Error texts quote what servers sent, so the line passes the outside-text sanitizer.
    """
    return outside_text(_described(error, timeout_seconds), FAILURE_LIMIT_CHARS)


def _described(error: BaseException, timeout_seconds: float | None) -> str:
    for matches, describe in _RULES:
        if matches(error):
            return describe(error, timeout_seconds)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _timeout(error: BaseException, timeout_seconds: float | None) -> str:
    return f"timeout after {timeout_seconds:g} s" if timeout_seconds else "timeout"


def _aws(error: BaseException, _: float | None) -> str:
    aws_error = aws_error_of(error)
    assert aws_error is not None
    if aws_error.throttled:
        return throttled_text(aws_error)
    return _AWS_CODES.get(aws_error.code) or plain_text(aws_error)


def _no_answer(error: BaseException, _: float | None) -> str:
    return f"no answer from the AWS endpoint{_named(endpoint_of(error))} (read timed out)"


def _unreachable(error: BaseException, _: float | None) -> str:
    where = _named(endpoint_of(error))
    return f"cannot reach the AWS endpoint{where} (connection refused or timed out)"


def _named(endpoint: str) -> str:
    return f" {endpoint}" if endpoint else ""


def _is_botocore(*names: str) -> Callable[[BaseException], bool]:
    return lambda error: any(
        cls.__module__.startswith("botocore") and cls.__name__ in names
        for cls in type(error).__mro__
    )


def _postgres(error: BaseException, _: float | None) -> str:
    text = str(error).lower()
    if "password authentication failed" in text or "authentication failed" in text:
        return "authentication failed (check the password env var, PGPASSWORD or ~/.pgpass)"
    if "no password supplied" in text:
        return "authentication failed: no password supplied (set PGPASSWORD or password_env)"
    if "connection refused" in text:
        return "connection refused"
    if "timeout expired" in text or "timed out" in text:
        return "timeout connecting to PostgreSQL"
    if "does not exist" in text:
        return str(error).strip().splitlines()[0]
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"PostgreSQL: {first}"


def _is_postgres(error: BaseException) -> bool:
    return any(cls.__module__.startswith("psycopg") for cls in type(error).__mro__)


_RULES: list[
    tuple[Callable[[BaseException], bool], Callable[[BaseException, float | None], str]]
] = [
    (lambda e: isinstance(e, SourceProblem), lambda e, t: str(e)),
    (lambda e: isinstance(e, TimeoutError | asyncio.TimeoutError), _timeout),
    (lambda e: isinstance(e, ConnectionRefusedError), lambda e, t: "connection refused"),
    (lambda e: isinstance(e, ConnectionResetError), lambda e, t: "connection reset"),
    (
        lambda e: isinstance(e, socket.gaierror),
        lambda e, t: f"name lookup failed: {getattr(e, 'strerror', e)}",
    ),
    (
        lambda e: isinstance(e, ssl.SSLError),
        lambda e, t: f"TLS error: {getattr(e, 'reason', None) or e}",
    ),
    (lambda e: aws_error_of(e) is not None, _aws),
    (
        _is_botocore("NoCredentialsError", "PartialCredentialsError"),
        lambda e, t: "no AWS credentials (set a profile, run aws sso login, or export keys)",
    ),
    (
        _is_botocore("TokenRetrievalError", "SSOTokenLoadError", "UnauthorizedSSOTokenError"),
        lambda e, t: "AWS credentials expired: log in again (aws sso login)",
    ),
    (_is_botocore("ProfileNotFound"), lambda e, t: f"AWS profile not found: {e}"),
    (_is_botocore("ReadTimeoutError"), _no_answer),
    (_is_botocore("EndpointConnectionError", "ConnectTimeoutError"), _unreachable),
    (_is_postgres, _postgres),
    (
        lambda e: isinstance(e, OSError) and e.strerror is not None,
        lambda e, t: str(getattr(e, "strerror", e)),
    ),
]


class ActionFailed(Exception):
    """An action step failed in a way worded for the operator (what, where, what to do)."""
