"""PostgreSQL streaming replication, read from the primary and the replica in one poll.

Signal `replication`. Byte lag is the primary's current WAL position minus the replay position
the replica reports about itself (both readable by any role), never a pg_stat_replication row
that may belong to another standby, and never the age of the last replayed transaction, which
keeps growing while the primary is idle. "Replay paused" also comes from the replica itself.

The primary's pg_stat_replication row for the replica (state, lag in seconds) is picked by
replication.postgres.standby_* when set; else by the replica's own primary_slot_name, else by its
WAL receiver's application_name, else it is the only standby. When several rows could be it the
reading says which and is UNKNOWN, so every promotion guard blocks instead of guessing.

Status rules, first match wins:
- both ends fail: read() raises, so the poller shows UNKNOWN with the reason;
- the replica answers and is out of recovery: OK "promoted: no longer replicating (left recovery)",
  WARN when a transaction still writes to the old primary (its next transaction id moved);
- the replica fails: CRITICAL when the primary has no standby connected, else UNKNOWN;
- the primary fails (replica still in recovery): UNKNOWN, with what the replica says;
- several standbys could be the replica: UNKNOWN, naming them and the key to set;
- no standby row on the primary: CRITICAL "replica not connected to the primary";
- the standby's state is not "streaming", or byte lag over 1 GiB: CRITICAL;
- replay paused on the replica: WARN "replay paused";
- no replay position reported yet: UNKNOWN;
- byte lag 0: OK "caught up" (noting "no recent transactions" when the last replay is old);
- byte lag > 0: OK while replay lag < 10 s and byte lag < 16 MiB, else WARN;
- the role cannot see the standby's details (no pg_monitor): at least WARN, the lag from the
  LSNs, and the GRANT that fixes it.
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
from cockpit.io.dsn import APPLICATION_NAME
from cockpit.io.failures import SourceProblem, describe_failure
from cockpit.model import Reading, SignalKind, Status, Value
from cockpit.outside import outside_text
from cockpit.sources.base import Schedule, make_reading
from cockpit.sources.replication_values import SIGNAL_ID, ReplicationValues
from cockpit.units import coarse_duration_text, size_text

if TYPE_CHECKING:
    import psycopg

WARN_LAG_BYTES = 16 * 1024**2
CRITICAL_LAG_BYTES = 1024**3
WARN_LAG_SECONDS = 10.0
IDLE_NOTE_AFTER_SECONDS = 60.0
RATE_WINDOW_SECONDS = 30.0
# Each end gets this share of the poll's timeout, so a hung end still leaves time to report.
END_TIMEOUT_SHARE = 0.8
OUTSIDE_TEXT_LIMIT = 120
STANDBY_KEYS = "standby_slot_name, standby_application_name or standby_client_addr"

# Rows of pg_stat_replication keep pid, usename and application_name for any role; the other
# columns are NULL without pg_read_all_stats. pg_replication_slots is readable by any role.
PRIMARY_SQL = """
SELECT w.lsn::text,
       w.next_xid,
       w.rows_written,
       w.maintenance_runs,
       current_user::text,
       r.pid,
       r.application_name,
       host(r.client_addr),
       s.slot_name::text,
       r.state,
       r.sync_state,
       extract(epoch FROM r.write_lag)::float8,
       extract(epoch FROM r.flush_lag)::float8,
       extract(epoch FROM r.replay_lag)::float8,
       pg_wal_lsn_diff(w.lsn, r.replay_lsn)::bigint
FROM (SELECT pg_current_wal_lsn() AS lsn,
             pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid,
             (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint
              FROM pg_stat_user_tables) AS rows_written,
             (SELECT coalesce(sum(vacuum_count + autovacuum_count + analyze_count
                                  + autoanalyze_count), 0)::bigint
              FROM pg_stat_all_tables) AS maintenance_runs) AS w
LEFT JOIN pg_stat_replication AS r ON true
LEFT JOIN pg_replication_slots AS s ON s.active_pid = r.pid
ORDER BY r.pid
"""

# primary_slot_name is readable by any role; pg_stat_wal_receiver shows only its pid without
# pg_read_all_stats, which still tells whether a WAL receiver runs.
REPLICA_SQL = """
SELECT pg_is_in_recovery(),
       pg_last_wal_receive_lsn()::text,
       pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,
       (SELECT conninfo FROM pg_stat_wal_receiver LIMIT 1),
       nullif(current_setting('primary_slot_name', true), ''),
       EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL)
