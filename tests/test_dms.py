"""The DMS task as our code reads it, and the cutover's reader and writer.

Finding, starting and stopping a task run against moto's server over HTTP. What moto cannot
give (table statistics, a failed or loading task, stop reasons, ResourceNotFoundFault for a
filter that matches nothing) comes from payloads recorded in the shapes of botocore's DMS model,
fed at our adapter boundary; each such test says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cockpit.io.cloudwatch_lag import LagDatapoint
from cockpit.io.context import AwsClients
from cockpit.io.dms import (
    MAX_TABLE_PAGES,
    MAX_TABLES_KEPT,
    TABLE_PAGE_RECORDS,
    CdcLatency,
    DmsTask,
    DmsTaskNotFound,
    DmsTaskReader,
    DmsTaskWriter,
    dms_settings,
    fetch_instance_identifier,
    fetch_table_statistics,
    find_task,
    latency_query,
    parse_latency,
    parse_table_statistics,
    parse_task,
    planned_stop_calls,
    the_one_task,
)
from cockpit.io.failures import ActionFailed
from tests.aws_stand_ins import answering_endpoint
from tests.dms_stand_in import (
    HOSTILE_MESSAGE,
    HOSTILE_TABLE,
    INSTANCE_ARN,
    INSTANCE_NAME,
    RECORDED_AT,
    TASK_ARN,
    TEST_KEYS,
    AnsweringClient,
    DmsStandIn,
    TablePages,
    assert_shaped_like,
    dms_stand_in,
    recorded_table,
    recorded_task,
    table_pages,
)

DMS_JSON = "application/x-amz-json-1.1"


@pytest.fixture(scope="module")
def moto() -> Iterator[DmsStandIn]:
    with dms_stand_in() as stand_in:
        yield stand_in


def described(*tasks: dict[str, Any]) -> dict[str, Any]:
    response = {"ReplicationTasks": list(tasks)}
    assert_shaped_like("DescribeReplicationTasks", response)
    return response


# --- the task, parsed (recorded payloads) --------------------------------------------------------


def test_a_recorded_loading_task_is_read_field_by_field() -> None:
    """Recorded payload: moto's tasks never load; this is real DMS's shape for a full load."""
    stats = {"FullLoadProgressPercent": 42, "TablesLoaded": 4, "TablesLoading": 3}
    [entry] = described(recorded_task({**stats, "TablesQueued": 5}))["ReplicationTasks"]
    assert parse_task(entry) == DmsTask(
        identifier="shop-cdc",
        arn=TASK_ARN,
        status="running",
        migration_type="full-load-and-cdc",
        replication_instance_arn=INSTANCE_ARN,
        full_load_percent=42,
        tables_loaded=4,
        tables_loading=3,
        tables_queued=5,
        tables_errored=0,
        elapsed_millis=86_400_000,
    )


def test_a_failure_message_from_aws_arrives_sanitized() -> None:
    """Recorded payload: a failed task whose message carries ANSI escapes and line breaks."""
    entry = recorded_task(
        Status="failed", StopReason="Stop Reason FATAL_ERROR", LastFailureMessage=HOSTILE_MESSAGE
    )
    task = parse_task(described(entry)["ReplicationTasks"][0])
    message = task.last_failure_message
    assert message is not None
    assert message.startswith('\\x1b[31mERROR\\x1b[0m: relation "orders" does not exist')
    assert not any(char in message for char in "\x1b\n\r\t\x07")


def test_counts_aws_leaves_out_are_not_known_rather_than_0() -> None:
    """Recorded payload, cut down: a task just created reports no statistics."""
    entry = {"ReplicationTaskIdentifier": "shop-cdc", "ReplicationTaskArn": TASK_ARN}
    task = parse_task({**entry, "Status": "ready", "ReplicationTaskStats": {"TablesErrored": True}})
    assert (task.full_load_percent, task.tables_loaded, task.tables_errored) == (None, None, None)
    assert (task.migration_type, task.stop_reason, task.last_failure_message) == (None, None, None)


@pytest.mark.parametrize(
    ("status", "migration_type", "stop_reason", "cut_over"),
    [
        ("stopped", "full-load-and-cdc", "Stop Reason NORMAL", True),
        ("stopped", "cdc", "Stop Reason STOPPED_AT_SERVER_TIME", True),
        ("stopped", "cdc", "Stop Reason STOPPED_AT_COMMIT_TIME", True),
        ("stopped", "full-load-and-cdc", "Stop Reason RECOVERABLE_ERROR", False),
        ("stopped", "full-load-and-cdc", "Stop Reason STOPPED_AFTER_FULL_LOAD", False),
        ("stopped", "full-load", "Stop Reason FULL_LOAD_ONLY_FINISHED", False),
        ("stopped", "full-load", "Stop Reason NORMAL", False),
        ("stopped", "cdc", None, False),
        ("running", "cdc", None, False),
        ("failed", "cdc", "Stop Reason NORMAL", False),
    ],
)
def test_a_task_is_cut_over_only_when_stopped_on_purpose_after_capturing_changes(
    status: str, migration_type: str, stop_reason: str | None, cut_over: bool
) -> None:
    """Recorded payloads: the stop reasons DMS documents; moto gives none."""
    fields: dict[str, Any] = {"Status": status, "MigrationType": migration_type}
    if stop_reason is not None:
        fields["StopReason"] = stop_reason
    entry = recorded_task(None, **fields)
    assert parse_task(described(entry)["ReplicationTasks"][0]).cut_over is cut_over


def test_no_task_or_several_name_the_key_to_check() -> None:
    """Recorded payloads: moto refuses two tasks of one identifier, so several is recorded."""
    with pytest.raises(DmsTaskNotFound, match=r"'shop-cdc' not found: check replication\.dms"):
        the_one_task(described(), "shop-cdc")
    twin = recorded_task(ReplicationTaskArn=TASK_ARN.replace("XG7Q", "ZZ9Q"))
    with pytest.raises(DmsTaskNotFound) as several:
        the_one_task(described(recorded_task(), twin), "shop-cdc")
    assert str(several.value).startswith(f"2 DMS tasks match 'shop-cdc' ({TASK_ARN}, ")
    assert str(several.value).endswith("check replication.dms.task_identifier")


def test_resource_not_found_from_aws_means_no_such_task() -> None:
    """A client stand-in raising what real DMS answers a filter that matches nothing."""
    error = {"Code": "ResourceNotFoundFault", "Message": "No Tasks found matching provided filters"}
    client = AnsweringClient(
        describe_replication_tasks=ClientError({"Error": error}, "DescribeReplicationTasks")
    )
    with pytest.raises(DmsTaskNotFound, match=r"check replication\.dms\.task_identifier"):
        find_task(client, "shop-cdc")
    [(_, arguments)] = client.calls
    assert arguments["Filters"] == [{"Name": "replication-task-id", "Values": ["shop-cdc"]}]


# --- the task, on moto ---------------------------------------------------------------------------


def test_the_task_is_found_by_its_identifier_among_others(moto: DmsStandIn) -> None:
    identifier, arn = moto.running_task()
    moto.create_task()
    task = find_task(moto.client("dms"), identifier)
    assert (task.identifier, task.arn, task.status) == (identifier, arn, "running")
    assert task.replication_instance_arn == moto.instance_arn
    with pytest.raises(DmsTaskNotFound, match="'no-such-task' not found"):
        find_task(moto.client("dms"), "no-such-task")


def test_the_replication_instance_name_comes_from_the_dms_api(moto: DmsStandIn) -> None:
    name = fetch_instance_identifier(moto.client("dms"), moto.instance_arn)
    assert name == INSTANCE_NAME
    with pytest.raises(LookupError, match="not found"):
        fetch_instance_identifier(moto.client("dms"), INSTANCE_ARN)


# --- table statistics (recorded payloads) --------------------------------------------------------


def test_table_statistics_follow_every_marker() -> None:
    """Recorded pages fed to our fetch through a client stand-in: moto has no table statistics."""
    pages = table_pages(
        [recorded_table("customers"), recorded_table("orders")],
        [recorded_table("payments")],
        [recorded_table("refunds")],
        task_arn=TASK_ARN,
    )
    for page in pages:
        assert_shaped_like("DescribeTableStatistics", page)
    client = TablePages(pages)
    tables = fetch_table_statistics(client, TASK_ARN)
    assert [call.get("Marker") for call in client.calls] == [None, "page-1", "page-2"]
    assert {call["ReplicationTaskArn"] for call in client.calls} == {TASK_ARN}
    assert {call["MaxRecords"] for call in client.calls} == {TABLE_PAGE_RECORDS}
    assert [row.name for row in tables.rows] == [
        "shop.customers",
        "shop.orders",
        "shop.payments",
        "shop.refunds",
    ]
    assert (tables.total, tables.complete, tables.capped) == (4, True, False)


def test_a_table_row_keeps_every_count_and_its_last_update() -> None:
    """Recorded payload of one table."""
    [row] = parse_table_statistics([{"TableStatistics": [recorded_table("orders")]}]).rows
    assert (row.inserts, row.updates, row.deletes, row.full_load_rows) == (120, 45, 3, 50_000)
    assert (row.state, row.validation_state, row.full_load_error_rows) == (
        "Table completed",
        "Validated",
        0,
    )
    assert row.last_update == RECORDED_AT - timedelta(seconds=5)
    assert not row.in_error and not row.fails_validation


def test_a_hostile_table_name_arrives_sanitized() -> None:
    """Recorded payload: a table name with an escape sequence and a line break."""
    page = {"TableStatistics": [recorded_table(HOSTILE_TABLE)]}
    assert_shaped_like("DescribeTableStatistics", page)
    [row] = parse_table_statistics([page]).rows
    assert row.table == "orders\\x1b[2J DROP TABLE"


def test_the_table_cap_keeps_the_troubled_tables_first() -> None:
    """Recorded pages: 120 tables, the troubled ones last by name."""
    healthy = [recorded_table(f"t{number:03d}") for number in range(117)]
    troubled = [
        recorded_table("zz_broken", TableState="Table error"),
        recorded_table("zz_mismatch", ValidationState="Mismatched records"),
        recorded_table("zz_loading", TableState="Full load"),
    ]
    tables = parse_table_statistics([{"TableStatistics": [*healthy, *troubled]}])
    assert (len(tables.rows), tables.total, tables.capped) == (MAX_TABLES_KEPT, 120, True)
    assert [row.table for row in tables.rows[:4]] == [
        "zz_broken",
        "zz_mismatch",
        "zz_loading",
        "t000",
    ]
    assert [row.table for row in tables.in_error()] == ["zz_broken"]
    assert [row.table for row in tables.failing_validation()] == ["zz_mismatch"]


class EndlessPages:
    """A client stand-in whose every page names another, as a task with countless tables would."""

    def __init__(self) -> None:
        self.calls = 0

    def describe_table_statistics(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        return {"TableStatistics": [recorded_table(f"t{self.calls}")], "Marker": "more"}


def test_reading_stops_at_the_page_cap_and_says_so() -> None:
    client = EndlessPages()
    tables = fetch_table_statistics(client, TASK_ARN)
    assert client.calls == MAX_TABLE_PAGES
    assert (tables.total, tables.complete) == (MAX_TABLE_PAGES, False)


# --- CDC latency ---------------------------------------------------------------------------------


def test_latency_dimensions_are_the_instance_name_and_the_task_resource_id() -> None:
    """Recorded payload: real ARNs end in generated ids, unlike moto's, which end in the names."""
    task = parse_task(recorded_task())
    query = latency_query(task, "shop-dms", RECORDED_AT)
    metrics = {q["Id"]: q["MetricStat"]["Metric"] for q in query["MetricDataQueries"]}
    assert {metric["MetricName"] for metric in metrics.values()} == {
        "CDCLatencySource",
        "CDCLatencyTarget",
    }
    for metric in metrics.values():
        assert metric["Namespace"] == "AWS/DMS"
        assert metric["Dimensions"] == [
            {"Name": "ReplicationInstanceIdentifier", "Value": "shop-dms"},
            {"Name": "ReplicationTaskIdentifier", "Value": "XG7QK2N4LMZ3R5T6Y8UABCDEFG"},
        ]
    assert query["StartTime"] == RECORDED_AT - timedelta(minutes=5)


