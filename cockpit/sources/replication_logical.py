"""PostgreSQL logical replication, read from the publisher and the subscriber in one poll.

Signal `replication`. Byte lag is the publisher's WAL position minus the confirmed position of
the subscription's slot; retained WAL is what that slot keeps the publisher from recycling (a
stuck slot fills the old server's disk). Sequences are not replicated: each is shown at both
ends, and "behind" means the subscriber's is short of the publisher's plus the margin. Tables a
publication sends updates or deletes for without a replica identity are a preflight problem.

Status rules, first match wins:
- both ends fail: read() raises, so the poller shows UNKNOWN with the reason;
- the subscriber answers and has no such subscription: CRITICAL, naming the key;
- the subscription is disabled: CRITICAL when it disabled itself after an apply error, else
  OK "cut over: subscription disabled", WARN while a transaction still writes to the publisher
  or while its unused slot keeps over 1 GiB of WAL on the publisher;
- the subscriber fails: UNKNOWN, with what the publisher says about the slot;
- the publisher fails: UNKNOWN, with what the subscriber says;
- no slot of that name on the publisher: CRITICAL; its WAL lost: CRITICAL;
- apply errors rose and the slot has not moved since, or no apply worker runs: CRITICAL (a
  stuck slot: a conflict on the subscriber stops apply while the publisher keeps its WAL);
- byte lag over 1 GiB: CRITICAL;
- tables not ready yet: WARN, naming them and their sync state;
- byte lag over 16 MiB, or published tables without a replica identity: WARN;
- otherwise OK: "caught up" at byte lag 0, else the lag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cockpit.clock import Clock
from cockpit.config import LogicalReplication
from cockpit.io.logical_replication import (
    NO_IDENTITY_SQL,
    PUBLISHER_SLOTS_SQL,
    PUBLISHER_SQL,
    SEQUENCES_SQL,
    SUBSCRIPTION_SQL,
    TABLE_STATES_SQL,
    PublisherView,
    SequenceGap,
    SlotRow,
    SubscriptionView,
    parse_publisher,
    parse_subscriber,
    publications_filter,
    sequence_gaps,
    table_names,
)
from cockpit.model import Reading, SignalKind, Status, Value
from cockpit.sources.base import Schedule, make_reading
from cockpit.sources.logical_values import LogicalValues
from cockpit.sources.replication_postgres import (
    CRITICAL_LAG_BYTES,
    END_TIMEOUT_SHARE,
    WARN_LAG_BYTES,
    EndConnection,
    LagHistory,
    WalQuietTracker,
    WriteMarkers,
    both_ends_failed,
    catchup_eta_seconds,
    end_failure_text,
    password_from_env,
)
from cockpit.sources.replication_values import SIGNAL_ID
from cockpit.units import size_text

SHOWN_NAMES = 3
WARN_RETAINED_AFTER_CUTOVER_BYTES = 1024**3
"""After the cutover nothing consumes the slot: past this much kept WAL, say to drop it."""
"""How many table or sequence names a detail line spells out before "and N more"."""
KEPT_ROWS = 200
"""How many sequences and tables a reading carries (the counts say how many there were)."""


# --- one poll's facts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogicalObservation:
    """Both ends' answers for one subscription, and the trends tracked across polls."""

    subscription_name: str
    margin: int
    publisher: PublisherView | None
    subscriber: SubscriptionView | None
    publisher_error: str | None = None
    subscriber_error: str | None = None
    apply_failing: bool = False
    publisher_quiet_seconds: float | None = None
    catchup_bytes_per_second: float | None = None

    @property
    def slot(self) -> SlotRow | None:
        """The publisher's slot for this subscription (by the subscriber's slot name)."""
        if self.publisher is None:
            return None
        name = self.subscriber.slot_name if self.subscriber else None
        return self.publisher.slot(name or self.subscription_name)

    @property
    def lag_bytes(self) -> int | None:
        slot = self.slot
        return None if slot is None or self.cut_over else slot.lag_bytes

    @property
    def cut_over(self) -> bool:
        """The subscription exists and is disabled: it no longer follows the publisher."""
        subscriber = self.subscriber
        return subscriber is not None and subscriber.found and subscriber.enabled is False

    @property
    def gaps(self) -> tuple[SequenceGap, ...]:
        if self.publisher is None or self.subscriber is None:
            return ()
        return sequence_gaps(self.publisher.sequences, self.subscriber.sequences, self.margin)

    @property
    def no_identity_tables(self) -> tuple[str, ...]:
        if self.publisher is None:
            return ()
        publications = self.subscriber.publications if self.subscriber else ()
        return table_names(publications_filter(self.publisher.no_identity_tables, publications))

    @property
    def catchup_eta_seconds(self) -> float | None:
        return catchup_eta_seconds(self.lag_bytes, self.catchup_bytes_per_second)