"""


# --- what each end says ------------------------------------------------------------------------


def server_text(value: Any) -> str | None:
    """A value the server sent, as one short printable line (None stays None)."""
    return None if value is None else outside_text(str(value), OUTSIDE_TEXT_LIMIT)


def lsn_bytes(lsn: str | None) -> int | None:
    """A pg_lsn ('16/B374D848') as a byte position; None when absent or not an LSN."""
    if lsn is None:
        return None
    high, _, low = lsn.partition("/")
    try:
        return (int(high, 16) << 32) + int(low, 16)
    except ValueError:
        return None


def lsn_diff_bytes(ahead: str | None, behind: str | None) -> int | None:
    """Bytes from `behind` to `ahead`, at least 0 (the ends are read a moment apart)."""
    ahead_bytes, behind_bytes = lsn_bytes(ahead), lsn_bytes(behind)
    if ahead_bytes is None or behind_bytes is None:
        return None
    return max(0, ahead_bytes - behind_bytes)


@dataclass(frozen=True)
class StandbyRow:
    """One row of the primary's pg_stat_replication, with the slot it streams through.

    Without pg_read_all_stats only pid and application_name (and the slot) are filled in.
    """

    application_name: str | None
    state: str | None
    sync_state: str | None
    write_lag_seconds: float | None
    flush_lag_seconds: float | None
    replay_lag_seconds: float | None
    replay_lag_bytes: int | None = None  # as the primary reports it for this row
    client_addr: str | None = None
    slot_name: str | None = None
    pid: int | None = None

    @property
    def details_hidden(self) -> bool:
        """Whether the primary hid this row's columns from our role (no state at all)."""
        return self.state is None

    def label(self) -> str:
        """How a person tells this standby apart: name, address and slot, as far as known."""
        text = self.application_name or "(no application_name)"
        if self.client_addr:
            text += f" from {self.client_addr}"
        if self.slot_name:
            text += f" via slot {self.slot_name}"
        return text


@dataclass(frozen=True)
class WriteMarkers:
    """What moves when a client writes to the primary, read in one statement.

    next_xid moves whenever a transaction takes an id (checkpoints and standby snapshots, the
    background WAL of an idle primary, never do; autoanalyze does). rows_written counts rows
    clients wrote to user tables of this database; maintenance_runs counts vacuums and analyzes.
    """

    next_xid: str
    rows_written: int | None = None
    maintenance_runs: int | None = None

    def written_since(self, earlier: WriteMarkers) -> bool:
        """Client writes between two polls: an id taken along with rows written, or while no
        vacuum or analyze ran (an autoanalyze takes an id too, but writes no client data).

        Row counts alone do not count: a backend may report them a moment after it committed.
        """
        if self.next_xid == earlier.next_xid:
            return False
        rows_moved = self.rows_written != earlier.rows_written
        return rows_moved or self.maintenance_runs == earlier.maintenance_runs


@dataclass(frozen=True)
class PrimaryView:
    """The primary's WAL position, the standbys it streams to, and what client writes move."""

    wal_lsn: str
    standbys: tuple[StandbyRow, ...]
    next_xid: str | None = None
    role_name: str | None = None
    rows_written: int | None = None
    maintenance_runs: int | None = None

    @property
    def write_marker(self) -> WriteMarkers | str:
        """What changes when a client writes: the markers above, else the WAL position."""
        if self.next_xid is None:
            return self.wal_lsn
        return WriteMarkers(self.next_xid, self.rows_written, self.maintenance_runs)


@dataclass(frozen=True)
class ReplicaView:
    """What the replica says about its own recovery."""

    in_recovery: bool
    receive_lsn: str | None
    replay_lsn: str | None
    replay_paused: bool | None
    seconds_since_last_replay: float | None
    wal_receiver_name: str | None
    slot_name: str | None = None
    wal_receiver_running: bool | None = None


