"""The DMS replication source: each status rule, its values, and the source against moto.

The rules are checked on payloads recorded in the shapes of botocore's DMS model (moto's tasks
never fail, load or give a stop reason), parsed by our own functions. The source itself runs
against moto's server over HTTP with CDC latencies put into moto's CloudWatch; moto has no
describe_table_statistics, so those tests answer that one call from recorded pages through a
client stand-in, and say so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from cockpit.clock import FrozenClock
from cockpit.io.cloudwatch_lag import LagDatapoint
from cockpit.io.context import AwsClients
from cockpit.io.dms import CdcLatency, DmsTaskWriter, parse_table_statistics, parse_task
from cockpit.live.poller import poll_once
from cockpit.model import Reading, SignalKind, Status, Value, reading_from_json, reading_to_json
from cockpit.sources.build import aws_services_in_use
from cockpit.sources.replication import build_replication_sources
from cockpit.sources.replication_dms import (
    DmsObservation,
    DmsReplicationSource,
    classify,
    reading_values,
    typed_values,
)
from cockpit.sources.replication_dms_values import DmsTableRow, DmsValues
from cockpit.sources.replication_values import ReplicationValues
from tests.dms_stand_in import (
    HOSTILE_MESSAGE,
    HOSTILE_TABLE,
    RECORDED_AT,
    TEST_KEYS,
    AnsweringClient,
    ClientsWithTablePages,
    DmsStandIn,
    TablePages,
    assert_shaped_like,
    dms_stand_in,
    recorded_table,
    recorded_task,
    table_pages,
)

NOW = RECORDED_AT + timedelta(seconds=30)
CAUGHT_UP = CdcLatency(LagDatapoint(0.0, RECORDED_AT), LagDatapoint(0.0, RECORDED_AT))


def observed(
    task: Mapping[str, Any] | None = None,
    tables: Sequence[Mapping[str, Any]] = (),
    latency: CdcLatency = CAUGHT_UP,
    **fields: Any,
) -> DmsObservation:
    """An observation of recorded payloads, each checked against botocore's DMS model."""
    entry = recorded_task() if task is None else task
    assert_shaped_like("DescribeReplicationTasks", {"ReplicationTasks": [entry]})
    page = {"TableStatistics": list(tables)}
    assert_shaped_like("DescribeTableStatistics", page)
    parsed = parse_table_statistics([page])
    return DmsObservation("shop-cdc", parse_task(entry), tables=parsed, latency=latency, **fields)


# --- the status rules (recorded payloads) --------------------------------------------------------


def test_a_task_that_is_not_there_is_critical_and_names_the_key() -> None:
    missing = "DMS task 'shop-cdc' not found: check replication.dms.task_identifier"
    observation = DmsObservation("shop-cdc", None, missing=missing)
    assert classify(observation, NOW) == (Status.CRITICAL, missing)
    values = reading_values(observation, NOW)
    assert "task_status" in values and values["task_status"] is None
    assert ReplicationValues.from_values(values).engine == "dms"
    assert (values["in_recovery"], values["promoted"], values["replay_lag_seconds"]) == (
        None,
        None,
        None,
    )


def test_a_failed_task_is_critical_with_its_sanitized_failure_message() -> None:
    """Recorded payload: a failed task whose message carries ANSI escapes and line breaks."""
    task = recorded_task(
        Status="failed", StopReason="Stop Reason FATAL_ERROR", LastFailureMessage=HOSTILE_MESSAGE
    )
    status, detail = classify(observed(task), NOW)
    assert status is Status.CRITICAL
    assert detail.startswith(
        'task failed; last failure: \\x1b[31mERROR\\x1b[0m: relation "orders" does not exist'
    )
    message = reading_values(observed(task), NOW)["last_failure_message"]
    assert isinstance(message, str) and "\x1b" not in message and "\n" not in message


