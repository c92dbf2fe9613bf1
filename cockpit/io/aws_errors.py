"""AWS errors in words: throttling as throttling, and only the code and message of any body.

botocore parses most error bodies into ClientError's Code and Message. When the body is in a
protocol the client did not expect (an XML error to a CBOR/JSON client such as CloudWatch, or
JSON to a query client), the raw body reaches us instead: Code and Message are pulled out of it
here, and the text is redacted whole, made printable and cut, so no XML reaches the screen.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cockpit.outside import outside_text
from cockpit.visible import ascii_digits

MAX_MESSAGE_CHARS = 160
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
THROTTLING_HTTP_STATUS = 429

_XML_CODE = re.compile(r"<Code>\s*([^<]*?)\s*</Code>", re.IGNORECASE)
_XML_MESSAGE = re.compile(r"<Message>\s*([^<]*?)\s*</Message>", re.IGNORECASE)
_JSON_CODE = re.compile(r'"(?:__type|code|Code)"\s*:\s*"([^"]*)"')
_JSON_MESSAGE = re.compile(r'"(?:message|Message|errorMessage)"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class AwsError:
    """What an AWS error says: its code (may be empty), its message and the HTTP status."""

    code: str
    message: str
    http_status: int | None = None

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLING_CODES or self.http_status == THROTTLING_HTTP_STATUS


def looks_like_a_body(text: str) -> bool:
    """Whether a message is a whole XML, HTML or JSON document rather than a sentence."""
    stripped = text.lstrip()
    return stripped.startswith(("<", "{", "b'<", 'b"<', "b'{", 'b"{'))


def parse_error_body(body: str) -> tuple[str, str]:
    """(code, message) out of an XML or JSON error body; empty strings where it has none."""
    code_match = _XML_CODE.search(body) or _JSON_CODE.search(body)
    message_match = _XML_MESSAGE.search(body) or _JSON_MESSAGE.search(body)
    code = code_match.group(1) if code_match else ""
    message = message_match.group(1) if message_match else ""
    return _short_code(html.unescape(code)), html.unescape(message)


def _short_code(code: str) -> str:
    """'ThrottlingException' from 'com.amazonaws.cloudwatch#ThrottlingException:http://…'."""
    return code.rsplit("#", 1)[-1].split(":", 1)[0].strip()


def aws_error_of(error: BaseException) -> AwsError | None:
    """The code and message of a botocore ClientError or unparsed body; None for other errors."""
    response = getattr(error, "response", None)
    if isinstance(response, Mapping) and isinstance(response.get("Error"), Mapping):
        return _from_response(response)
    if _is_botocore(error, "ResponseParserError"):
        code, message = parse_error_body(str(error))
        return AwsError(code, message) if code or message else None
    return None


def aws_error_code(error: BaseException) -> str:
    """The AWS error code an exception carries ('NoSuchBucket'); empty for any other error."""
    aws_error = aws_error_of(error)
    return aws_error.code if aws_error is not None else ""


def _from_response(response: Mapping[str, Any]) -> AwsError:
    details = response["Error"]
    code = str(details.get("Code") or "")
    message = str(details.get("Message") or "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    http_status = status if isinstance(status, int) else _status_from_code(code)
    if looks_like_a_body(message) or ascii_digits(code) or not code:
        body_code, body_message = parse_error_body(message)
        if body_code or body_message or looks_like_a_body(message):
            code, message = body_code or ("" if ascii_digits(code) else code), body_message
    return AwsError(code, message, http_status)


def _status_from_code(code: str) -> int | None:
    """botocore puts the HTTP status in Code when it could not read one from the body."""
    return int(code) if ascii_digits(code) else None


def throttled_text(aws_error: AwsError) -> str:
    """'throttled by AWS (Throttling): retrying at the next poll'."""
    label = aws_error.code or f"HTTP {aws_error.http_status}"
    return f"throttled by AWS ({outside_text(label, 60)}): retrying at the next poll"


def plain_text(aws_error: AwsError) -> str:
    """'AWS error TargetGroupNotFound: One or more target groups not found'."""
    code = outside_text(aws_error.code, 60) or (
        f"HTTP {aws_error.http_status}" if aws_error.http_status else "(no code)"
    )
    message = outside_text(aws_error.message, MAX_MESSAGE_CHARS)
    return f"AWS error {code}: {message}" if message else f"AWS error {code}"


def endpoint_of(error: BaseException) -> str:
    """'https://route53.amazonaws.com' from a botocore connection error: scheme, host and port."""
    kwargs = getattr(error, "kwargs", None)
    url = str(kwargs.get("endpoint_url", "")) if isinstance(kwargs, Mapping) else ""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return outside_text(f"{parts.scheme}://{host}", 120)


def _is_botocore(error: BaseException, *names: str) -> bool:
    return any(
        cls.__module__.startswith("botocore") and cls.__name__ in names
        for cls in type(error).__mro__
    )