def test_the_newest_datapoint_of_each_latency_and_never_0_for_none() -> None:
    response = {
        "MetricDataResults": [
            {
                "Id": "cdc_latency_source",
                "Timestamps": [RECORDED_AT - timedelta(minutes=2), RECORDED_AT],
                "Values": [9.0, 1.0],
            },
            {"Id": "cdc_latency_target", "Timestamps": [], "Values": []},
        ]
    }
    latency = parse_latency(response)
    assert latency.source == LagDatapoint(1.0, RECORDED_AT)
    assert latency.target is None
    assert latency.seconds is None
    assert latency.age_seconds(RECORDED_AT + timedelta(seconds=40)) == 40.0
    both = CdcLatency(LagDatapoint(0.0, RECORDED_AT), LagDatapoint(2.5, RECORDED_AT))
    assert both.seconds == 2.5
    assert CdcLatency().age_seconds(RECORDED_AT) is None


# --- the cutover's reader and writer (moto) ------------------------------------------------------


def reader_and_writer(
    moto: DmsStandIn, identifier: str, tmp_path: Path
) -> tuple[DmsTaskReader, DmsTaskWriter]:
    config = moto.config(identifier, tmp_path)
    aws = AwsClients(config.aws, TEST_KEYS)
    return DmsTaskReader(config, aws), DmsTaskWriter(config, aws)