def test_errored_tables_are_critical_even_while_the_task_runs() -> None:
    """Recorded payloads: TablesErrored counted by the task, and a table in "Table error"."""
    task = recorded_task({"TablesErrored": 2}, LastFailureMessage="duplicate key on orders")
    tables = [recorded_table("orders", TableState="Table error"), recorded_table("customers")]
    status, detail = classify(observed(task, tables), NOW)
    assert status is Status.CRITICAL
    assert detail == (
        "task running; 2 tables errored; in error: shop.orders; last failure: duplicate key on "
        "orders"
    )


def test_a_table_in_error_alone_is_critical_and_named() -> None:
    """Recorded payload: a table in "Table error" before the task's count caught up."""
    tables = [recorded_table(HOSTILE_TABLE, TableState="Table error")]
    status, detail = classify(observed(recorded_task(), tables), NOW)
    assert status is Status.CRITICAL
    assert "in error: shop.orders\\x1b[2J DROP TABLE; last failure: none given" in detail


@pytest.mark.parametrize(
    "reason", ["Stop Reason NORMAL", "Stop Reason STOPPED_AT_SERVER_TIME", "NORMAL"]
)
def test_stopped_on_purpose_after_cdc_is_cut_over(reason: str) -> None:
    """Recorded payload: the stop reasons DMS gives a task stopped by hand or at its stop time."""
    observation = observed(recorded_task(Status="stopped", StopReason=reason), latency=CdcLatency())
    assert classify(observation, NOW) == (Status.OK, f"cut over: task stopped ({reason})")
    shared = ReplicationValues.from_values(reading_values(observation, NOW))
    assert (shared.promoted, shared.in_recovery, shared.left_recovery) == (True, False, True)
    assert shared.state == "stopped"


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (
            recorded_task(
                Status="stopped",
                StopReason="Stop Reason RECOVERABLE_ERROR",
                LastFailureMessage="lost connection to the source",
            ),
            "task stopped (Stop Reason RECOVERABLE_ERROR) before cutover; last failure: lost "
            "connection to the source",
        ),
        (
            recorded_task(Status="stopped"),
            "task stopped (no stop reason given) before cutover",
        ),
        (
            recorded_task(
                Status="stopped",
                MigrationType="full-load",
                StopReason="Stop Reason FULL_LOAD_ONLY_FINISHED",
            ),
            "task stopped (Stop Reason FULL_LOAD_ONLY_FINISHED): a full-load task copies no "
            "changes made after the load",
        ),
    ],
    ids=["error", "no-reason", "full-load-only"],
)
def test_stopped_any_other_way_is_critical_with_the_reason(
    task: dict[str, Any], expected: str
) -> None:
    """Recorded payloads: stop reasons other than a stop on purpose after CDC."""
    observation = observed(task, latency=CdcLatency())
    assert classify(observation, NOW) == (Status.CRITICAL, expected)
    shared = ReplicationValues.from_values(reading_values(observation, NOW))
    assert (shared.promoted, shared.in_recovery, shared.left_recovery) == (False, None, False)


@pytest.mark.parametrize(
    ("task_status", "expected"),
    [
        ("ready", Status.WARN),
        ("starting", Status.WARN),
        ("stopping", Status.WARN),
        ("modifying", Status.WARN),
        ("deleting", Status.CRITICAL),
        ("failed-move", Status.CRITICAL),
    ],
)
def test_a_task_neither_running_nor_stopped_says_its_status(
    task_status: str, expected: Status
) -> None:
    """Recorded payloads: the other statuses DMS documents."""
    observation = observed(recorded_task(Status=task_status), latency=CdcLatency())
    assert classify(observation, NOW) == (expected, f"task {task_status}")


def test_a_full_load_in_progress_warns_with_its_progress() -> None:
    """Recorded payload: moto's tasks are always fully loaded."""
    stats = {"FullLoadProgressPercent": 42, "TablesLoaded": 10, "TablesLoading": 3}
    task = recorded_task({**stats, "TablesQueued": 5})
    observation = observed(task, latency=CdcLatency())
    assert classify(observation, NOW) == (
        Status.WARN,
        "full load 42 %: 10 tables loaded, 3 loading, 5 queued",
    )
    values = reading_values(observation, NOW)
    assert (values["full_load_percent"], values["tables_loading"], values["tables_queued"]) == (
        42,
        3,
        5,
    )


