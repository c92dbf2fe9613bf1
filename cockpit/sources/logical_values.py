"""The typed values of a logical-replication reading (signal `replication`, engine "logical").

The fields every replication engine shares (lag, in_recovery, promoted, quiet time) carry the
same names as in ReplicationValues, so guards read them the same way for every engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeGuard

from cockpit.model import Reading, Scalar, Value
from cockpit.sources.value_fields import (
    bool_field,
    number_field,
    rows_of,
    text_field,
    texts_field,
    whole_field,
)


@dataclass(frozen=True)
class LogicalValues:
    """What the panel, guards and the cutover read of a logical-replication reading."""

    subscription: str
    subscription_enabled: bool | None = None
    publications: tuple[str, ...] = ()
    slot_name: str | None = None
    slot_active: bool | None = None
    wal_status: str | None = None
    retained_wal_bytes: float | None = None
    replay_lag_bytes: float | None = None
    replay_lag_seconds: float | None = None
    replay_lag_hidden: bool | None = None
    apply_worker_running: bool | None = None
    apply_error_count: int | None = None
    sync_error_count: int | None = None
    last_message_age_seconds: float | None = None
    tables_total: int | None = None
    tables_not_ready: tuple[Mapping[str, Value], ...] = ()
    no_identity_tables: tuple[str, ...] = ()
    sequence_margin: int | None = None
    sequences_total: int | None = None
    sequences_behind: int | None = None
    sequences_unknown: int | None = None
    sequences: tuple[Mapping[str, Value], ...] = field(default=())
    in_recovery: bool | None = None
    promoted: bool | None = None
    state: str | None = None
    primary_quiet_seconds: float | None = None
    catchup_bytes_per_second: float | None = None
    catchup_eta_seconds: float | None = None
    primary_error: str | None = None
    replica_error: str | None = None

    def as_values(self) -> dict[str, Value]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> LogicalValues:
        """The typed values of a reading's (or a journaled reading's) values."""
        return cls(
            subscription=text_field(values.get("subscription")) or "",
            subscription_enabled=bool_field(values.get("subscription_enabled")),
            publications=texts_field(values.get("publications")),
            slot_name=text_field(values.get("slot_name")),
            slot_active=bool_field(values.get("slot_active")),
            wal_status=text_field(values.get("wal_status")),
            retained_wal_bytes=number_field(values.get("retained_wal_bytes")),
            replay_lag_bytes=number_field(values.get("replay_lag_bytes")),
            replay_lag_seconds=number_field(values.get("replay_lag_seconds")),
            replay_lag_hidden=bool_field(values.get("replay_lag_hidden")),
            apply_worker_running=bool_field(values.get("apply_worker_running")),
            apply_error_count=whole_field(values.get("apply_error_count")),
            sync_error_count=whole_field(values.get("sync_error_count")),
            last_message_age_seconds=number_field(values.get("last_message_age_seconds")),
            tables_total=whole_field(values.get("tables_total")),
            tables_not_ready=_frozen_rows(values.get("tables_not_ready")),
            no_identity_tables=texts_field(values.get("no_identity_tables")),
            sequence_margin=whole_field(values.get("sequence_margin")),
            sequences_total=whole_field(values.get("sequences_total")),
            sequences_behind=whole_field(values.get("sequences_behind")),
            sequences_unknown=whole_field(values.get("sequences_unknown")),
            sequences=_frozen_rows(values.get("sequences")),
            in_recovery=bool_field(values.get("in_recovery")),
            promoted=bool_field(values.get("promoted")),
            state=text_field(values.get("state")),
            primary_quiet_seconds=number_field(values.get("primary_quiet_seconds")),
            catchup_bytes_per_second=number_field(values.get("catchup_bytes_per_second")),
            catchup_eta_seconds=number_field(values.get("catchup_eta_seconds")),
            primary_error=text_field(values.get("primary_error")),
            replica_error=text_field(values.get("replica_error")),
        )

    @classmethod
    def from_reading(cls, reading: Reading) -> LogicalValues:
        return cls.from_values(reading.values)


def _frozen_rows(value: object) -> tuple[Mapping[str, Value], ...]:
    return tuple(
        {str(key): item for key, item in row.items() if _is_scalar(item)} for row in rows_of(value)
    )


def _is_scalar(value: object) -> TypeGuard[Scalar]:
    return value is None or isinstance(value, str | int | float | bool)


@dataclass(frozen=True)
class SequenceRow:
    """One sequence as a reading carries it, typed."""

    name: str
    publisher_value: int | None
    subscriber_value: int | None
    needed: int | None
    behind: bool
    known: bool

    @classmethod
    def from_value(cls, row: Mapping[str, Value]) -> SequenceRow:
        return cls(
            name=text_field(row.get("name")) or "?",
            publisher_value=whole_field(row.get("publisher")),
            subscriber_value=whole_field(row.get("subscriber")),
            needed=whole_field(row.get("needed")),
            behind=bool_field(row.get("behind")) is True,
            known=bool_field(row.get("known")) is True,
        )


def sequence_rows(values: LogicalValues) -> tuple[SequenceRow, ...]:
    return tuple(SequenceRow.from_value(row) for row in values.sequences)
