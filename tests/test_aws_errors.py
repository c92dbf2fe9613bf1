"""AWS errors as a person reads them: throttling is throttling, bodies show code and message.

The loopback endpoints here are protocol-level stand-ins at the HTTP boundary: boto3 sends its
real requests and parses real HTTP answers shaped like AWS's (HTTP 400 with a Throttling XML
body for the XML and query APIs, 400 JSON ThrottlingException for JSON APIs), because moto
cannot throttle. Nothing of ours is replaced.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cockpit.config import config_from_data
from cockpit.io.aws_errors import outside_text, parse_error_body
from cockpit.io.context import SourceContext
from cockpit.io.failures import describe_failure
from cockpit.live.poller import poll_once
from cockpit.model import Reading, Status
from cockpit.sources.base import Source
from cockpit.sources.errors_cloudwatch import build_cloudwatch_sources
from cockpit.sources.replication_rds import RdsReplicationSource
from cockpit.sources.targets import build_target_sources
from cockpit.sources.traffic import build_traffic_sources
from tests.aws_stand_ins import (
    JSON_CONTENT,
    THROTTLING_JSON,
    THROTTLING_XML,
    XML_CONTENT,
    answering_endpoint,
    query_error_xml,
)

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "config.example.toml"
TEST_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
THROTTLED_TEXT = "throttled by AWS ({code}): retrying at the next poll"


def context_at(endpoint_url: str, tmp_path: Path, **aws: Any) -> SourceContext:
    """The example config's AWS sources, every AWS call sent to `endpoint_url`."""
    data = tomllib.loads(EXAMPLE_CONFIG.read_text())
    data["aws"] = {"region": "eu-west-1", "endpoint_url": endpoint_url, **aws}
    data["replication"] = {
        "timeout_seconds": 5.0,
        "rds": {"replica_instance_id": "shop-db-new"},
    }
    data["targets"].pop("http")
    # Generous timeouts: these tests are about the words, and a busy host is slow to answer.
    for section in ("targets", "errors", "traffic"):
        data[section]["timeout_seconds"] = 5.0
    data.pop("promotion")
    data["journal"] = {"dir": str(tmp_path / "journal")}
    config = config_from_data(data, source="test", base_dir=tmp_path)
    return SourceContext(config, environ=TEST_KEYS)


def rds_source(context: SourceContext) -> RdsReplicationSource:
    from cockpit.sources.replication import build_replication_sources

    (source,) = build_replication_sources(context)
    assert isinstance(source, RdsReplicationSource)
    return source


async def readings_of(source: Source) -> dict[str, Reading]:
    """A poll's readings once the AWS client exists (on a loaded machine its first use is slow)."""
    for _ in range(10):
        readings, _ = await poll_once(source)
        if not any("client not ready" in reading.detail for reading in readings):
            break
    return {reading.signal_id: reading for reading in readings}


def only_traffic(context: SourceContext) -> Source:
    (source,) = build_traffic_sources(context)
    return source


def only_cloudwatch(context: SourceContext) -> Source:
    (source,) = build_cloudwatch_sources(context)
    return source


def only_target_groups(context: SourceContext) -> Source:
    (source,) = build_target_sources(context)
    return source


async def test_route53_throttling_reads_as_throttled_not_as_a_timeout(tmp_path: Path) -> None:
    with answering_endpoint(400, THROTTLING_XML, XML_CONTENT) as (url, answer):
        reading = (await readings_of(only_traffic(context_at(url, tmp_path))))["traffic"]
    assert reading.status is Status.UNKNOWN
    assert reading.detail == THROTTLED_TEXT.format(code="Throttling")
    assert "timeout" not in reading.detail
    assert 1 <= len(answer.requests) <= 3


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (query_error_xml("Throttling", "Rate exceeded"), XML_CONTENT, "Throttling"),
        (THROTTLING_JSON, JSON_CONTENT, "ThrottlingException"),
    ],
    ids=["xml", "json"],
)
async def test_cloudwatch_throttling_reads_as_throttled_in_xml_and_json(
    tmp_path: Path, body: str, content_type: str, code: str
) -> None:
    with answering_endpoint(400, body, content_type) as (url, _):
        readings = await readings_of(only_cloudwatch(context_at(url, tmp_path)))
    assert {reading.detail for reading in readings.values()} == {THROTTLED_TEXT.format(code=code)}