@dataclass(frozen=True)
class StandbyIdentity:
    """How the config names the watched standby on the primary; every key given must match."""

    application_name: str | None = None
    client_addr: str | None = None
    slot_name: str | None = None

    @classmethod
    def from_settings(cls, settings: PostgresReplication) -> StandbyIdentity:
        return cls(
            settings.standby_application_name,
            settings.standby_client_addr,
            settings.standby_slot_name,
        )

    @property
    def named(self) -> bool:
        return any(
            key is not None for key in (self.application_name, self.client_addr, self.slot_name)
        )

    def could_be(self, standby: StandbyRow) -> bool:
        """Whether every named key fits; client_addr, hidden from roles without pg_monitor,
        counts as fitting then (name and slot are shown to any role)."""
        addr_seen = standby.client_addr if not standby.details_hidden else self.client_addr
        pairs = (
            (self.application_name, standby.application_name),
            (self.client_addr, addr_seen),
            (self.slot_name, standby.slot_name),
        )
        return all(wanted is None or wanted == seen for wanted, seen in pairs)

    def text(self) -> str:
        pairs = (
            ("standby_application_name", self.application_name),
            ("standby_client_addr", self.client_addr),
            ("standby_slot_name", self.slot_name),
        )
        return ", ".join(f"{key} = {value!r}" for key, value in pairs if value is not None)


@dataclass(frozen=True)
class StandbyMatch:
    """Which of the primary's standbys is the watched replica, and how that was decided."""

    standby: StandbyRow | None
    candidates: tuple[StandbyRow, ...]
    named_by: str

    @property
    def ambiguous(self) -> bool:
        return self.standby is None and len(self.candidates) > 1


def match_standby(
    standbys: Sequence[StandbyRow], identity: StandbyIdentity, replica: ReplicaView | None
) -> StandbyMatch:
    """The row for the watched replica: by config, else what the replica says, else the only one."""
    replicating = tuple(s for s in standbys if s.state != "backup")
    if identity.named:
        return _only(tuple(s for s in replicating if identity.could_be(s)), identity.text())
    if replica is not None and replica.slot_name is not None:
        by_slot = tuple(s for s in replicating if s.slot_name == replica.slot_name)
        return _only(by_slot, f"the replica's primary_slot_name {replica.slot_name!r}")
    if replica is not None and replica.wal_receiver_name is not None:
        name = replica.wal_receiver_name
        by_name = tuple(s for s in replicating if s.application_name == name)
        return _only(by_name, f"the replica's application_name {name!r}")
    return _only(replicating, "the only standby")


def _only(candidates: tuple[StandbyRow, ...], named_by: str) -> StandbyMatch:
    standby = candidates[0] if len(candidates) == 1 else None
    return StandbyMatch(standby, candidates, named_by)


@dataclass(frozen=True)
class Observation:
    """One poll's facts from both ends plus the trend this source tracks across polls."""

    primary: PrimaryView | None
    replica: ReplicaView | None
    primary_error: str | None = None
    replica_error: str | None = None
    primary_quiet_seconds: float | None = None
    catchup_bytes_per_second: float | None = None
    identity: StandbyIdentity = StandbyIdentity()

    @property
    def match(self) -> StandbyMatch:
        """Which primary row is our replica (none when the primary did not answer)."""
        if self.primary is None:
            return StandbyMatch(None, (), "no answer from the primary")
        return match_standby(self.primary.standbys, self.identity, self.replica)

    @property
    def standby(self) -> StandbyRow | None:
        """The primary's row for our replica, when exactly one fits."""
        return self.match.standby

    @property
    def replay_lag_bytes(self) -> int | None:
        """The primary's WAL position minus the replica's own replay position."""
        if self.primary is None or self.replica is None or not self.replica.in_recovery:
            return None
        return lsn_diff_bytes(self.primary.wal_lsn, self.replica.replay_lsn)

    @property
    def receive_lag_bytes(self) -> int | None:
        """The primary's WAL position minus what the replica has received (not yet replayed)."""
        if self.primary is None or self.replica is None or not self.replica.in_recovery:
            return None
        return lsn_diff_bytes(self.primary.wal_lsn, self.replica.receive_lsn)

    @property
    def hidden_from_role(self) -> str | None:
        """Our role's name when the primary hides the standbys' details from it."""
        primary = self.primary
        if primary is None or not any(s.details_hidden for s in primary.standbys):
            return None
        return primary.role_name or "the cockpit's role"

    @property
    def promoted(self) -> bool:
        return self.replica is not None and not self.replica.in_recovery

    @property
    def catchup_eta_seconds(self) -> float | None:
        return catchup_eta_seconds(self.replay_lag_bytes, self.catchup_bytes_per_second)


