"""An AWS DMS task's replication values, typed, for the source that writes them and their readers.

A DMS reading carries the task's own fields and, beside them, the fields guards read for every
engine (ReplicationValues): replay_lag_seconds, replay_lag_bytes (always null: DMS has no byte
lag), in_recovery, promoted and state. task_status is always present, even when null (no task
found), because it is how a reading says DMS wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cockpit.model import Reading, Value
from cockpit.sources.value_fields import (
    bool_field,
    number_field,
    rows_of,
    text_field,
    whole_field,
)


@dataclass(frozen=True)
class DmsTableRow:
    """One table as a DMS reading lists it."""

    schema: str | None
    table: str | None
    state: str | None = None
    inserts: int | None = None
    updates: int | None = None
    deletes: int | None = None
    full_load_rows: int | None = None
    validation_state: str | None = None
    validation_failed_records: int | None = None

    def as_value(self) -> dict[str, Value]:
        """The reading's form, one key per field."""
        return {
            "schema": self.schema,
            "table": self.table,
            "state": self.state,
            "inserts": self.inserts,
            "updates": self.updates,
            "deletes": self.deletes,
            "full_load_rows": self.full_load_rows,
            "validation_state": self.validation_state,
            "validation_failed_records": self.validation_failed_records,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, object]) -> DmsTableRow:
        """A listed table; a field of the wrong type reads as None."""
        return cls(
            schema=text_field(value.get("schema")),
            table=text_field(value.get("table")),
            state=text_field(value.get("state")),
            inserts=whole_field(value.get("inserts")),
            updates=whole_field(value.get("updates")),
            deletes=whole_field(value.get("deletes")),
            full_load_rows=whole_field(value.get("full_load_rows")),
            validation_state=text_field(value.get("validation_state")),
            validation_failed_records=whole_field(value.get("validation_failed_records")),
        )


@dataclass(frozen=True)
class DmsValues:
    """The task's status, progress, tables and CDC latency, and what guards read of them.

    A count or latency that was not read is None, never 0. in_recovery is True while the task
    runs, False once it is cut over (promoted), and None when it neither runs nor was cut over
    (failed, stopped early, not found): guards then cannot take it for either.
    """

    task_status: str | None
    task_identifier: str | None = None
    stop_reason: str | None = None
    migration_type: str | None = None
    full_load_percent: int | None = None
    tables_loaded: int | None = None
    tables_loading: int | None = None
    tables_queued: int | None = None
    tables_errored: int | None = None
    cdc_latency_source_seconds: float | None = None
    cdc_latency_target_seconds: float | None = None
    latency_age_seconds: float | None = None
    last_failure_message: str | None = None
    tables: tuple[DmsTableRow, ...] = ()
    tables_total: int | None = None
    tables_error: str | None = None
    latency_error: str | None = None
    in_recovery: bool | None = None
    promoted: bool | None = None

    @property
    def replay_lag_seconds(self) -> float | None:
        """The larger CDC latency; None while either is unknown."""
        source, target = self.cdc_latency_source_seconds, self.cdc_latency_target_seconds
        return None if source is None or target is None else max(source, target)

    def as_values(self) -> dict[str, Value]:
        """The reading's values: the task's fields, then the ones every engine shares."""
        return {
            "task_status": self.task_status,
            "task_identifier": self.task_identifier,
            "stop_reason": self.stop_reason,
            "migration_type": self.migration_type,
            "full_load_percent": self.full_load_percent,
            "tables_loaded": self.tables_loaded,
            "tables_loading": self.tables_loading,
            "tables_queued": self.tables_queued,
            "tables_errored": self.tables_errored,
            "cdc_latency_source_seconds": self.cdc_latency_source_seconds,
            "cdc_latency_target_seconds": self.cdc_latency_target_seconds,
            "latency_age_seconds": self.latency_age_seconds,
            "last_failure_message": self.last_failure_message,
            "tables": tuple(row.as_value() for row in self.tables),
            "tables_total": self.tables_total,
            "tables_error": self.tables_error,
            "latency_error": self.latency_error,
            "replay_lag_seconds": self.replay_lag_seconds,
            "replay_lag_bytes": None,
            "in_recovery": self.in_recovery,
            "promoted": self.promoted,
            "state": self.task_status,
        }

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> DmsValues:
        """The typed values of a reading's (or a journaled reading's) values."""
        return cls(
            task_status=text_field(values.get("task_status")),
            task_identifier=text_field(values.get("task_identifier")),
            stop_reason=text_field(values.get("stop_reason")),
            migration_type=text_field(values.get("migration_type")),
            full_load_percent=whole_field(values.get("full_load_percent")),
            tables_loaded=whole_field(values.get("tables_loaded")),
            tables_loading=whole_field(values.get("tables_loading")),
            tables_queued=whole_field(values.get("tables_queued")),
            tables_errored=whole_field(values.get("tables_errored")),
            cdc_latency_source_seconds=number_field(values.get("cdc_latency_source_seconds")),
            cdc_latency_target_seconds=number_field(values.get("cdc_latency_target_seconds")),
            latency_age_seconds=number_field(values.get("latency_age_seconds")),
            last_failure_message=text_field(values.get("last_failure_message")),
            tables=tuple(DmsTableRow.from_value(row) for row in rows_of(values.get("tables"))),
            tables_total=whole_field(values.get("tables_total")),
            tables_error=text_field(values.get("tables_error")),
            latency_error=text_field(values.get("latency_error")),
            in_recovery=bool_field(values.get("in_recovery")),
            promoted=bool_field(values.get("promoted")),
        )

    @classmethod
    def from_reading(cls, reading: Reading) -> DmsValues:
        """The typed values of a DMS replication reading."""
        return cls.from_values(reading.values)
