"""PostgreSQL streaming replication, read from the primary and the replica in one poll.

Signal `replication`; bytes (`pg_wal_lsn_diff` on the primary) are the truth for lag, never the
age of the last replayed transaction, which keeps growing while the primary is idle.

Status rules, first match wins:
- both ends fail: read() raises, so the poller shows UNKNOWN with the reason;
- the replica answers and is out of recovery: OK "promoted: no longer replicating (left recovery)",
  WARN when a transaction still writes to the old primary (its next transaction id moved);
- the replica fails: CRITICAL when the primary has no standby connected, else UNKNOWN;
- the primary fails (replica still in recovery): UNKNOWN, with what the replica says;
- no standby row on the primary: CRITICAL "replica not connected to the primary";
- the standby's state is not "streaming", or byte lag over 1 GiB: CRITICAL;
- replay paused on the replica: WARN "replay paused";
- no replay position reported yet: UNKNOWN;
- byte lag 0: OK "caught up" (noting "no recent transactions" when the last replay is old);
- byte lag > 0: OK while replay lag < 10 s and byte lag < 16 MiB, else WARN.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cockpit.clock import Clock
from cockpit.config import PostgresReplication
from cockpit.model import Reading, SignalKind, Status
from cockpit.sources.base import Schedule, Source, make_reading
from cockpit.sources.context import SourceContext
from cockpit.sources.failures import SourceProblem, describe_failure
from cockpit.sources.replication_rds import RdsReplicationSource

if TYPE_CHECKING:
    import psycopg

SIGNAL_ID = "replication"
APPLICATION_NAME = "cutover-cockpit"
WARN_LAG_BYTES = 16 * 1024**2
CRITICAL_LAG_BYTES = 1024**3
WARN_LAG_SECONDS = 10.0
IDLE_NOTE_AFTER_SECONDS = 60.0
RATE_WINDOW_SECONDS = 30.0
# Each end gets this share of the poll's timeout, so a hung end still leaves time to report.
END_TIMEOUT_SHARE = 0.8

PRIMARY_SQL = """
SELECT w.lsn::text,
       r.application_name,
       r.state,
       r.sync_state,
       extract(epoch FROM r.write_lag)::float8,
       extract(epoch FROM r.flush_lag)::float8,
       extract(epoch FROM r.replay_lag)::float8,
       pg_wal_lsn_diff(w.lsn, r.replay_lsn)::bigint,
       w.next_xid
FROM (SELECT pg_current_wal_lsn() AS lsn,
             pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid) AS w
LEFT JOIN pg_stat_replication AS r ON true
ORDER BY r.backend_start
"""

REPLICA_SQL = """
SELECT pg_is_in_recovery(),
       pg_last_wal_receive_lsn()::text,
       pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,
       (SELECT conninfo FROM pg_stat_wal_receiver LIMIT 1)
"""


# --- what each end says ------------------------------------------------------------------------


@dataclass(frozen=True)
class StandbyRow:
    """One row of the primary's pg_stat_replication."""

    application_name: str | None
    state: str | None
    sync_state: str | None
    write_lag_seconds: float | None
    flush_lag_seconds: float | None
    replay_lag_seconds: float | None
    replay_lag_bytes: int | None


@dataclass(frozen=True)
class PrimaryView:
    """The primary's WAL position, the standbys it streams to, and its next transaction id.

    next_xid moves only when a transaction writes (one that is given an id): checkpoints and
    standby snapshots move the WAL of an idle primary, never this.
    """

    wal_lsn: str
    standbys: tuple[StandbyRow, ...]
    next_xid: str | None = None

    @property
    def write_marker(self) -> str:
        """What changes when a client writes: the next transaction id, else the WAL position."""
        return self.next_xid if self.next_xid is not None else self.wal_lsn


@dataclass(frozen=True)
class ReplicaView:
    """What the replica says about its own recovery."""

    in_recovery: bool
    receive_lsn: str | None
    replay_lsn: str | None
    replay_paused: bool | None
    seconds_since_last_replay: float | None
    wal_receiver_name: str | None