def parse_primary_rows(rows: Sequence[Sequence[Any]]) -> PrimaryView:
    """The primary's answer: one row per standby, or one row of NULLs after the LSN when none."""
    standbys = tuple(_standby_row(row[5:]) for row in rows if row[5] is not None)
    lsn, next_xid, rows_written, maintenance_runs, role_name = rows[0][:5]
    return PrimaryView(
        wal_lsn=str(lsn),
        standbys=standbys,
        next_xid=None if next_xid is None else str(next_xid),
        role_name=server_text(role_name),
        rows_written=_optional_int(rows_written),
        maintenance_runs=_optional_int(maintenance_runs),
    )


def _standby_row(row: Sequence[Any]) -> StandbyRow:
    pid, name, client_addr, slot, state, sync_state = row[:6]
    write_lag, flush_lag, replay_lag, lag_bytes = row[6:10]
    return StandbyRow(
        application_name=server_text(name),
        state=server_text(state),
        sync_state=server_text(sync_state),
        write_lag_seconds=_optional_float(write_lag),
        flush_lag_seconds=_optional_float(flush_lag),
        replay_lag_seconds=_optional_float(replay_lag),
        replay_lag_bytes=_optional_int(lag_bytes),
        client_addr=server_text(client_addr),
        slot_name=server_text(slot),
        pid=int(pid),
    )


