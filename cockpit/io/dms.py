"""An AWS DMS replication task as the DMS API and CloudWatch tell it, and stopping it at cutover.

Pure parsing of describe_replication_tasks, describe_table_statistics and the CDCLatencySource /
CDCLatencyTarget datapoints, for the replication source; the blocking calls that fetch them; and
DmsTaskReader / DmsTaskWriter for the cutover action, which the runner calls in a thread (in
--read-only and --dry-run modes no writer is built). Every string AWS sends passes outside_text
before it is kept, so a failure message or a table name cannot smuggle control characters in.

CloudWatch's AWS/DMS dimensions are not the names in the config: ReplicationInstanceIdentifier
is the replication instance's name (read with describe_replication_instances, since the
instance's ARN ends in a generated id), and ReplicationTaskIdentifier is the task's resource id,
the end of its ARN, not the task identifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cockpit.config import Config, DmsReplication
from cockpit.io.aws_errors import aws_error_code
from cockpit.io.cloudwatch_lag import LagDatapoint, age_seconds, lag_query, newest_datapoint
from cockpit.io.context import AwsClients
from cockpit.io.failures import ActionFailed, describe_failure
from cockpit.outside import outside_text

TASK_IDENTIFIER_KEY = "replication.dms.task_identifier"
NAME_CHARS = 120
FAILURE_MESSAGE_CHARS = 300
MAX_TABLES_KEPT = 50
"""Table rows a reading carries: the troubled ones first, then by name."""
TABLE_PAGE_RECORDS = 500
MAX_TABLE_PAGES = 20
CDC_MIGRATION_TYPES = frozenset({"cdc", "full-load-and-cdc"})
CUT_OVER_STOP_REASONS = frozenset({"NORMAL", "STOPPED_AT_SERVER_TIME", "STOPPED_AT_COMMIT_TIME"})
"""Stop reasons of a task stopped on purpose while it captured changes (by a person or its
CdcStopPosition), without the "Stop Reason " prefix DMS puts before them."""
STOP_REASON_PREFIX = "Stop Reason "
TABLE_ERROR_STATE = "Table error"
LOADING_TABLE_STATES = frozenset({"Before load", "Full load", "Table is being reloaded"})
MISMATCHED_VALIDATION_STATE = "Mismatched records"
NOT_FOUND_CODE = "ResourceNotFoundFault"
NOT_RUNNING_CODE = "InvalidResourceStateFault"
SOURCE_LATENCY_QUERY_ID = "cdc_latency_source"
TARGET_LATENCY_QUERY_ID = "cdc_latency_target"
LATENCY_METRICS = {
    SOURCE_LATENCY_QUERY_ID: "CDCLatencySource",
    TARGET_LATENCY_QUERY_ID: "CDCLatencyTarget",
}


# --- the task -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DmsTask:
    """What describe_replication_tasks says about the task; a count AWS leaves out is None."""

    identifier: str
    arn: str
    status: str
    migration_type: str | None = None
    replication_instance_arn: str | None = None
    stop_reason: str | None = None
    last_failure_message: str | None = None
    full_load_percent: int | None = None
    tables_loaded: int | None = None
    tables_loading: int | None = None
    tables_queued: int | None = None
    tables_errored: int | None = None
    elapsed_millis: int | None = None

    @property
    def resource_id(self) -> str:
        """The end of the task's ARN: CloudWatch's ReplicationTaskIdentifier dimension."""
        return self.arn.rsplit(":", 1)[-1]

    @property
    def captures_changes(self) -> bool:
        """Whether the task replicates ongoing changes (cdc or full-load-and-cdc)."""
        return self.migration_type in CDC_MIGRATION_TYPES

    @property
    def stop_reason_code(self) -> str | None:
        """'NORMAL' from 'Stop Reason NORMAL'; None when AWS gave no reason."""
        if self.stop_reason is None:
            return None
        return self.stop_reason.removeprefix(STOP_REASON_PREFIX).strip()

    @property
    def cut_over(self) -> bool:
        """Stopped on purpose after capturing changes: the target is on its own now."""
        return (
            self.status == "stopped"
            and self.captures_changes
            and self.stop_reason_code in CUT_OVER_STOP_REASONS
        )


class DmsTaskNotFound(Exception):
    """No task, or more than one, has the configured identifier; the text names the key."""


def parse_task(entry: Mapping[str, Any]) -> DmsTask:
    """One ReplicationTask of a describe_replication_tasks or stop_replication_task response."""
    stats = entry.get("ReplicationTaskStats") or {}
    return DmsTask(
        identifier=outside_text(str(entry.get("ReplicationTaskIdentifier") or ""), NAME_CHARS),
        arn=outside_text(str(entry.get("ReplicationTaskArn") or ""), NAME_CHARS),
        status=_text(entry.get("Status")) or "unknown",
        migration_type=_text(entry.get("MigrationType")),
        replication_instance_arn=_text(entry.get("ReplicationInstanceArn")),
        stop_reason=_text(entry.get("StopReason")),
        last_failure_message=_text(entry.get("LastFailureMessage"), FAILURE_MESSAGE_CHARS),
        full_load_percent=_count(stats.get("FullLoadProgressPercent")),
        tables_loaded=_count(stats.get("TablesLoaded")),
        tables_loading=_count(stats.get("TablesLoading")),
        tables_queued=_count(stats.get("TablesQueued")),
        tables_errored=_count(stats.get("TablesErrored")),
        elapsed_millis=_count(stats.get("ElapsedTimeMillis")),
    )


def the_one_task(response: Mapping[str, Any], identifier: str) -> DmsTask:
    """The task named `identifier` in a describe_replication_tasks answer; else DmsTaskNotFound."""
    tasks = [parse_task(entry) for entry in response.get("ReplicationTasks") or ()]
    if not tasks:
        raise DmsTaskNotFound(not_found_text(identifier))
    if len(tasks) > 1:
        arns = ", ".join(task.arn for task in tasks)
        raise DmsTaskNotFound(
            f"{len(tasks)} DMS tasks match {identifier!r} ({arns}): check {TASK_IDENTIFIER_KEY}"
        )
    return tasks[0]


def not_found_text(identifier: str) -> str:
    """What to say when no task has the configured identifier."""
    return (
        f"DMS task {identifier!r} not found: check {TASK_IDENTIFIER_KEY} "
        "(the task's identifier, not its ARN) and the [aws] region"
    )


def find_task(client: Any, identifier: str) -> DmsTask:
    """Blocking: the task with ReplicationTaskIdentifier `identifier`; DmsTaskNotFound if none.

    AWS answers a filter that matches nothing with ResourceNotFoundFault; moto with an empty list.
    """
    filters = [{"Name": "replication-task-id", "Values": [identifier]}]
    try:
        response = client.describe_replication_tasks(Filters=filters, WithoutSettings=True)
    except Exception as error:
        if aws_error_code(error) == NOT_FOUND_CODE:
            raise DmsTaskNotFound(not_found_text(identifier)) from None
        raise
    return the_one_task(response, identifier)


def fetch_instance_identifier(client: Any, instance_arn: str) -> str:
    """Blocking: the name of the replication instance with ARN `instance_arn`."""
    filters = [{"Name": "replication-instance-arn", "Values": [instance_arn]}]
    response = client.describe_replication_instances(Filters=filters)
    instances = list(response.get("ReplicationInstances") or [])
    if len(instances) != 1:
        raise LookupError(f"replication instance {instance_arn} not found")
    return outside_text(str(instances[0]["ReplicationInstanceIdentifier"]), NAME_CHARS)


# --- table statistics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DmsTableStats:
    """One table of describe_table_statistics; a count AWS leaves out is None."""

    schema: str
    table: str
    state: str | None = None
    inserts: int | None = None
    updates: int | None = None
    deletes: int | None = None
    full_load_rows: int | None = None
    full_load_error_rows: int | None = None
    validation_state: str | None = None
    validation_failed_records: int | None = None
    validation_pending_records: int | None = None
    validation_suspended_records: int | None = None
    last_update: datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def in_error(self) -> bool:
        return self.state == TABLE_ERROR_STATE

    @property
    def fails_validation(self) -> bool:
        """Records that failed validation, or DMS calls the table mismatched."""
        failed = self.validation_failed_records or 0
        return failed > 0 or self.validation_state == MISMATCHED_VALIDATION_STATE


@dataclass(frozen=True)
class DmsTables:
    """The tables kept for a reading (the troubled first) and how many were read in all.

    complete is False when reading stopped at MAX_TABLE_PAGES pages with more to come.
    """

    rows: tuple[DmsTableStats, ...]
    total: int
    complete: bool = True

    @property
    def capped(self) -> bool:
        return self.total > len(self.rows)

    def in_error(self) -> tuple[DmsTableStats, ...]:
        return tuple(row for row in self.rows if row.in_error)

    def failing_validation(self) -> tuple[DmsTableStats, ...]:
        return tuple(row for row in self.rows if row.fails_validation)


def parse_table_row(entry: Mapping[str, Any]) -> DmsTableStats:
    """One TableStatistics entry."""
    updated = entry.get("LastUpdateTime")
    return DmsTableStats(
        schema=outside_text(str(entry.get("SchemaName") or ""), NAME_CHARS),
        table=outside_text(str(entry.get("TableName") or ""), NAME_CHARS),
        state=_text(entry.get("TableState")),
        inserts=_count(entry.get("Inserts")),
        updates=_count(entry.get("Updates")),
        deletes=_count(entry.get("Deletes")),
        full_load_rows=_count(entry.get("FullLoadRows")),
        full_load_error_rows=_count(entry.get("FullLoadErrorRows")),
        validation_state=_text(entry.get("ValidationState")),
        validation_failed_records=_count(entry.get("ValidationFailedRecords")),
        validation_pending_records=_count(entry.get("ValidationPendingRecords")),
        validation_suspended_records=_count(entry.get("ValidationSuspendedRecords")),
        last_update=updated if isinstance(updated, datetime) else None,
    )


def parse_table_statistics(
    pages: Iterable[Mapping[str, Any]], *, limit: int = MAX_TABLES_KEPT, complete: bool = True
) -> DmsTables:
    """Every page's tables, the troubled first, cut to `limit` rows."""
    rows = [parse_table_row(entry) for page in pages for entry in page.get("TableStatistics", ())]
    rows.sort(key=_table_order)
    return DmsTables(tuple(rows[:limit]), total=len(rows), complete=complete)


