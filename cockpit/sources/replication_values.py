"""The replication signal's typed values and id, for the sources that write it and its readers.

PostgreSQL streaming (replication_postgres.py), RDS (replication_rds.py), logical replication
(replication_logical.py) and AWS DMS (replication_dms.py) share the signal `replication` with
different value sets; `engine` says which wrote a reading, and the fields another does not
report are None. The fields here are the ones guards, runbook and report read for every engine;
logical replication and DMS carry more, decoded by their own typed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cockpit.model import Reading, Value
from cockpit.sources.value_fields import bool_field, number_field, text_field, whole_field

SIGNAL_ID = "replication"
REPLAY_LAG_BYTES = "replay_lag_bytes"
"""The value the lag sparkline and the report's chart draw."""
REPLAY_LAG_SECONDS = "replay_lag_seconds"
"""What they draw for DMS, which reports lag in seconds only."""
WAL_POSITION_KEYS = frozenset({"primary_wal_lsn", "receive_lsn", "replay_lsn"})
"""The WAL positions, which move with every write; the byte lag says what they mean."""
RECEIVE_LAG_BYTES = "receive_lag_bytes"
"""What the replica has not yet received; the replay lag, which includes it, says what it means."""
SINCE_REPLAY_KEY = "seconds_since_last_replay"
"""Counts up on an idle primary and jitters around zero on a busy one; the lag says it."""

Engine = Literal["postgres", "rds", "logical", "dms"]