def test_unknown_cdc_latency_is_unknown_never_0() -> None:
    """Recorded payload of a running task; only CDCLatencySource has a datapoint."""
    latency = CdcLatency(source=LagDatapoint(0.0, RECORDED_AT))
    observation = observed(latency=latency)
    assert classify(observation, NOW) == (
        Status.UNKNOWN,
        "no CDCLatencyTarget datapoints in the last 5 min",
    )
    values = reading_values(observation, NOW)
    assert values["cdc_latency_source_seconds"] == 0.0
    assert values["cdc_latency_target_seconds"] is None
    assert values["replay_lag_seconds"] is None
    none_at_all = classify(observed(latency=CdcLatency()), NOW)
    assert none_at_all[1] == "no CDCLatencySource or CDCLatencyTarget datapoints in the last 5 min"


def test_a_cloudwatch_failure_is_unknown_with_the_reason() -> None:
    """Recorded payload of a running task; the failure as describe_failure words it."""
    latency = CdcLatency(error="throttled by AWS (Throttling): retrying at the next poll")
    status, detail = classify(observed(latency=latency), NOW)
    assert status is Status.UNKNOWN
    assert detail == (
        "CDC latency unavailable (throttled by AWS (Throttling): retrying at the next poll)"
    )


def test_latency_over_10_s_warns() -> None:
    """Recorded payload of a running task."""
    latency = CdcLatency(LagDatapoint(2.0, RECORDED_AT), LagDatapoint(12.0, RECORDED_AT))
    assert classify(observed(latency=latency), NOW) == (
        Status.WARN,
        "CDCLatencySource 2.0 s, CDCLatencyTarget 12.0 s: over 10 s",
    )
    assert reading_values(observed(latency=latency), NOW)["replay_lag_seconds"] == 12.0


def test_validation_failures_warn_and_name_the_tables() -> None:
    """Recorded payloads: DMS validation found mismatched records in two tables."""
    tables = [
        recorded_table("orders", ValidationFailedRecords=7, ValidationState="Mismatched records"),
        recorded_table("refunds", ValidationState="Mismatched records"),
        recorded_table("customers"),
    ]
    status, detail = classify(observed(tables=tables), NOW)
    assert status is Status.WARN
    assert detail == (
        "CDCLatencySource 0.0 s, CDCLatencyTarget 0.0 s: caught up; "
        "validation failures in shop.orders, shop.refunds"
    )


def test_unreadable_table_statistics_warn_and_say_why() -> None:
    """Recorded payload of a running task, its table statistics refused."""
    observation = DmsObservation(
        "shop-cdc",
        parse_task(recorded_task()),
        tables_error="access denied by AWS IAM",
        latency=CAUGHT_UP,
    )
    status, detail = classify(observation, NOW)
    assert status is Status.WARN
    assert detail.endswith("caught up; table statistics unavailable (access denied by AWS IAM)")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, "CDCLatencySource 0.0 s, CDCLatencyTarget 0.0 s: caught up"),
        (3.0, "CDCLatencySource 0.0 s, CDCLatencyTarget 3.0 s"),
    ],
)
def test_running_cdc_within_10_s_is_ok(seconds: float, expected: str) -> None:
    """Recorded payload of a running task."""
    latency = CdcLatency(LagDatapoint(0.0, RECORDED_AT), LagDatapoint(seconds, RECORDED_AT))
    observation = observed(tables=[recorded_table("orders")], latency=latency)
    assert classify(observation, NOW) == (Status.OK, expected)
    shared = ReplicationValues.from_values(reading_values(observation, NOW))
    assert (shared.in_recovery, shared.promoted, shared.replay_lag_seconds) == (
        True,
        False,
        seconds,
    )
    assert shared.replay_lag_bytes is None and not shared.sees_primary_writes


