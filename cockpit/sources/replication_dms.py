"""An AWS DMS replication task: status and tables from the DMS API, CDC latency from CloudWatch.

Signal `replication`. DMS has no byte lag, so replay_lag_bytes is always null; replay_lag_seconds
is the larger of CDCLatencySource and CDCLatencyTarget, null while either is unknown. The task
is "cut over" (promoted) once it is stopped on purpose after capturing changes.

Status rules, first match wins:
- describe_replication_tasks fails: read() raises, so the poller shows UNKNOWN with the reason;
- no task, or several, has the identifier: CRITICAL, naming replication.dms.task_identifier;
- status "failed", TablesErrored > 0 or a table in state "Table error": CRITICAL, with the
  task's last failure message and the tables in error;
- "stopped" after capturing changes, stop reason NORMAL, STOPPED_AT_SERVER_TIME or
  STOPPED_AT_COMMIT_TIME: OK "cut over: task stopped (reason)";
- "stopped" otherwise (an error, low memory, after the full load only, no reason): CRITICAL,
  with the stop reason;
- "deleting" or "failed-move": CRITICAL; any other status but "running" (creating, ready,
  starting, stopping, modifying, moving, testing): WARN, naming it;
- running a full load (tables loading or queued, or under 100 %): WARN, with the percent and
  the tables loaded, loading and queued;
- running change data capture, the worst of:
  - no CDCLatencySource or CDCLatencyTarget datapoint in the last 5 min, or CloudWatch failed:
    UNKNOWN (never 0);
  - latency over 10 s: WARN;
  - records failing validation: WARN, naming the tables;
  - table statistics unreadable: WARN, saying why;
  - else OK: "caught up" at latency 0, the latency otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from cockpit.config import DmsReplication
from cockpit.io.cloudwatch_lag import LagDatapoint, age_note
from cockpit.io.context import MIN_CALL_SECONDS, SourceContext
from cockpit.io.dms import (
    CdcLatency,
    DmsTables,
    DmsTableStats,
    DmsTask,
    DmsTaskNotFound,
    fetch_instance_identifier,
    fetch_table_statistics,
    find_task,
    latency_query,
    parse_latency,
)
from cockpit.io.failures import SourceProblem, describe_failure
from cockpit.model import Reading, SignalKind, Status, Value, worst
from cockpit.sources.base import Schedule, make_reading
from cockpit.sources.replication_dms_values import DmsTableRow, DmsValues
from cockpit.sources.replication_values import SIGNAL_ID

T = TypeVar("T")
WARN_LATENCY_SECONDS = 10.0
TABLES_NAMED = 3
CRITICAL_STATUSES = frozenset({"deleting", "failed-move"})
OUT_OF_TIME = "not asked: the DMS calls used this poll's time; retrying at the next poll"


@dataclass(frozen=True)
class DmsObservation:
    """Everything one poll learned: the task (None when missing, and why), tables, latency."""

    identifier: str
    task: DmsTask | None
    missing: str | None = None
    tables: DmsTables | None = None
    tables_error: str | None = None
    latency: CdcLatency = field(default_factory=CdcLatency)


# --- pure: status and values --------------------------------------------------------------------


def classify(observation: DmsObservation, now: datetime) -> tuple[Status, str]:
    """The status and the line a person reads."""
    task = observation.task
    if task is None:
        return Status.CRITICAL, observation.missing or "DMS task not found"
    failure = _failure_text(task, observation.tables)
    if failure is not None:
        return Status.CRITICAL, failure
    if task.status == "stopped":
        return _stopped_verdict(task)
    if task.status != "running":
        status = Status.CRITICAL if task.status in CRITICAL_STATUSES else Status.WARN
        return status, f"task {task.status}"
    if _loading(task):
        return Status.WARN, _full_load_text(task)
    return _cdc_verdict(observation, now)


def _failure_text(task: DmsTask, tables: DmsTables | None) -> str | None:
    """Why the task or a table failed; None when neither did."""
    in_error = tables.in_error() if tables else ()
    if task.status != "failed" and not (task.tables_errored or 0) and not in_error:
        return None
    parts = [f"task {task.status}"]
    if task.tables_errored:
        parts.append(f"{task.tables_errored} tables errored")
    if in_error:
        parts.append(f"in error: {_names(in_error)}")
    parts.append(f"last failure: {task.last_failure_message or 'none given'}")
    return "; ".join(parts)


def _stopped_verdict(task: DmsTask) -> tuple[Status, str]:
    reason = task.stop_reason or "no stop reason given"
    if task.cut_over:
        return Status.OK, f"cut over: task stopped ({reason})"
    if not task.captures_changes:
        why = f"a {task.migration_type or 'full-load'} task copies no changes made after the load"
        return Status.CRITICAL, f"task stopped ({reason}): {why}"
    failure = f"; last failure: {task.last_failure_message}" if task.last_failure_message else ""
    return Status.CRITICAL, f"task stopped ({reason}) before cutover{failure}"


def _loading(task: DmsTask) -> bool:
    """Whether the task is still in its full load."""
    if (task.tables_loading or 0) > 0 or (task.tables_queued or 0) > 0:
        return True
    percent = task.full_load_percent
    return task.migration_type != "cdc" and percent is not None and percent < 100


def _full_load_text(task: DmsTask) -> str:
    percent = "?" if task.full_load_percent is None else f"{task.full_load_percent}"
    counts = (
        f"{_count_text(task.tables_loaded)} tables loaded, "
        f"{_count_text(task.tables_loading)} loading, {_count_text(task.tables_queued)} queued"
    )
    return f"full load {percent} %: {counts}"


def _count_text(count: int | None) -> str:
    return "?" if count is None else str(count)


def _cdc_verdict(observation: DmsObservation, now: datetime) -> tuple[Status, str]:
    verdicts = [_latency_verdict(observation.latency, now)]
    failing = observation.tables.failing_validation() if observation.tables else ()
    if failing:
        verdicts.append((Status.WARN, f"validation failures in {_names(failing)}"))
    if observation.tables_error is not None:
        verdicts.append((Status.WARN, f"table statistics unavailable ({observation.tables_error})"))
    notes = [text for _, text in verdicts] + _cap_notes(observation.tables)
    return worst(status for status, _ in verdicts), "; ".join(notes)


def _latency_verdict(latency: CdcLatency, now: datetime) -> tuple[Status, str]:
    if latency.error is not None:
        return Status.UNKNOWN, f"CDC latency unavailable ({latency.error})"
    points = (("CDCLatencySource", latency.source), ("CDCLatencyTarget", latency.target))
    seconds = latency.seconds
    if seconds is None:
        missing = " or ".join(name for name, point in points if point is None)
        return Status.UNKNOWN, f"no {missing} datapoints in the last 5 min"
    text = ", ".join(_latency_text(name, point, now) for name, point in points)
    if seconds > WARN_LATENCY_SECONDS:
        return Status.WARN, f"{text}: over {WARN_LATENCY_SECONDS:g} s"
    return Status.OK, f"{text}: caught up" if seconds == 0 else text


def _latency_text(name: str, point: LagDatapoint | None, now: datetime) -> str:
    return "" if point is None else f"{name} {point.seconds:.1f} s{age_note(point, now)}"


def _names(rows: Sequence[DmsTableStats]) -> str:
    """The first few tables' names, and how many more."""
    named = ", ".join(row.name for row in rows[:TABLES_NAMED])
    more = len(rows) - TABLES_NAMED
    return f"{named} and {more} more" if more > 0 else named