@dataclass(frozen=True)
class ReplicationValues:
    """How far the replica is behind, whether it is still one, and what each end said.

    Decoding tells the engine by the values only its source writes: subscription for logical
    replication, task_status for DMS, primary_quiet_seconds for PostgreSQL streaming, db_status
    for RDS; none of them (a poll that failed as a whole) leaves it None.
    """

    engine: Engine | None
    replay_lag_bytes: float | None = None
    replay_lag_seconds: float | None = None
    in_recovery: bool | None = None
    promoted: bool | None = None
    receive_lag_bytes: float | None = None
    write_lag_seconds: float | None = None
    flush_lag_seconds: float | None = None
    state: str | None = None
    sync_state: str | None = None
    standby: str | None = None
    standby_named_by: str | None = None
    standby_candidates: int | None = None
    standby_ambiguous: bool | None = None
    role_lacks_pg_monitor: bool | None = None
    replay_paused: bool | None = None
    primary_wal_lsn: str | None = None
    receive_lsn: str | None = None
    replay_lsn: str | None = None
    seconds_since_last_replay: float | None = None
    primary_quiet_seconds: float | None = None
    catchup_bytes_per_second: float | None = None
    catchup_eta_seconds: float | None = None
    primary_error: str | None = None
    replica_error: str | None = None
    db_status: str | None = None
    source_instance: str | None = None
    is_replica: bool | None = None
    replay_lag_age_seconds: float | None = None
    lag_error: str | None = None
    error: str | None = None

    @property
    def sees_primary_writes(self) -> bool:
        """Whether the source watches the primary's writes (PostgreSQL does; RDS, DMS cannot)."""
        return self.engine in ("postgres", "logical")

    @property
    def left_recovery(self) -> bool:
        """Whether the replica says it is promoted, or no longer in recovery."""
        return self.promoted is True or self.in_recovery is False

    def as_values(self) -> dict[str, Value]:
        """The reading's values in its engine's documented order (only `error` without one)."""
        if self.engine == "postgres":
            return self._postgres_values()
        if self.engine == "rds":
            return self._rds_values()
        return {} if self.error is None else {"error": self.error}

    def _postgres_values(self) -> dict[str, Value]:
        return {
            "replay_lag_bytes": self.replay_lag_bytes,
            RECEIVE_LAG_BYTES: self.receive_lag_bytes,
            "replay_lag_seconds": self.replay_lag_seconds,
            "write_lag_seconds": self.write_lag_seconds,
            "flush_lag_seconds": self.flush_lag_seconds,
            "state": self.state,
            "sync_state": self.sync_state,
            "standby": self.standby,
            "standby_named_by": self.standby_named_by,
            "standby_candidates": self.standby_candidates,
            "standby_ambiguous": self.standby_ambiguous,
            "role_lacks_pg_monitor": self.role_lacks_pg_monitor,
            "in_recovery": self.in_recovery,
            "replay_paused": self.replay_paused,
            "primary_wal_lsn": self.primary_wal_lsn,
            "receive_lsn": self.receive_lsn,
            "replay_lsn": self.replay_lsn,
            SINCE_REPLAY_KEY: self.seconds_since_last_replay,
            "primary_quiet_seconds": self.primary_quiet_seconds,
            "catchup_bytes_per_second": self.catchup_bytes_per_second,
            "catchup_eta_seconds": self.catchup_eta_seconds,
            "promoted": self.promoted,
            "primary_error": self.primary_error,
            "replica_error": self.replica_error,
        }

    def _rds_values(self) -> dict[str, Value]:
        return {
            "db_status": self.db_status,
            "source_instance": self.source_instance,
            "is_replica": self.is_replica,
            "replay_lag_seconds": self.replay_lag_seconds,
            "replay_lag_age_seconds": self.replay_lag_age_seconds,
            "replay_lag_bytes": self.replay_lag_bytes,
            "in_recovery": self.in_recovery,
            "promoted": self.promoted,
            "lag_error": self.lag_error,
        }

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> ReplicationValues:
        """The typed values of a reading's (or a journaled reading's) values."""
        return cls(
            engine=_engine(values),
            replay_lag_bytes=number_field(values.get("replay_lag_bytes")),
            replay_lag_seconds=number_field(values.get("replay_lag_seconds")),
            in_recovery=bool_field(values.get("in_recovery")),
            promoted=bool_field(values.get("promoted")),
            receive_lag_bytes=number_field(values.get(RECEIVE_LAG_BYTES)),
            write_lag_seconds=number_field(values.get("write_lag_seconds")),
            flush_lag_seconds=number_field(values.get("flush_lag_seconds")),
            state=text_field(values.get("state")),
            sync_state=text_field(values.get("sync_state")),
            standby=text_field(values.get("standby")),
            standby_named_by=text_field(values.get("standby_named_by")),
            standby_candidates=whole_field(values.get("standby_candidates")),
            standby_ambiguous=bool_field(values.get("standby_ambiguous")),
            role_lacks_pg_monitor=bool_field(values.get("role_lacks_pg_monitor")),
            replay_paused=bool_field(values.get("replay_paused")),
            primary_wal_lsn=text_field(values.get("primary_wal_lsn")),
            receive_lsn=text_field(values.get("receive_lsn")),
            replay_lsn=text_field(values.get("replay_lsn")),
            seconds_since_last_replay=number_field(values.get(SINCE_REPLAY_KEY)),
            primary_quiet_seconds=number_field(values.get("primary_quiet_seconds")),
            catchup_bytes_per_second=number_field(values.get("catchup_bytes_per_second")),
            catchup_eta_seconds=number_field(values.get("catchup_eta_seconds")),
            primary_error=text_field(values.get("primary_error")),
            replica_error=text_field(values.get("replica_error")),
            db_status=text_field(values.get("db_status")),
            source_instance=text_field(values.get("source_instance")),
            is_replica=bool_field(values.get("is_replica")),
            replay_lag_age_seconds=number_field(values.get("replay_lag_age_seconds")),
            lag_error=text_field(values.get("lag_error")),
            error=text_field(values.get("error")),
        )

    @classmethod
    def from_reading(cls, reading: Reading) -> ReplicationValues:
        """The typed values of a replication reading."""
        return cls.from_values(reading.values)


def _engine(values: Mapping[str, object]) -> Engine | None:
    if "subscription" in values:
        return "logical"
    if "task_status" in values:
        return "dms"
    if "primary_quiet_seconds" in values:
        return "postgres"
    if "db_status" in values:
        return "rds"
    return None