def test_an_old_datapoint_says_its_age() -> None:
    """Recorded payload of a running task; its newest datapoints are 4 minutes old."""
    detail = classify(observed(), RECORDED_AT + timedelta(minutes=4))[1]
    assert detail == (
        "CDCLatencySource 0.0 s (newest datapoint 4m old), CDCLatencyTarget 0.0 s "
        "(newest datapoint 4m old): caught up"
    )


def test_the_reading_says_when_tables_were_left_out() -> None:
    """Recorded payloads: 60 tables, more than a reading keeps."""
    tables = [recorded_table(f"t{number:02d}") for number in range(60)]
    observation = observed(tables=tables)
    assert classify(observation, NOW)[1].endswith("caught up; showing 50 of 60 tables")
    values = typed_values(observation, NOW)
    assert (len(values.tables), values.tables_total) == (50, 60)


# --- typed values --------------------------------------------------------------------------------


def read_back(values: Mapping[str, Value]) -> Reading:
    """The reading as a journal reader rebuilds it."""
    reading = Reading("replication", SignalKind.REPLICATION, Status.OK, NOW, values)
    return reading_from_json(reading_to_json(reading))


def test_a_dms_reading_decodes_every_value_and_journals_the_same() -> None:
    """Recorded payloads: a running task with one table failing validation."""
    tables = [recorded_table("orders", ValidationFailedRecords=7), recorded_table("customers")]
    observation = observed(tables=tables)
    values = reading_values(observation, NOW)
    rebuilt = read_back(values)
    decoded = DmsValues.from_reading(rebuilt)
    assert decoded == typed_values(observation, NOW)
    assert decoded.as_values() == values
    assert reading_to_json(read_back(decoded.as_values())) == reading_to_json(rebuilt)
    assert decoded.tables[0] == DmsTableRow(
        schema="shop",
        table="orders",
        state="Table completed",
        inserts=120,
        updates=45,
        deletes=3,
        full_load_rows=50_000,
        validation_state="Validated",
        validation_failed_records=7,
    )
    shared = ReplicationValues.from_reading(rebuilt)
    assert (shared.engine, shared.state, shared.replay_lag_seconds) == ("dms", "running", 0.0)


def test_the_reading_keys_are_the_documented_ones() -> None:
    assert list(reading_values(observed(), NOW)) == [
        "task_status",
        "task_identifier",
        "stop_reason",
        "migration_type",
        "full_load_percent",
        "tables_loaded",
        "tables_loading",
        "tables_queued",
        "tables_errored",
        "cdc_latency_source_seconds",
        "cdc_latency_target_seconds",
        "latency_age_seconds",
        "last_failure_message",
        "tables",
        "tables_total",
        "tables_error",
        "latency_error",
        "replay_lag_seconds",
        "replay_lag_bytes",
        "in_recovery",
        "promoted",
        "state",
    ]


def test_odd_dms_values_read_as_not_known() -> None:
    decoded = DmsValues.from_values(
        {
            "task_status": 3,
            "tables_errored": "two",
            "cdc_latency_source_seconds": True,
            "promoted": "yes",
            "tables": [{"table": 5, "inserts": 1.5}, "not a table"],
        }
    )
    assert (decoded.task_status, decoded.tables_errored, decoded.promoted) == (None, None, None)
    assert decoded.cdc_latency_source_seconds is None and decoded.replay_lag_seconds is None
    assert decoded.tables == (DmsTableRow(schema=None, table=None),)


# --- the source against moto ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[DmsStandIn]:
    with dms_stand_in() as stand_in:
        yield stand_in


def source_for(
    moto: DmsStandIn, identifier: str, tmp_path: Path, now: datetime, aws: object = None
) -> DmsReplicationSource:
    context = moto.context(identifier, tmp_path, FrozenClock(now))
    if aws is not None:
        context.aws = cast(AwsClients, aws)
    [source] = build_replication_sources(context)
    assert isinstance(source, DmsReplicationSource)
    return source