def test_stopping_a_running_task_returns_evidence_and_reads_back_stopped(
    moto: DmsStandIn, tmp_path: Path
) -> None:
    identifier, arn = moto.running_task()
    reader, writer = reader_and_writer(moto, identifier, tmp_path)
    assert reader.task().status == "running"

    found, stopped = writer.stop_task()

    assert found == (
        f"dms DescribeReplicationTasks replication-task-id={identifier}: task {arn}, status running"
    )
    assert stopped.startswith(
        f"dms StopReplicationTask ReplicationTaskArn={arn}: task status stopped, request id "
    )
    assert not stopped.endswith("request id unknown")
    assert reader.task().status == "stopped"


def test_stopping_a_task_that_is_not_running_changes_nothing(
    moto: DmsStandIn, tmp_path: Path
) -> None:
    identifier, _ = moto.create_task()
    reader, writer = reader_and_writer(moto, identifier, tmp_path)
    with pytest.raises(ActionFailed) as refused:
        writer.stop_task()
    assert str(refused.value) == (
        f"DMS task {identifier} is not running (status creating): it was already stopped or "
        "never started; nothing was changed"
    )
    assert reader.task().status == "creating"


def test_an_unknown_task_is_a_worded_failure_naming_the_key(
    moto: DmsStandIn, tmp_path: Path
) -> None:
    reader, writer = reader_and_writer(moto, "no-such-task", tmp_path)
    for step in (reader.task, writer.stop_task):
        with pytest.raises(ActionFailed, match=r"check replication\.dms\.task_identifier"):
            step()