def parse_replica_row(row: Sequence[Any]) -> ReplicaView:
    """The replica's answer to REPLICA_SQL."""
    in_recovery, receive_lsn, replay_lsn, paused, since_replay, conninfo, slot, receiving = row
    return ReplicaView(
        in_recovery=bool(in_recovery),
        receive_lsn=receive_lsn,
        replay_lsn=replay_lsn,
        replay_paused=None if paused is None else bool(paused),
        seconds_since_last_replay=None if since_replay is None else max(0.0, float(since_replay)),
        wal_receiver_name=server_text(wal_receiver_name(conninfo)),
        slot_name=server_text(slot),
        wal_receiver_running=None if receiving is None else bool(receiving),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


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


# --- trends across polls -----------------------------------------------------------------------


class WalQuietTracker:
    """How long the primary has had no client writes, as a lower bound from our polls.

    It follows the primary's write markers (the WAL position where those are absent).
    """

    def __init__(self) -> None:
        self._marker: WriteMarkers | str | None = None
        self._unchanged_since: datetime | None = None

    def observe(self, marker: WriteMarkers | str | None, at: datetime) -> float | None:
        """Seconds without a write; 0.0 when a client wrote since the last poll, None at first."""
        if marker is None:
            return None
        earlier, self._marker = self._marker, marker
        if earlier is None or self._unchanged_since is None:
            self._unchanged_since = at
            return None
        if _written(marker, earlier):
            self._unchanged_since = at
            return 0.0
        return max(0.0, (at - self._unchanged_since).total_seconds())


def _written(marker: WriteMarkers | str, earlier: WriteMarkers | str) -> bool:
    if isinstance(marker, WriteMarkers) and isinstance(earlier, WriteMarkers):
        return marker.written_since(earlier)
    return marker != earlier


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
    status, detail = _classified(observation)
    role = observation.hidden_from_role
    if role is None or observation.promoted:
        return status, detail
    if status is Status.OK:
        status = Status.WARN
    return status, f"{detail}; {grant_advice(role)}"


def grant_advice(role: str) -> str:
    """What a role without pg_monitor misses on the primary, and the statement that fixes it."""
    return f"role {role} cannot see replication details: GRANT pg_monitor TO {role}"


def _classified(observation: Observation) -> tuple[Status, str]:
    if observation.replica is None:
        return _replica_failed(observation)
    if not observation.replica.in_recovery:
        return _promoted(observation)
    if observation.primary is None:
        return _primary_failed(observation, observation.replica)
    match = observation.match
    if match.ambiguous:
        return Status.UNKNOWN, _ambiguous_phrase(observation, match)
    if match.standby is None:
        note = _unmatched_note(match, observation.primary.standbys)
        if observation.replica.wal_receiver_running is False:
            note += "; the replica's WAL receiver is not running"
        return Status.CRITICAL, "replica not connected to the primary" + note
    return _replicating(observation, observation.replica, match.standby)


def _ambiguous_phrase(observation: Observation, match: StandbyMatch) -> str:
    seen = "; ".join(standby.label() for standby in match.candidates)
    lag = _bytes_text(observation.replay_lag_bytes)
    return (
        f"cannot tell which standby is the replica: {len(match.candidates)} could be it"
        f" ({seen}); set replication.postgres.{STANDBY_KEYS}"
        f" (the replica's own LSNs say {lag} behind)"
    )


def _unmatched_note(match: StandbyMatch, standbys: Sequence[StandbyRow]) -> str:
    """Why no row fits, when the primary does stream to other standbys."""
    if not standbys:
        return ""
    seen = "; ".join(standby.label() for standby in standbys)
    return f" (nothing matches {match.named_by}; the primary streams to {seen})"


def _replica_failed(observation: Observation) -> tuple[Status, str]:
    reason = f"cannot read the replica ({observation.replica_error})"
    primary, match = observation.primary, observation.match
    if primary is None or not primary.standbys:
        return Status.CRITICAL, f"{reason}; the primary has no standby connected"
    if not match.candidates:
        return Status.CRITICAL, f"{reason}; no standby on the primary matches {match.named_by}"
    seen = "; ".join(_as_the_primary_sees(s) for s in match.candidates)
    return Status.UNKNOWN, f"{reason}; the primary streams to {seen}"


def _as_the_primary_sees(standby: StandbyRow) -> str:
    """A standby's state and lag by the primary's own report (all we have without the replica)."""
    text = f"{standby.label()} {standby.state or 'in a hidden state'}"
    lag = standby.replay_lag_bytes
    return text if lag is None else f"{text}, {_bytes_text(lag)} behind"


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
    lag_bytes = observation.replay_lag_bytes
    lag = _lag_phrase(standby, lag_bytes)
    if not standby.details_hidden and standby.state != "streaming":
        return Status.CRITICAL, f"standby is {standby.state}, not streaming"
    if lag_bytes is not None and lag_bytes > CRITICAL_LAG_BYTES:
        return Status.CRITICAL, f"{lag} (over 1 GiB)"
    if replica.replay_paused:
        return Status.WARN, f"replay paused, {_bytes_text(lag_bytes)} behind"
    if lag_bytes is None:
        return Status.UNKNOWN, "streaming, but the replica has not reported a replay position yet"
    if lag_bytes == 0:
        return Status.OK, "caught up" + _idle_note(replica.seconds_since_last_replay)
    return _behind(observation, standby, lag_bytes)


def _behind(observation: Observation, standby: StandbyRow, lag_bytes: int) -> tuple[Status, str]:
    detail = f"{_lag_phrase(standby, lag_bytes)}, {_rate_phrase(observation)}"
    seconds = standby.replay_lag_seconds
    if lag_bytes >= WARN_LAG_BYTES:
        return Status.WARN, f"{detail} (over 16 MiB)"
    if seconds is not None and seconds >= WARN_LAG_SECONDS:
        return Status.WARN, f"{detail} (replay lag over {WARN_LAG_SECONDS:g} s)"
    return Status.OK, detail


def _lag_phrase(standby: StandbyRow, lag_bytes: int | None) -> str:
    state = standby.state or "connected"
    text = f"{state}, {_bytes_text(lag_bytes)} behind"
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
    eta_text = f", ETA {coarse_duration_text(eta)}" if eta is not None else ""
    return f"catching up at {_bytes_text(rate)}/s{eta_text}"


def _idle_note(seconds_since_last_replay: float | None) -> str:
    if seconds_since_last_replay is None:
        return "; no transactions replayed yet"
    if seconds_since_last_replay >= IDLE_NOTE_AFTER_SECONDS:
        ago = coarse_duration_text(seconds_since_last_replay)
        return f"; no recent transactions (last replay {ago} ago)"
    return ""


def _bytes_text(count: float | None) -> str:
    """A byte count in the binary units every panel uses: 850 B, 12.0 KiB, 3.4 MiB."""
    return "an unknown amount" if count is None else size_text(count)


def typed_values(observation: Observation) -> ReplicationValues:
    """The reading's typed values."""
    standby, replica, primary = observation.standby, observation.replica, observation.primary
    match = observation.match
    return ReplicationValues(
        engine="postgres",
        replay_lag_bytes=observation.replay_lag_bytes,
        receive_lag_bytes=observation.receive_lag_bytes,
        replay_lag_seconds=standby.replay_lag_seconds if standby else None,
        write_lag_seconds=standby.write_lag_seconds if standby else None,
        flush_lag_seconds=standby.flush_lag_seconds if standby else None,
        state=standby.state if standby else None,
        sync_state=standby.sync_state if standby else None,
        standby=standby.label() if standby else None,
        standby_named_by=match.named_by,
        standby_candidates=len(match.candidates),
        standby_ambiguous=match.ambiguous,
        role_lacks_pg_monitor=observation.hidden_from_role is not None,
        in_recovery=replica.in_recovery if replica else None,
        replay_paused=replica.replay_paused if replica else None,
        primary_wal_lsn=primary.wal_lsn if primary else None,
        receive_lsn=replica.receive_lsn if replica else None,
        replay_lsn=replica.replay_lsn if replica else None,
        seconds_since_last_replay=replica.seconds_since_last_replay if replica else None,
        primary_quiet_seconds=observation.primary_quiet_seconds,
        catchup_bytes_per_second=observation.catchup_bytes_per_second,
        catchup_eta_seconds=observation.catchup_eta_seconds,
        promoted=observation.promoted,
        primary_error=observation.primary_error,
        replica_error=observation.replica_error,
    )


def reading_values(observation: Observation) -> dict[str, Value]:
    """The reading's values, by their documented names."""
    return typed_values(observation).as_values()


# --- the source --------------------------------------------------------------------------------


class ReplicationEndsFailed(Exception):
    """Neither end answered, for different reasons."""


class EndConnection:
    """One end's connection: opened on first use, kept across polls, dropped on any error."""

    def __init__(self, dsn: str, connect_timeout_seconds: float) -> None:
        self._dsn = dsn
        self._connect_timeout = max(1, math.ceil(connect_timeout_seconds))
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def fetch_all(
        self, sql: str, password: str | None, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Runs one query; a kept connection that broke is replaced once, at once."""
        import psycopg

        reused = self._connection is not None and not self._connection.closed
        try:
            return await self._fetch_once(sql, password, params)
        except psycopg.OperationalError:
            if not reused:
                raise
        return await self._fetch_once(sql, password, params)

    async def _fetch_once(
        self, sql: str, password: str | None, params: Mapping[str, Any] | None
    ) -> list[tuple[Any, ...]]:
        """One query; on any failure the connection is closed so the next try reconnects."""
        try:
            connection = await self._connected(password)
            cursor = await connection.execute(sql, params)
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
        self._identity = StandbyIdentity.from_settings(settings)
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
        key = "replication.postgres.password_env"
        return password_from_env(self._environ, self._settings.password_env, key)

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
            raise both_ends_failed(("primary", primary), ("replica", replica), self._end_timeout())
        observation = Observation(
            primary=None if isinstance(primary, BaseException) else parse_primary_rows(primary),
            replica=None if isinstance(replica, BaseException) else parse_replica_row(replica[0]),
            primary_error=end_failure_text(primary, self._end_timeout()),
            replica_error=end_failure_text(replica, self._end_timeout()),
            identity=self._identity,
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

    def _end_timeout(self) -> float:
        return self._schedule.timeout_seconds * END_TIMEOUT_SHARE


# --- two ends, shared with logical replication ---------------------------------------------------


def password_from_env(environ: Mapping[str, str], name: str | None, key: str) -> str | None:
    """The password in the env var the config names at `key`; SourceProblem when it is unset."""
    if name is None:
        return None
    if name not in environ:
        raise SourceProblem(f"${name} is not set ({key}): export it and restart")
    return environ[name]


def end_failure_text(outcome: object, timeout_seconds: float) -> str | None:
    """Why one end failed, as one printable line; None when it answered."""
    if not isinstance(outcome, BaseException):
        return None
    return server_text(describe_failure(outcome, timeout_seconds=timeout_seconds))


def both_ends_failed(
    first: tuple[str, BaseException], second: tuple[str, BaseException], timeout_seconds: float
) -> BaseException:
    """One exception for the poller: the shared one when both ends failed the same way."""
    (first_end, first_error), (second_end, second_error) = first, second
    first_reason = describe_failure(first_error, timeout_seconds=timeout_seconds)
    second_reason = describe_failure(second_error, timeout_seconds=timeout_seconds)
    if first_reason == second_reason:
        return first_error
    return ReplicationEndsFailed(f"{first_end}: {first_reason}; {second_end}: {second_reason}")