def with_table_pages(
    moto: DmsStandIn, identifier: str, tmp_path: Path, pages: TablePages
) -> ClientsWithTablePages:
    config = moto.config(identifier, tmp_path)
    return ClientsWithTablePages(AwsClients(config.aws, TEST_KEYS), pages)


async def test_a_running_task_caught_up_on_moto_is_ok(moto: DmsStandIn, tmp_path: Path) -> None:
    """moto's task and latencies; the table statistics are recorded pages (moto has none)."""
    identifier, arn = moto.running_task()
    now = datetime.now(UTC)
    for metric in ("CDCLatencySource", "CDCLatencyTarget"):
        moto.put_latency(arn, metric, 0.0, now - timedelta(seconds=30))
    pages = TablePages(table_pages([recorded_table("orders")], task_arn=arn))
    aws = with_table_pages(moto, identifier, tmp_path, pages)

    [reading] = await source_for(moto, identifier, tmp_path, now, aws).read()

    assert (reading.status, reading.detail) == (
        Status.OK,
        "CDCLatencySource 0.0 s, CDCLatencyTarget 0.0 s: caught up",
    )
    values = DmsValues.from_reading(reading)
    assert (values.task_status, values.task_identifier, values.migration_type) == (
        "running",
        identifier,
        "full-load-and-cdc",
    )
    assert values.latency_age_seconds is not None and values.latency_age_seconds >= 0
    assert [(row.schema, row.table) for row in values.tables] == [("shop", "orders")]
    assert [call["ReplicationTaskArn"] for call in pages.calls] == [arn]
    shared = ReplicationValues.from_reading(reading)
    assert (shared.engine, shared.in_recovery, shared.promoted) == ("dms", True, False)
    assert (shared.replay_lag_seconds, shared.replay_lag_bytes) == (0.0, None)


async def test_no_latency_datapoints_on_moto_is_unknown_never_0(
    moto: DmsStandIn, tmp_path: Path
) -> None:
    """moto's task without any datapoint; the table statistics are a recorded empty page."""
    identifier, arn = moto.running_task()
    aws = with_table_pages(moto, identifier, tmp_path, TablePages(table_pages([], task_arn=arn)))
    [reading] = await source_for(moto, identifier, tmp_path, datetime.now(UTC), aws).read()
    assert reading.status is Status.UNKNOWN
    assert reading.detail == "no CDCLatencySource or CDCLatencyTarget datapoints in the last 5 min"
    assert reading.values["replay_lag_seconds"] is None
    assert reading.values["cdc_latency_source_seconds"] is None
    assert reading.values["cdc_latency_target_seconds"] is None


async def test_a_latency_over_10_s_on_moto_warns(moto: DmsStandIn, tmp_path: Path) -> None:
    """moto's task and latencies; the table statistics are a recorded empty page."""
    identifier, arn = moto.running_task()
    now = datetime.now(UTC)
    moto.put_latency(arn, "CDCLatencySource", 1.0, now - timedelta(seconds=90))
    moto.put_latency(arn, "CDCLatencyTarget", 12.0, now - timedelta(seconds=30))
    aws = with_table_pages(moto, identifier, tmp_path, TablePages(table_pages([], task_arn=arn)))
    [reading] = await source_for(moto, identifier, tmp_path, now, aws).read()
    assert reading.status is Status.WARN
    assert "CDCLatencyTarget 12.0 s: over 10 s" in reading.detail
    assert reading.values["replay_lag_seconds"] == 12.0


async def test_a_task_stopped_on_moto_reads_stopped_and_not_cut_over(
    moto: DmsStandIn, tmp_path: Path
) -> None:
    """moto's stop gives no StopReason (real DMS says "Stop Reason NORMAL"), so it is not cut
    over; table statistics are a recorded empty page."""
    identifier, arn = moto.running_task()
    config = moto.config(identifier, tmp_path)
    DmsTaskWriter(config, AwsClients(config.aws, TEST_KEYS)).stop_task()
    aws = with_table_pages(moto, identifier, tmp_path, TablePages(table_pages([], task_arn=arn)))
    [reading] = await source_for(moto, identifier, tmp_path, datetime.now(UTC), aws).read()
    assert (reading.status, reading.detail) == (
        Status.CRITICAL,
        "task stopped (no stop reason given) before cutover",
    )
    shared = ReplicationValues.from_reading(reading)
    assert (shared.state, shared.promoted, shared.in_recovery) == ("stopped", False, None)