def _table_order(row: DmsTableStats) -> tuple[int, str]:
    """Tables in error first, then failing validation, then still loading, then the rest."""
    if row.in_error:
        rank = 0
    elif row.fails_validation:
        rank = 1
    elif row.state in LOADING_TABLE_STATES:
        rank = 2
    else:
        rank = 3
    return rank, row.name


def fetch_table_statistics(client: Any, task_arn: str) -> DmsTables:
    """Blocking: every page of describe_table_statistics (following Marker), up to the page cap."""
    pages: list[Mapping[str, Any]] = []
    marker: str | None = None
    for _ in range(MAX_TABLE_PAGES):
        page = client.describe_table_statistics(**_table_page_arguments(task_arn, marker))
        pages.append(page)
        marker = page.get("Marker") or None
        if marker is None:
            return parse_table_statistics(pages)
    return parse_table_statistics(pages, complete=False)


def _table_page_arguments(task_arn: str, marker: str | None) -> dict[str, Any]:
    arguments: dict[str, Any] = {"ReplicationTaskArn": task_arn, "MaxRecords": TABLE_PAGE_RECORDS}
    return arguments if marker is None else {**arguments, "Marker": marker}


# --- CDC latency --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CdcLatency:
    """The newest CDCLatencySource and CDCLatencyTarget datapoints, or why they are not known."""

    source: LagDatapoint | None = None
    target: LagDatapoint | None = None
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        """The larger of the two latencies; None while either is unknown (never 0)."""
        if self.source is None or self.target is None:
            return None
        return max(self.source.seconds, self.target.seconds)

    def age_seconds(self, now: datetime) -> float | None:
        """The age of the older of the two newest datapoints; None with neither."""
        ages = [age_seconds(point, now) for point in (self.source, self.target) if point]
        return max(ages) if ages else None