# --- classification ----------------------------------------------------------------------------


def classify(observation: LogicalObservation) -> tuple[Status, str]:
    """The status and the line a person reads, from one poll's observation."""
    subscriber, publisher = observation.subscriber, observation.publisher
    if subscriber is not None and not subscriber.found:
        return Status.CRITICAL, (
            f"no subscription {observation.subscription_name!r} in the subscriber's database: "
            "check replication.logical.subscription"
        )
    if observation.cut_over:
        return _disabled(observation)
    if subscriber is None:
        return (
            Status.UNKNOWN,
            f"subscriber: {observation.subscriber_error}; {_slot_said(observation)}",
        )
    if publisher is None:
        return (
            Status.UNKNOWN,
            f"publisher: {observation.publisher_error}; {_tables_said(subscriber)}",
        )
    return _following(observation, subscriber)


def _disabled(observation: LogicalObservation) -> tuple[Status, str]:
    subscriber = observation.subscriber
    assert subscriber is not None
    errors = subscriber.apply_error_count or 0
    if subscriber.disable_on_error and errors > 0:
        return Status.CRITICAL, (
            f"subscription disabled itself after {errors} apply errors (disable_on_error): "
            "it stopped following the publisher; see the subscriber's log"
        )
    if observation.publisher_quiet_seconds == 0.0:
        return Status.WARN, (
            "cut over: subscription disabled, but a transaction still writes to the publisher "
            "(the old database): those writes will not reach the new one"
        )
    slot = observation.slot
    if slot is not None and (slot.retained_bytes or 0) > WARN_RETAINED_AFTER_CUTOVER_BYTES:
        return Status.WARN, (
            f"cut over: subscription disabled; {_retained_text(slot)}, and it grows: drop the "
            f"slot once rollback is off the table (SELECT pg_drop_replication_slot('{slot.name}'))"
        )
    return Status.OK, "cut over: subscription disabled (no longer following the publisher)"


def _following(observation: LogicalObservation, subscriber: SubscriptionView) -> tuple[Status, str]:
    slot = observation.slot
    if slot is None:
        name = subscriber.slot_name or observation.subscription_name
        return Status.CRITICAL, f"no replication slot {name!r} on the publisher"
    if slot.wal_status == "lost":
        return Status.CRITICAL, f"slot {slot.name} lost WAL it needed: the subscription is broken"
    stuck = _stuck_reason(observation, subscriber, slot)
    if stuck is not None:
        return Status.CRITICAL, stuck
    lag = slot.lag_bytes or 0
    if lag > CRITICAL_LAG_BYTES:
        return Status.CRITICAL, f"{_lag_text(observation, lag)}; {_retained_text(slot)}"
    return _ready_verdict(observation, subscriber, lag)


def _stuck_reason(
    observation: LogicalObservation, subscriber: SubscriptionView, slot: SlotRow
) -> str | None:
    errors = subscriber.apply_error_count or 0
    if observation.apply_failing:
        return (
            f"apply failing: {errors} apply errors and the slot has not moved since (a conflict "
            f"on the subscriber? see its log); {_retained_text(slot)}"
        )
    if subscriber.apply_worker_pid is None:
        return f"no apply worker running on the subscriber; {_retained_text(slot)}"
    return None


def _ready_verdict(
    observation: LogicalObservation, subscriber: SubscriptionView, lag: int
) -> tuple[Status, str]:
    parts = [_lag_text(observation, lag)]
    status = Status.OK if lag <= WARN_LAG_BYTES else Status.WARN
    not_ready = subscriber.tables_not_ready
    if not_ready:
        status = Status.WARN
        parts.append(_tables_said(subscriber))
    no_identity = observation.no_identity_tables
    if no_identity:
        status = Status.WARN
        parts.append(
            f"no replica identity (updates/deletes will not replicate): {_names(no_identity)}"
        )
    behind = [gap for gap in observation.gaps if gap.behind]
    if behind:
        parts.append(f"{len(behind)} sequences behind the publisher (+{observation.margin})")
    return status, "; ".join(parts)


def _lag_text(observation: LogicalObservation, lag: int) -> str:
    if lag == 0:
        return "caught up (byte lag 0 B)"
    text = f"{size_text(lag)} behind"
    eta = observation.catchup_eta_seconds
    if eta is not None:
        text += f", catching up (~{eta:.0f} s)"
    return text