def _cap_notes(tables: DmsTables | None) -> list[str]:
    if tables is None:
        return []
    notes = [f"showing {len(tables.rows)} of {tables.total} tables"] if tables.capped else []
    if not tables.complete:
        notes.append(f"table statistics cut after the first {tables.total} tables")
    return notes


def typed_values(observation: DmsObservation, now: datetime) -> DmsValues:
    """The reading's values, typed."""
    task = observation.task
    if task is None:
        return DmsValues(task_status=None, task_identifier=observation.identifier)
    latency, tables = observation.latency, observation.tables
    return DmsValues(
        task_status=task.status,
        task_identifier=task.identifier,
        stop_reason=task.stop_reason,
        migration_type=task.migration_type,
        full_load_percent=task.full_load_percent,
        tables_loaded=task.tables_loaded,
        tables_loading=task.tables_loading,
        tables_queued=task.tables_queued,
        tables_errored=task.tables_errored,
        cdc_latency_source_seconds=latency.source.seconds if latency.source else None,
        cdc_latency_target_seconds=latency.target.seconds if latency.target else None,
        latency_age_seconds=latency.age_seconds(now),
        last_failure_message=task.last_failure_message,
        tables=tuple(table_row(row) for row in tables.rows) if tables else (),
        tables_total=tables.total if tables else None,
        tables_error=observation.tables_error,
        latency_error=latency.error,
        in_recovery=_in_recovery(task),
        promoted=task.cut_over,
    )