@dataclass(frozen=True)
class Observation:
    """One poll's facts from both ends plus the trend this source tracks across polls."""

    primary: PrimaryView | None
    replica: ReplicaView | None
    primary_error: str | None = None
    replica_error: str | None = None
    primary_quiet_seconds: float | None = None
    catchup_bytes_per_second: float | None = None

    @property
    def standby(self) -> StandbyRow | None:
        """The primary's row for our replica, when the primary answered."""
        if self.primary is None:
            return None
        name = self.replica.wal_receiver_name if self.replica else None
        return pick_standby(self.primary.standbys, name)

    @property
    def replay_lag_bytes(self) -> int | None:
        standby = self.standby
        return standby.replay_lag_bytes if standby else None

    @property
    def promoted(self) -> bool:
        return self.replica is not None and not self.replica.in_recovery

    @property
    def catchup_eta_seconds(self) -> float | None:
        return catchup_eta_seconds(self.replay_lag_bytes, self.catchup_bytes_per_second)


def parse_primary_rows(rows: Sequence[Sequence[Any]]) -> PrimaryView:
    """The primary's answer: one row per standby, or one row of NULLs after the LSN when none."""
    standbys = tuple(_standby_row(row) for row in rows if row[2] is not None)
    first = rows[0]
    next_xid = str(first[8]) if len(first) > 8 and first[8] is not None else None
    return PrimaryView(wal_lsn=str(first[0]), standbys=standbys, next_xid=next_xid)


def _standby_row(row: Sequence[Any]) -> StandbyRow:
    _, name, state, sync_state, write_lag, flush_lag, replay_lag, lag_bytes = row[:8]
    return StandbyRow(
        application_name=name,
        state=state,
        sync_state=sync_state,
        write_lag_seconds=_optional_float(write_lag),
        flush_lag_seconds=_optional_float(flush_lag),
        replay_lag_seconds=_optional_float(replay_lag),
        replay_lag_bytes=None if lag_bytes is None else int(lag_bytes),
    )


