"""An AWS RDS read replica: describe_db_instances for its state, CloudWatch ReplicaLag for lag.

Signal `replication`. RDS gives lag in seconds only, so replay_lag_bytes is always null.

Status rules, first match wins:
- describe_db_instances fails: read() raises, so the poller shows UNKNOWN with the reason;
- not a replica but the source of replicas itself (the primary configured by mistake): WARN;
- no ReadReplicaSourceDBInstanceIdentifier any more: OK "promoted: no longer a read replica";
- otherwise the worse of the instance and the lag:
  - instance status not "available": WARN, naming the status;
  - no ReplicaLag datapoint in the last 5 min, or CloudWatch failed: UNKNOWN (never 0);
  - ReplicaLag negative (RDS reports -1 when replication is not running): CRITICAL;
  - ReplicaLag under 10 s: OK, else WARN.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cockpit.config import RdsReplication
from cockpit.io.cloudwatch_lag import (
    LagDatapoint,
    age_note,
    age_seconds,
    lag_query,
    newest_datapoint,
)
from cockpit.io.context import SourceContext
from cockpit.io.failures import describe_failure
from cockpit.io.rds import RdsInstance, parse_instance
from cockpit.model import Reading, SignalKind, Status, Value, worst
from cockpit.sources.base import Schedule, make_reading
from cockpit.sources.replication_values import SIGNAL_ID, ReplicationValues

WARN_LAG_SECONDS = 10.0
LAG_QUERY_ID = "replica_lag"
NO_BYTES_NOTE = "byte lag not exposed by RDS"


def latest_datapoint(response: Mapping[str, Any]) -> LagDatapoint | None:
    """The newest datapoint of the ReplicaLag query in a get_metric_data response, if any."""
    return newest_datapoint(response, LAG_QUERY_ID)


def classify(
    instance: RdsInstance, lag: LagDatapoint | None, lag_error: str | None, now: datetime
) -> tuple[Status, str]:
    """The status and the line a person reads."""
    if not instance.is_replica and instance.own_replicas:
        replicas = ", ".join(instance.own_replicas)
        return Status.WARN, (
            f"{instance.identifier} is not a read replica but the source of {replicas}: "
            "check replication.rds.replica_instance_id"
        )
    if not instance.is_replica:
        return Status.OK, f"promoted: no longer a read replica (status {instance.status})"
    lag_status, lag_text = _lag_verdict(lag, lag_error, now)
    parts = [f"replica of {instance.source_instance}", lag_text, NO_BYTES_NOTE]
    instance_status = Status.OK
    if instance.status != "available":
        instance_status = Status.WARN
        parts.insert(0, f"status {instance.status}")
    return worst([instance_status, lag_status]), "; ".join(parts)


def _lag_verdict(
    lag: LagDatapoint | None, lag_error: str | None, now: datetime
) -> tuple[Status, str]:
    if lag_error is not None:
        return Status.UNKNOWN, f"ReplicaLag unavailable ({lag_error})"
    if lag is None:
        return Status.UNKNOWN, "no ReplicaLag datapoints in the last 5 min"
    text = f"ReplicaLag {lag.seconds:.1f} s{age_note(lag, now)}"
    if lag.seconds < 0:
        return Status.CRITICAL, f"{text}: replication is not running"
    if lag.seconds >= WARN_LAG_SECONDS:
        return Status.WARN, f"{text}, over {WARN_LAG_SECONDS:g} s"
    return Status.OK, text


def reading_values(
    instance: RdsInstance, lag: LagDatapoint | None, lag_error: str | None, now: datetime
) -> dict[str, Value]:
    """The reading's values, by their documented names."""
    return ReplicationValues(
        engine="rds",
        db_status=instance.status,
        source_instance=instance.source_instance,
        is_replica=instance.is_replica,
        replay_lag_seconds=lag.seconds if lag else None,
        replay_lag_age_seconds=age_seconds(lag, now) if lag else None,
        replay_lag_bytes=None,
        in_recovery=instance.is_replica,
        promoted=not instance.is_replica and not instance.own_replicas,
        lag_error=lag_error,
    ).as_values()


def replica_lag_query(instance_id: str, now: datetime) -> dict[str, Any]:
    """get_metric_data arguments for the replica's ReplicaLag over the last 5 minutes."""
    metric = {
        "Namespace": "AWS/RDS",
        "MetricName": "ReplicaLag",
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": instance_id}],
    }
    return lag_query({LAG_QUERY_ID: metric}, now)


class RdsReplicationSource:
    """Polls one RDS read replica; see the module for the rules."""

    def __init__(
        self, settings: RdsReplication, schedule: Schedule, context: SourceContext
    ) -> None:
        self._instance_id = settings.replica_instance_id
        self._schedule = schedule
        self._context = context
        self.name = "replication (rds)"
        self.kind = SignalKind.REPLICATION
        self.schedule = self._schedule
        self.signal_ids = (SIGNAL_ID,)

    async def read(self) -> list[Reading]:
        now = self._context.clock()
        outcomes: tuple[Any, Any] = await asyncio.gather(
            self._context.run_aws("rds", self._describe, within_seconds=self._budget()),
            self._context.run_aws(
                "cloudwatch", self._replica_lag, now, within_seconds=self._budget()
            ),
            return_exceptions=True,
        )
        described, lag_response = outcomes
        if isinstance(described, BaseException):
            raise described
        instance = parse_instance(described)
        lag, lag_error = self._lag_outcome(lag_response)
        status, detail = classify(instance, lag, lag_error, now)
        values = reading_values(instance, lag, lag_error, now)
        return [make_reading(self, SIGNAL_ID, status, now, detail, values)]

    def _budget(self) -> float:
        return self._schedule.call_budget_seconds

    def _describe(self) -> Any:
        rds = self._context.aws.client("rds")
        return rds.describe_db_instances(DBInstanceIdentifier=self._instance_id)

    def _replica_lag(self, now: datetime) -> Any:
        cloudwatch = self._context.aws.client("cloudwatch")
        return cloudwatch.get_metric_data(**replica_lag_query(self._instance_id, now))

    def _lag_outcome(self, response: Any) -> tuple[LagDatapoint | None, str | None]:
        if isinstance(response, BaseException):
            reason = describe_failure(response, timeout_seconds=self._schedule.timeout_seconds)
            return None, reason
        return latest_datapoint(response), None