async def test_cloudwatch_xml_error_shows_its_code_and_message_only(tmp_path: Path) -> None:
    body = query_error_xml("InvalidParameterValue", "The parameter StartTime &amp; EndTime differ")
    with answering_endpoint(400, body, XML_CONTENT) as (url, _):
        readings = await readings_of(only_cloudwatch(context_at(url, tmp_path)))
    expected = "AWS error InvalidParameterValue: The parameter StartTime & EndTime differ"
    assert {reading.detail for reading in readings.values()} == {expected}


async def test_elbv2_throttling_reads_as_throttled_per_target_group(tmp_path: Path) -> None:
    body = query_error_xml("Throttling", "Rate exceeded")
    with answering_endpoint(400, body, XML_CONTENT) as (url, _):
        readings = await readings_of(only_target_groups(context_at(url, tmp_path)))
    assert set(readings) == {"targets:web-old", "targets:web-new"}
    assert {reading.detail for reading in readings.values()} == {
        THROTTLED_TEXT.format(code="Throttling")
    }


async def test_rds_request_limit_reads_as_throttled(tmp_path: Path) -> None:
    body = query_error_xml("RequestLimitExceeded", "Request limit exceeded.")
    with answering_endpoint(400, body, XML_CONTENT) as (url, _):
        readings = await readings_of(rds_source(context_at(url, tmp_path)))
    assert readings["replication"].detail == THROTTLED_TEXT.format(code="RequestLimitExceeded")


async def test_http_429_without_a_body_reads_as_throttled(tmp_path: Path) -> None:
    with answering_endpoint(429, "", XML_CONTENT) as (url, _):
        reading = (await readings_of(only_traffic(context_at(url, tmp_path))))["traffic"]
    assert reading.detail.startswith("throttled by AWS (")
    assert reading.detail.endswith("): retrying at the next poll")


async def test_throttled_retries_stay_within_the_sources_timeout(tmp_path: Path) -> None:
    """Ten attempts would outlast a 4 s budget: retrying stops and the reason stays throttled."""
    with answering_endpoint(400, THROTTLING_XML, XML_CONTENT) as (url, answer):
        context = context_at(url, tmp_path, max_attempts=10)
        reading = (await readings_of(only_traffic(context)))["traffic"]
    assert reading.detail == THROTTLED_TEXT.format(code="Throttling")
    assert len(answer.requests) < 10


def client_error(error: Mapping[str, str], status: int = 400) -> ClientError:
    response: Any = {"Error": dict(error), "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetMetricData")


def test_an_error_code_of_digits_int_cannot_read_is_kept_as_a_code() -> None:
    from cockpit.io.aws_errors import aws_error_of

    response: Any = {"Error": {"Code": "5²", "Message": "odd"}, "ResponseMetadata": {}}
    error = aws_error_of(ClientError(response, "GetMetricData"))
    assert error is not None and error.code == "5²" and error.http_status is None


def test_a_raw_xml_body_in_the_message_becomes_code_and_message() -> None:
    error = client_error({"Code": "400", "Message": query_error_xml("Throttling", "Slow down")})
    assert describe_failure(error) == THROTTLED_TEXT.format(code="Throttling")
    error = client_error({"Code": "400", "Message": query_error_xml("ValidationError", "Bad")})
    assert describe_failure(error) == "AWS error ValidationError: Bad"


def test_a_raw_json_body_in_the_message_becomes_code_and_message() -> None:
    body = '{"__type": "com.amazon.coral.validate#ValidationException", "message": "bad range"}'
    error = client_error({"Code": "400", "Message": body})
    assert describe_failure(error) == "AWS error ValidationException: bad range"


def test_an_html_page_shows_no_markup() -> None:
    error = client_error({"Code": "502", "Message": "<html><body>Bad gateway</body></html>"}, 502)
    assert describe_failure(error) == "AWS error HTTP 502"


def test_parse_error_body_reads_xml_and_json() -> None:
    assert parse_error_body(THROTTLING_XML) == ("Throttling", "Rate exceeded")
    assert parse_error_body(THROTTLING_JSON) == ("ThrottlingException", "Rate exceeded")
    assert parse_error_body("nothing here") == ("", "")


def test_outside_text_redacts_whole_before_cutting() -> None:
    secret_key = "AKIA" + "ABCDEFGHIJKLMNOP"
    text = "x" * 150 + f" key {secret_key} password=hunter2hunter2"
    cut = outside_text(text, limit=170)
    assert "AKIA" not in cut and "hunter" not in cut
    assert len(cut) <= 170


def test_outside_text_is_one_printable_line() -> None:
    assert outside_text("Rate\x1b[31m exceeded\n\tnow") == "Rate\\x1b[31m exceeded now"