def test_a_refused_read_says_what_failed_and_where_to_look(tmp_path: Path) -> None:
    """A loopback HTTP endpoint answering like DMS does when IAM refuses: moto cannot refuse."""
    body = (
        '{"__type": "AccessDeniedFault", "message": "not authorized to DescribeReplicationTasks"}'
    )
    with answering_endpoint(400, body, DMS_JSON) as (url, answer):
        config = DmsStandIn.config_for(url, "shop-cdc", tmp_path)
        reader = DmsTaskReader(config, AwsClients(config.aws, TEST_KEYS))
        with pytest.raises(ActionFailed) as refused:
            reader.task()
    assert str(refused.value) == (
        "cannot read DMS task shop-cdc: AWS error AccessDeniedFault: not authorized to "
        "DescribeReplicationTasks; check the [aws] section and the replication panel"
    )
    assert answer.requests


def test_without_replication_dms_the_cutover_names_the_section(
    moto: DmsStandIn, tmp_path: Path
) -> None:
    config = moto.config("shop-cdc", tmp_path)
    assert planned_stop_calls(config) == (
        "dms DescribeReplicationTasks replication-task-id=shop-cdc (finds the task's ARN)",
        "dms StopReplicationTask for task shop-cdc",
    )
    without = config.model_copy(update={"replication": None})
    with pytest.raises(ActionFailed, match=r"no \[replication\.dms\] section"):
        dms_settings(without)