def latency_query(task: DmsTask, instance_identifier: str, now: datetime) -> dict[str, Any]:
    """get_metric_data arguments for the task's CDC latencies over the last 5 minutes."""
    dimensions = [
        {"Name": "ReplicationInstanceIdentifier", "Value": instance_identifier},
        {"Name": "ReplicationTaskIdentifier", "Value": task.resource_id},
    ]
    metrics = {
        query_id: {"Namespace": "AWS/DMS", "MetricName": name, "Dimensions": dimensions}
        for query_id, name in LATENCY_METRICS.items()
    }
    return lag_query(metrics, now)


def parse_latency(response: Mapping[str, Any]) -> CdcLatency:
    """The newest datapoint of each CDC latency in a get_metric_data response."""
    return CdcLatency(
        source=newest_datapoint(response, SOURCE_LATENCY_QUERY_ID),
        target=newest_datapoint(response, TARGET_LATENCY_QUERY_ID),
    )


# --- the cutover's reader and writer ------------------------------------------------------------


def dms_settings(config: Config) -> DmsReplication:
    """[replication.dms]; ActionFailed naming the section when the config has none."""
    replication = config.replication.dms if config.replication else None
    if replication is None:
        raise ActionFailed(
            f"no [replication.dms] section in the config: {TASK_IDENTIFIER_KEY} names the task"
        )
    return replication