def parse_replica_row(row: Sequence[Any]) -> ReplicaView:
    """The replica's answer to REPLICA_SQL."""
    in_recovery, receive_lsn, replay_lsn, paused, since_replay, conninfo = row
    return ReplicaView(
        in_recovery=bool(in_recovery),
        receive_lsn=receive_lsn,
        replay_lsn=replay_lsn,
        replay_paused=None if paused is None else bool(paused),
        seconds_since_last_replay=None if since_replay is None else max(0.0, float(since_replay)),
        wal_receiver_name=wal_receiver_name(conninfo),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def wal_receiver_name(conninfo: str | None) -> str | None:
    """The application_name the replica's WAL receiver shows on the primary, from its conninfo."""
    if not conninfo:
        return None
    from psycopg.conninfo import conninfo_to_dict

    try:
        fields = conninfo_to_dict(conninfo)
    except Exception:
        return None
    name = fields.get("application_name") or fields.get("fallback_application_name")
    return str(name) if name else None


def pick_standby(standbys: Sequence[StandbyRow], replica_name: str | None) -> StandbyRow | None:
    """The row whose client is our replica; else the first that is not a base backup."""
    if replica_name is not None:
        for standby in standbys:
            if standby.application_name == replica_name:
                return standby
    replicating = [s for s in standbys if s.state != "backup"] or list(standbys)
    return replicating[0] if replicating else None


# --- trends across polls -----------------------------------------------------------------------


class WalQuietTracker:
    """How long the primary has had no client writes, as a lower bound from our polls.

    It follows a write marker (the next transaction id; the WAL position where that is absent).
    """

    def __init__(self) -> None:
        self._lsn: str | None = None
        self._unchanged_since: datetime | None = None

    def observe(self, lsn: str | None, at: datetime) -> float | None:
        """Seconds without a write; 0.0 when the marker moved since the last poll, None at first."""
        if lsn is None:
            return None
        if self._lsn is None or self._unchanged_since is None:
            self._lsn, self._unchanged_since = lsn, at
            return None
        if lsn != self._lsn:
            self._lsn, self._unchanged_since = lsn, at
            return 0.0
        return max(0.0, (at - self._unchanged_since).total_seconds())


class LagHistory:
    """The byte lag at each recent poll, for the catch-up rate."""

    def __init__(self, window_seconds: float = RATE_WINDOW_SECONDS) -> None:
        self._window = timedelta(seconds=window_seconds)
        self._points: deque[tuple[datetime, int]] = deque()

    def add(self, at: datetime, lag_bytes: int) -> None:
        self._points.append((at, lag_bytes))
        while self._points and at - self._points[0][0] > self._window:
            self._points.popleft()

    def clear(self) -> None:
        self._points.clear()

    def rate_bytes_per_second(self) -> float | None:
        """How fast the lag shrinks (negative when it grows); None with under two points."""
        if not self._points:
            return None
        start = self._points[0][0]
        series = [((at - start).total_seconds(), lag) for at, lag in self._points]
        return catchup_rate(series)


def catchup_rate(points: Sequence[tuple[float, int]]) -> float | None:
    """Bytes per second the lag shrinks by: least-squares slope since the lag last turned."""
    recent = since_last_turn(points)
    if len(recent) < 2:
        return None
    mean_t = sum(t for t, _ in recent) / len(recent)
    mean_lag = sum(lag for _, lag in recent) / len(recent)
    spread = sum((t - mean_t) ** 2 for t, _ in recent)
    if spread == 0:
        return None
    slope = sum((t - mean_t) * (lag - mean_lag) for t, lag in recent) / spread
    return 0.0 - slope


def since_last_turn(points: Sequence[tuple[float, int]]) -> Sequence[tuple[float, int]]:
    """The points since the lag last changed direction, so a fresh catch-up shows at once."""
    lags = [lag for _, lag in points]
    moved = [i for i in range(len(lags) - 1) if lags[i] != lags[-1]]
    if len(points) < 3 or not moved:
        return points
    if lags[-1] < lags[moved[-1]]:
        turn = max(range(len(lags)), key=lambda i: (lags[i], i))
    else:
        turn = min(range(len(lags)), key=lambda i: (lags[i], i))
    return points[turn:]


def catchup_eta_seconds(lag_bytes: int | None, rate: float | None) -> float | None:
    """Seconds until caught up at the current rate: 0 when caught up, None when not catching up."""
    if lag_bytes is None:
        return None
    if lag_bytes == 0:
        return 0.0
    if rate is None or rate <= 0:
        return None
    return lag_bytes / rate


# --- classification ----------------------------------------------------------------------------


def classify(observation: Observation) -> tuple[Status, str]:
    """The status and the line a person reads, from one poll's observation."""
    if observation.replica is None:
        return _replica_failed(observation)
    if not observation.replica.in_recovery:
        return _promoted(observation)
    if observation.primary is None:
        return _primary_failed(observation, observation.replica)
    standby = observation.standby
    if standby is None:
        return Status.CRITICAL, "replica not connected to the primary"
    return _replicating(observation, observation.replica, standby)


def _replica_failed(observation: Observation) -> tuple[Status, str]:
    reason = f"cannot read the replica ({observation.replica_error})"
    standby = observation.standby
    if standby is None:
        return Status.CRITICAL, f"{reason}; the primary has no standby connected"
    return Status.UNKNOWN, f"{reason}; the primary sees a standby {_lag_phrase(standby)}"


def _promoted(observation: Observation) -> tuple[Status, str]:
    """Promotion is expected, not an error; writes still reaching the old primary are not.

    A write is a transaction given an id, never the background WAL an idle server makes.
    """
    detail = "promoted: no longer replicating (left recovery)"
    if observation.primary_error is not None:
        return Status.OK, f"{detail}; old primary unreadable ({observation.primary_error})"
    if observation.primary_quiet_seconds == 0.0:
        moved = (
            "; a transaction wrote to the old primary since the last poll: who still writes there?"
        )
        return Status.WARN, detail + moved
    return Status.OK, detail


def _primary_failed(observation: Observation, replica: ReplicaView) -> tuple[Status, str]:
    state = "replay paused" if replica.replay_paused else "replaying"
    detail = f"cannot read the primary ({observation.primary_error}); replica in recovery, {state}"
    if replica.replay_lsn:
        detail += f" up to {replica.replay_lsn}"
    return Status.UNKNOWN, detail


def _replicating(
    observation: Observation, replica: ReplicaView, standby: StandbyRow
) -> tuple[Status, str]:
    lag_bytes = standby.replay_lag_bytes
    if standby.state != "streaming":
        return Status.CRITICAL, f"standby is {standby.state or 'in no state'}, not streaming"
    if lag_bytes is not None and lag_bytes > CRITICAL_LAG_BYTES:
        return Status.CRITICAL, f"{_lag_phrase(standby)} (over 1 GiB)"
    if replica.replay_paused:
        return Status.WARN, f"replay paused, {_bytes_text(lag_bytes)} behind"
    if lag_bytes is None:
        return Status.UNKNOWN, "streaming, but the standby has not reported a replay position yet"
    if lag_bytes == 0:
        return Status.OK, "caught up" + _idle_note(replica.seconds_since_last_replay)
    return _behind(observation, standby, lag_bytes)


def _behind(observation: Observation, standby: StandbyRow, lag_bytes: int) -> tuple[Status, str]:
    detail = f"{_lag_phrase(standby)}, {_rate_phrase(observation)}"
    seconds = standby.replay_lag_seconds
    if lag_bytes >= WARN_LAG_BYTES:
        return Status.WARN, f"{detail} (over 16 MiB)"
    if seconds is not None and seconds >= WARN_LAG_SECONDS:
        return Status.WARN, f"{detail} (replay lag over {WARN_LAG_SECONDS:g} s)"
    return Status.OK, detail


def _lag_phrase(standby: StandbyRow) -> str:
    text = f"{standby.state or 'in no state'}, {_bytes_text(standby.replay_lag_bytes)} behind"
    if standby.replay_lag_seconds is not None:
        text += f" (replay lag {standby.replay_lag_seconds:.1f} s)"
    return text


def _rate_phrase(observation: Observation) -> str:
    rate = observation.catchup_bytes_per_second
    eta = observation.catchup_eta_seconds
    if rate is None:
        return "catch-up rate not known yet"
    if rate <= 0:
        return f"falling behind at {_bytes_text(-rate)}/s"
    eta_text = f", ETA {duration_text(eta)}" if eta is not None else ""
    return f"catching up at {_bytes_text(rate)}/s{eta_text}"


def _idle_note(seconds_since_last_replay: float | None) -> str:
    if seconds_since_last_replay is None:
        return "; no transactions replayed yet"
    if seconds_since_last_replay >= IDLE_NOTE_AFTER_SECONDS:
        ago = duration_text(seconds_since_last_replay)
        return f"; no recent transactions (last replay {ago} ago)"
    return ""


def _bytes_text(count: float | None) -> str:
    """A byte count the way people say it: 850 B, 12 kB, 3.4 MB, 1.2 GB."""
    if count is None:
        return "an unknown amount"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{count:.0f} B"


def duration_text(seconds: float | None) -> str:
    """A duration at a glance: 4s, 12m, 2h 5m."""
    if seconds is None:
        return "unknown"
    whole = math.ceil(seconds) if seconds < 60 else int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    return f"{whole // 3600}h {whole % 3600 // 60}m"


def reading_values(observation: Observation) -> dict[str, Any]:
    """The reading's values, by their documented names."""
    standby, replica, primary = observation.standby, observation.replica, observation.primary
    return {
        "replay_lag_bytes": observation.replay_lag_bytes,
        "replay_lag_seconds": standby.replay_lag_seconds if standby else None,
        "write_lag_seconds": standby.write_lag_seconds if standby else None,
        "flush_lag_seconds": standby.flush_lag_seconds if standby else None,
        "state": standby.state if standby else None,
        "sync_state": standby.sync_state if standby else None,
        "in_recovery": replica.in_recovery if replica else None,
        "replay_paused": replica.replay_paused if replica else None,
        "primary_wal_lsn": primary.wal_lsn if primary else None,
        "receive_lsn": replica.receive_lsn if replica else None,
        "replay_lsn": replica.replay_lsn if replica else None,
        "seconds_since_last_replay": replica.seconds_since_last_replay if replica else None,
        "primary_quiet_seconds": observation.primary_quiet_seconds,
        "catchup_bytes_per_second": observation.catchup_bytes_per_second,
        "catchup_eta_seconds": observation.catchup_eta_seconds,
        "promoted": observation.promoted,
        "primary_error": observation.primary_error,
        "replica_error": observation.replica_error,
    }


# --- the source --------------------------------------------------------------------------------


class ReplicationEndsFailed(Exception):
    """Neither end answered, for different reasons."""


class EndConnection:
    """One end's connection: opened on first use, kept across polls, dropped on any error."""

    def __init__(self, dsn: str, connect_timeout_seconds: float) -> None:
        self._dsn = dsn
        self._connect_timeout = max(1, math.ceil(connect_timeout_seconds))
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def fetch_all(self, sql: str, password: str | None) -> list[tuple[Any, ...]]:
        """Runs one query; a kept connection that broke is replaced once, at once."""
        import psycopg

        reused = self._connection is not None and not self._connection.closed
        try:
            return await self._fetch_once(sql, password)
        except psycopg.OperationalError:
            if not reused:
                raise
        return await self._fetch_once(sql, password)

    async def _fetch_once(self, sql: str, password: str | None) -> list[tuple[Any, ...]]:
        """One query; on any failure the connection is closed so the next try reconnects."""
        try:
            connection = await self._connected(password)
            cursor = await connection.execute(sql)
            return await cursor.fetchall()
        except BaseException:
            await self.close()
            raise

    async def _connected(self, password: str | None) -> psycopg.AsyncConnection[Any]:
        if self._connection is None or self._connection.closed:
            import psycopg

            secret: dict[str, Any] = {} if password is None else {"password": password}
            self._connection = await psycopg.AsyncConnection.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                application_name=APPLICATION_NAME,
                **secret,
            )
        return self._connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(Exception):
                await connection.close()