async def test_an_unknown_task_on_moto_is_critical_naming_the_key(
    moto: DmsStandIn, tmp_path: Path
) -> None:
    source = source_for(moto, "no-such-task", tmp_path, datetime.now(UTC))
    [reading] = await source.read()
    assert reading.status is Status.CRITICAL
    assert "'no-such-task' not found: check replication.dms.task_identifier" in reading.detail
    assert ReplicationValues.from_reading(reading).engine == "dms"


async def test_refused_table_statistics_keep_the_task_status(
    moto: DmsStandIn, tmp_path: Path
) -> None:
    """moto's task; describe_table_statistics answered by a stand-in raising AccessDeniedFault."""
    identifier, arn = moto.running_task()
    now = datetime.now(UTC)
    for metric in ("CDCLatencySource", "CDCLatencyTarget"):
        moto.put_latency(arn, metric, 0.0, now - timedelta(seconds=30))
    error = {"Code": "AccessDeniedFault", "Message": "not authorized"}
    refusing = AnsweringClient(
        describe_table_statistics=ClientError({"Error": error}, "DescribeTableStatistics")
    )
    aws = with_table_pages(moto, identifier, tmp_path, cast(TablePages, refusing))
    [reading] = await source_for(moto, identifier, tmp_path, now, aws).read()
    assert reading.status is Status.WARN
    assert reading.detail.endswith(
        "caught up; table statistics unavailable (AWS error AccessDeniedFault: not authorized)"
    )
    assert reading.values["task_status"] == "running"
    assert reading.values["tables_error"] == "AWS error AccessDeniedFault: not authorized"


class CountingInstances:
    """context.aws with DMS's describe_replication_instances counted; moto answers it."""

    def __init__(self, real: ClientsWithTablePages) -> None:
        self._real = real
        self.instance_calls = 0

    def client(self, service: str) -> Any:
        client = self._real.client(service)
        if service != "dms":
            return client
        counter = self

        class Counted:
            def __getattr__(self, name: str) -> Any:
                if name == "describe_replication_instances":
                    counter.instance_calls += 1
                return getattr(client, name)

        return Counted()


async def test_the_instance_name_is_asked_once(moto: DmsStandIn, tmp_path: Path) -> None:
    """moto's task and instance; the table statistics are a recorded empty page."""
    identifier, arn = moto.running_task()
    pages = TablePages(table_pages([], task_arn=arn))
    aws = CountingInstances(with_table_pages(moto, identifier, tmp_path, pages))
    source = source_for(moto, identifier, tmp_path, datetime.now(UTC), aws)
    for _ in range(2):
        await source.read()
    assert aws.instance_calls == 1


async def test_a_failing_describe_reads_unknown_with_the_reason(
    moto: DmsStandIn, tmp_path: Path
) -> None:
    """A DMS client stand-in raising an expired token: moto cannot expire credentials."""
    error = {"Code": "ExpiredTokenException", "Message": "The security token has expired"}
    expired = AnsweringClient(
        describe_replication_tasks=ClientError({"Error": error}, "DescribeReplicationTasks")
    )

    class ExpiredAws:
        def client(self, service: str) -> Any:
            return expired

    source = source_for(moto, "shop-cdc", tmp_path, datetime.now(UTC), ExpiredAws())
    readings, succeeded = await poll_once(source)
    assert not succeeded
    assert readings[0].status is Status.UNKNOWN
    assert "AWS credentials expired" in readings[0].detail


def test_dms_uses_the_dms_and_cloudwatch_lanes(moto: DmsStandIn, tmp_path: Path) -> None:
    config = moto.config("shop-cdc", tmp_path)
    assert aws_services_in_use(config) == {"dms", "cloudwatch"}