def planned_stop_calls(config: Config) -> tuple[str, ...]:
    """The exact calls the DMS cutover makes, in words."""
    identifier = dms_settings(config).task_identifier
    return (
        f"dms DescribeReplicationTasks replication-task-id={identifier} (finds the task's ARN)",
        f"dms StopReplicationTask for task {identifier}",
    )


class DmsTaskReader:
    """Reads the configured task's status, for the cutover's plan and its read-back."""

    def __init__(self, config: Config, aws: AwsClients) -> None:
        self._identifier = dms_settings(config).task_identifier
        self._aws = aws

    def task(self) -> DmsTask:
        """The task as DMS describes it now; ActionFailed (worded) on failure."""
        try:
            return find_task(self._aws.client("dms"), self._identifier)
        except DmsTaskNotFound as missing:
            raise ActionFailed(str(missing)) from None
        except Exception as error:
            raise ActionFailed(
                f"cannot read DMS task {self._identifier}: {describe_failure(error)}; "
                "check the [aws] section and the replication panel"
            ) from None


class DmsTaskWriter:
    """Stops the configured task: the DMS cutover."""

    def __init__(self, config: Config, aws: AwsClients) -> None:
        self._identifier = dms_settings(config).task_identifier
        self._reader = DmsTaskReader(config, aws)
        self._aws = aws

    def stop_task(self) -> tuple[str, ...]:
        """Stops the task; returns evidence: the task found, the status returned, the request id."""
        task = self._reader.task()
        try:
            response = self._aws.client("dms").stop_replication_task(ReplicationTaskArn=task.arn)
        except Exception as error:
            raise self._stop_failure(task, error) from None
        stopping = parse_task(response.get("ReplicationTask") or {})
        request_id = response.get("ResponseMetadata", {}).get("RequestId") or "unknown"
        return (
            f"dms DescribeReplicationTasks replication-task-id={self._identifier}: task "
            f"{task.arn}, status {task.status}",
            f"dms StopReplicationTask ReplicationTaskArn={task.arn}: task status "
            f"{stopping.status}, request id {outside_text(str(request_id), NAME_CHARS)}",
        )

    def _stop_failure(self, task: DmsTask, error: BaseException) -> ActionFailed:
        if aws_error_code(error) == NOT_RUNNING_CODE:
            reason = f", {task.stop_reason}" if task.stop_reason else ""
            return ActionFailed(
                f"DMS task {self._identifier} is not running (status {task.status}{reason}): "
                "it was already stopped or never started; nothing was changed"
            )
        return ActionFailed(
            f"dms StopReplicationTask for task {self._identifier} failed: "
            f"{describe_failure(error)}; check the task in the replication panel before retrying"
        )


# --- values from AWS ----------------------------------------------------------------------------


def _text(value: object, limit: int = NAME_CHARS) -> str | None:
    """A string AWS sent, sanitized and cut; None when absent or empty."""
    if value is None or value == "":
        return None
    return outside_text(str(value), limit) or None


def _count(value: object) -> int | None:
    """A whole number AWS sent; None for anything else (never a made-up 0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