def _in_recovery(task: DmsTask) -> bool | None:
    """True while the task runs, False once cut over, None when it does neither."""
    if task.cut_over:
        return False
    return True if task.status == "running" else None


def table_row(row: DmsTableStats) -> DmsTableRow:
    """A table as the reading lists it."""
    return DmsTableRow(
        schema=row.schema,
        table=row.table,
        state=row.state,
        inserts=row.inserts,
        updates=row.updates,
        deletes=row.deletes,
        full_load_rows=row.full_load_rows,
        validation_state=row.validation_state,
        validation_failed_records=row.validation_failed_records,
    )


def reading_values(observation: DmsObservation, now: datetime) -> dict[str, Value]:
    """The reading's values, by their documented names."""
    return typed_values(observation, now).as_values()


# --- the source ---------------------------------------------------------------------------------


class DmsReplicationSource:
    """Polls one DMS replication task; see the module for the rules."""

    def __init__(
        self, settings: DmsReplication, schedule: Schedule, context: SourceContext
    ) -> None:
        self._identifier = settings.task_identifier
        self._schedule = schedule
        self._context = context
        # A replication instance's name never changes for its ARN: asked once.
        self._instance_names: dict[str, str] = {}
        self.name = "replication (dms)"
        self.kind = SignalKind.REPLICATION
        self.schedule = self._schedule
        self.signal_ids = (SIGNAL_ID,)

    async def read(self) -> list[Reading]:
        now = self._context.clock()
        deadline = time.monotonic() + self._schedule.call_budget_seconds
        observation = await self._observe(now, deadline)
        status, detail = classify(observation, now)
        values = reading_values(observation, now)
        return [make_reading(self, SIGNAL_ID, status, now, detail, values)]

    async def _observe(self, now: datetime, deadline: float) -> DmsObservation:
        try:
            described = await self._within(deadline, "dms", self._describe)
        except DmsTaskNotFound as missing:
            return DmsObservation(self._identifier, None, missing=str(missing))
        if described.task is None or not _wants_latency(described.task):
            return described
        return replace(described, latency=await self._latency(described.task, now, deadline))

    def _describe(self) -> DmsObservation:
        """Blocking: the task, then its table statistics, in the dms lane."""
        client = self._context.aws.client("dms")
        task = find_task(client, self._identifier)
        try:
            tables = fetch_table_statistics(client, task.arn)
        except Exception as error:
            return DmsObservation(self._identifier, task, tables_error=self._failure(error))
        return DmsObservation(self._identifier, task, tables=tables)

    async def _latency(self, task: DmsTask, now: datetime, deadline: float) -> CdcLatency:
        try:
            instance = await self._instance_name(task, deadline)
            query = latency_query(task, instance, now)
            response = await self._within(deadline, "cloudwatch", self._get_metric_data, query)
        except Exception as error:
            return CdcLatency(error=self._failure(error))
        return parse_latency(response)

    async def _instance_name(self, task: DmsTask, deadline: float) -> str:
        arn = task.replication_instance_arn
        if arn is None:
            raise SourceProblem("the task names no replication instance")
        if arn not in self._instance_names:
            name = await self._within(deadline, "dms", self._fetch_instance_name, arn)
            self._instance_names[arn] = name
        return self._instance_names[arn]

    def _fetch_instance_name(self, instance_arn: str) -> str:
        return fetch_instance_identifier(self._context.aws.client("dms"), instance_arn)

    def _get_metric_data(self, query: dict[str, Any]) -> Any:
        return self._context.aws.client("cloudwatch").get_metric_data(**query)

    async def _within(self, deadline: float, service: str, work: Callable[..., T], *args: Any) -> T:
        """work(*args) in `service`'s lane, in what is left of this poll's call budget."""
        left = deadline - time.monotonic()
        if left < MIN_CALL_SECONDS:
            raise SourceProblem(OUT_OF_TIME)
        return await self._context.run_aws(service, work, *args, within_seconds=round(left, 1))

    def _failure(self, error: BaseException) -> str:
        return describe_failure(error, timeout_seconds=self._schedule.timeout_seconds)


def _wants_latency(task: DmsTask) -> bool:
    """CDC latency matters only while the task runs and captures changes."""
    return task.status == "running" and task.captures_changes