def _retained_text(slot: SlotRow) -> str:
    retained = (
        "an unknown amount" if slot.retained_bytes is None else size_text(slot.retained_bytes)
    )
    return f"slot {slot.name} retains {retained} of WAL on the publisher"


def _slot_said(observation: LogicalObservation) -> str:
    slot = observation.slot
    if observation.publisher is None:
        return f"publisher: {observation.publisher_error}"
    if slot is None:
        return f"the publisher has no slot {observation.subscription_name!r}"
    active = "active" if slot.active else "INACTIVE"
    return f"publisher: slot {slot.name} {active}, {_retained_text(slot)}"


def _tables_said(subscriber: SubscriptionView) -> str:
    not_ready = subscriber.tables_not_ready
    if not not_ready:
        return f"all {len(subscriber.tables)} tables ready"
    named = [f"{table.text} ({table.state_words})" for table in not_ready]
    return f"{len(not_ready)} of {len(subscriber.tables)} tables not ready: {_names(named)}"


def _names(names: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


# --- values --------------------------------------------------------------------------------------


def typed_values(observation: LogicalObservation) -> LogicalValues:
    """The reading's typed values."""
    subscriber, slot = observation.subscriber, observation.slot
    gaps = observation.gaps
    return LogicalValues(
        subscription=observation.subscription_name,
        subscription_enabled=subscriber.enabled if subscriber else None,
        publications=subscriber.publications if subscriber else (),
        slot_name=slot.name if slot else None,
        slot_active=slot.active if slot else None,
        wal_status=slot.wal_status if slot else None,
        retained_wal_bytes=slot.retained_bytes if slot else None,
        replay_lag_bytes=observation.lag_bytes,
        replay_lag_seconds=None if slot is None else slot.replay_lag_seconds,
        replay_lag_hidden=None if slot is None else slot.details_hidden,
        apply_worker_running=None
        if subscriber is None
        else subscriber.apply_worker_pid is not None,
        apply_error_count=subscriber.apply_error_count if subscriber else None,
        sync_error_count=subscriber.sync_error_count if subscriber else None,
        last_message_age_seconds=subscriber.last_message_age_seconds if subscriber else None,
        tables_total=len(subscriber.tables) if subscriber else None,
        tables_not_ready=_not_ready_rows(subscriber),
        no_identity_tables=observation.no_identity_tables,
        sequence_margin=observation.margin,
        sequences_total=len(gaps) if subscriber and observation.publisher else None,
        sequences_behind=sum(gap.behind for gap in gaps),
        sequences_unknown=sum(not gap.known for gap in gaps),
        sequences=tuple(_sequence_row(gap) for gap in gaps[:KEPT_ROWS]),
        in_recovery=_following_flag(observation),
        promoted=observation.cut_over if subscriber and subscriber.found else None,
        state=_state_word(observation),
        primary_quiet_seconds=observation.publisher_quiet_seconds,
        catchup_bytes_per_second=observation.catchup_bytes_per_second,
        catchup_eta_seconds=observation.catchup_eta_seconds,
        primary_error=observation.publisher_error,
        replica_error=observation.subscriber_error,
    )


def _following_flag(observation: LogicalObservation) -> bool | None:
    """True while the subscription follows the publisher: the streaming replica's "in recovery"."""
    subscriber = observation.subscriber
    if subscriber is None or not subscriber.found:
        return None
    return subscriber.enabled is True


def _state_word(observation: LogicalObservation) -> str | None:
    subscriber = observation.subscriber
    if subscriber is None or not subscriber.found:
        return None
    if observation.cut_over:
        return "disabled"
    return "streaming" if subscriber.apply_worker_pid is not None else "stopped"


def _not_ready_rows(subscriber: SubscriptionView | None) -> tuple[Mapping[str, Value], ...]:
    if subscriber is None:
        return ()
    return tuple(
        {"table": table.text, "state": table.state, "words": table.state_words}
        for table in subscriber.tables_not_ready[:KEPT_ROWS]
    )


def _sequence_row(gap: SequenceGap) -> Mapping[str, Value]:
    return {
        "name": gap.name,
        "publisher": gap.publisher_value,
        "subscriber": gap.subscriber_value,
        "needed": gap.needed,
        "behind": gap.behind,
        "known": gap.known,
    }


# --- the source --------------------------------------------------------------------------------


class ApplyErrorTracker:
    """Whether apply is failing: its error count rose and the slot has not moved since.

    A failing apply worker restarts every few seconds, so one poll's count alone flickers; the
    slot's confirmed position moving again (or the lag reaching 0) is what says it recovered.
    """

    def __init__(self) -> None:
        self._count: int | None = None
        self._stuck_at: str | None = None

    def failing(self, subscriber: SubscriptionView | None, slot: SlotRow | None) -> bool:
        count = subscriber.apply_error_count if subscriber else None
        position = slot.confirmed_flush_lsn if slot else None
        if count is None or position is None:
            return self._stuck_at is not None
        earlier, self._count = self._count, count
        if earlier is not None and count > earlier:
            self._stuck_at = position
        elif position != self._stuck_at or (slot is not None and slot.lag_bytes == 0):
            self._stuck_at = None
        return self._stuck_at is not None


class LogicalReplicationSource:
    """Reads the publisher and the subscriber concurrently each poll; see the module for rules."""

    def __init__(
        self,
        settings: LogicalReplication,
        schedule: Schedule,
        environ: Mapping[str, str],
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._schedule = schedule
        self._environ = environ
        self._clock = clock
        self._publisher = EndConnection(settings.publisher_dsn, schedule.timeout_seconds)
        self._subscriber = EndConnection(settings.subscriber_dsn, schedule.timeout_seconds)
        self._quiet = WalQuietTracker()
        self._history = LagHistory()
        self._apply = ApplyErrorTracker()
        self.name = "replication (logical)"
        self.kind = SignalKind.REPLICATION
        self.schedule = schedule
        self.signal_ids = (SIGNAL_ID,)

    async def read(self) -> list[Reading]:
        password = self._password()
        publisher, subscriber = await asyncio.gather(
            self._attempt(self._read_publisher(password)),
            self._attempt(self._read_subscriber(password)),
        )
        now = self._clock()
        observation = self._observe(publisher, subscriber, now)
        status, detail = classify(observation)
        values = typed_values(observation).as_values()
        return [make_reading(self, SIGNAL_ID, status, now, detail, values)]

    async def close(self) -> None:
        """Closes both connections (the next read opens them again)."""
        await asyncio.gather(self._publisher.close(), self._subscriber.close())

    async def _read_publisher(self, password: str | None) -> PublisherView:
        end = self._publisher
        markers = await end.fetch_all(PUBLISHER_SQL, password)
        slots = await end.fetch_all(PUBLISHER_SLOTS_SQL, password)
        no_identity = await end.fetch_all(NO_IDENTITY_SQL, password)
        sequences = await end.fetch_all(SEQUENCES_SQL, password)
        return parse_publisher(markers[0], slots, no_identity, sequences)

    async def _read_subscriber(self, password: str | None) -> SubscriptionView:
        end, params = self._subscriber, {"subscription": self._settings.subscription}
        subscription = await end.fetch_all(SUBSCRIPTION_SQL, password, params)
        tables = await end.fetch_all(TABLE_STATES_SQL, password, params)
        sequences = await end.fetch_all(SEQUENCES_SQL, password)
        return parse_subscriber(subscription, tables, sequences)

    def _password(self) -> str | None:
        key = "replication.logical.password_env"
        return password_from_env(self._environ, self._settings.password_env, key)

    async def _attempt(self, read: Any) -> Any:
        try:
            return await asyncio.wait_for(read, self._end_timeout())
        except Exception as error:
            return error

    def _observe(self, publisher: Any, subscriber: Any, now: datetime) -> LogicalObservation:
        if isinstance(publisher, BaseException) and isinstance(subscriber, BaseException):
            ends = (("publisher", publisher), ("subscriber", subscriber))
            raise both_ends_failed(*ends, self._end_timeout())
        observation = LogicalObservation(
            subscription_name=self._settings.subscription,
            margin=self._settings.sequence_margin,
            publisher=None if isinstance(publisher, BaseException) else publisher,
            subscriber=None if isinstance(subscriber, BaseException) else subscriber,
            publisher_error=end_failure_text(publisher, self._end_timeout()),
            subscriber_error=end_failure_text(subscriber, self._end_timeout()),
        )
        return self._with_trends(observation, now)

    def _with_trends(self, observation: LogicalObservation, now: datetime) -> LogicalObservation:
        publisher = observation.publisher
        marker = None
        if publisher is not None:
            marker = WriteMarkers(
                publisher.next_xid, publisher.rows_written, publisher.maintenance_runs
            )
        quiet = self._quiet.observe(marker, now)
        lag_bytes = observation.lag_bytes
        if lag_bytes is None:
            self._history.clear()
        else:
            self._history.add(now, lag_bytes)
        return replace(
            observation,
            apply_failing=self._apply.failing(observation.subscriber, observation.slot),
            publisher_quiet_seconds=quiet,
            catchup_bytes_per_second=self._history.rate_bytes_per_second(),
        )

    def _end_timeout(self) -> float:
        return self._schedule.timeout_seconds * END_TIMEOUT_SHARE