class PostgresReplicationSource:
    """Reads the primary and the replica concurrently each poll; see the module for the rules."""

    def __init__(
        self,
        settings: PostgresReplication,
        schedule: Schedule,
        environ: Mapping[str, str],
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._schedule = schedule
        self._environ = environ
        self._clock = clock
        self._primary = EndConnection(settings.primary_dsn, schedule.timeout_seconds)
        self._replica = EndConnection(settings.replica_dsn, schedule.timeout_seconds)
        self._quiet = WalQuietTracker()
        self._history = LagHistory()
        self.name = "replication (postgres)"
        self.kind = SignalKind.REPLICATION
        self.schedule = self._schedule
        self.signal_ids = (SIGNAL_ID,)

    async def read(self) -> list[Reading]:
        password = self._password()
        primary, replica = await asyncio.gather(
            self._attempt(self._primary, PRIMARY_SQL, password),
            self._attempt(self._replica, REPLICA_SQL, password),
        )
        now = self._clock()
        observation = self._observe(primary, replica, now)
        status, detail = classify(observation)
        values = reading_values(observation)
        return [make_reading(self, SIGNAL_ID, status, now, detail, values)]

    async def close(self) -> None:
        """Closes both connections (the next read opens them again)."""
        await asyncio.gather(self._primary.close(), self._replica.close())

    def _password(self) -> str | None:
        name = self._settings.password_env
        if name is None:
            return None
        if name not in self._environ:
            raise SourceProblem(
                f"${name} is not set (replication.postgres.password_env): export it and restart"
            )
        return self._environ[name]

    async def _attempt(
        self, end: EndConnection, sql: str, password: str | None
    ) -> list[tuple[Any, ...]] | BaseException:
        try:
            return await asyncio.wait_for(end.fetch_all(sql, password), self._end_timeout())
        except Exception as error:
            return error

    def _observe(
        self,
        primary: list[tuple[Any, ...]] | BaseException,
        replica: list[tuple[Any, ...]] | BaseException,
        now: datetime,
    ) -> Observation:
        if isinstance(primary, BaseException) and isinstance(replica, BaseException):
            raise _both_failed(primary, replica, self._end_timeout())
        observation = Observation(
            primary=None if isinstance(primary, BaseException) else parse_primary_rows(primary),
            replica=None if isinstance(replica, BaseException) else parse_replica_row(replica[0]),
            primary_error=self._reason(primary),
            replica_error=self._reason(replica),
        )
        return self._with_trends(observation, now)

    def _with_trends(self, observation: Observation, now: datetime) -> Observation:
        marker = observation.primary.write_marker if observation.primary else None
        quiet = self._quiet.observe(marker, now)
        lag_bytes = observation.replay_lag_bytes
        if observation.promoted:
            self._history.clear()
        elif lag_bytes is not None:
            self._history.add(now, lag_bytes)
        rate = self._history.rate_bytes_per_second() if lag_bytes is not None else None
        return replace(
            observation,
            primary_quiet_seconds=quiet,
            catchup_bytes_per_second=None if observation.promoted else rate,
        )

    def _reason(self, outcome: object) -> str | None:
        if not isinstance(outcome, BaseException):
            return None
        return describe_failure(outcome, timeout_seconds=self._end_timeout())

    def _end_timeout(self) -> float:
        return self._schedule.timeout_seconds * END_TIMEOUT_SHARE


def _both_failed(
    primary: BaseException, replica: BaseException, timeout_seconds: float
) -> BaseException:
    """One exception for the poller: the shared one when both ends failed the same way."""
    primary_reason = describe_failure(primary, timeout_seconds=timeout_seconds)
    replica_reason = describe_failure(replica, timeout_seconds=timeout_seconds)
    if primary_reason == replica_reason:
        return primary
    return ReplicationEndsFailed(f"primary: {primary_reason}; replica: {replica_reason}")


def build_replication_sources(context: SourceContext) -> list[Source]:
    """The configured replication source (PostgreSQL or RDS), or none."""
    section = context.config.replication
    if section is None:
        return []
    schedule = Schedule.from_config(section)
    if section.postgres is not None:
        return [
            PostgresReplicationSource(section.postgres, schedule, context.environ, context.clock)
        ]
    if section.rds is not None:
        return [RdsReplicationSource(section.rds, schedule, context)]
    return []
