"""The logical-replication cutover: subscriber sequences carried over, then the subscription off.

Blocking (psycopg); the action runner calls it in a thread. Reading and writing are separate
classes, so --read-only and --dry-run build no writer. Passwords never enter the text returned
or raised: an end is named by host:port and database only.

Sequences are not replicated, so before the new database takes writes each of its sequences is
set to the publisher's last value plus the margin. The plan is read from both ends; the cutover
reads the publisher again and refuses when a sequence moved since (writes have not stopped),
sets every sequence in one transaction, then disables the subscription.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cockpit.config import LogicalReplication
from cockpit.io.dsn import DatabaseEnd
from cockpit.io.failures import ActionFailed
from cockpit.io.logical_replication import (
    SEQUENCES_SQL,
    SUBSCRIPTION_SQL,
    TABLE_STATES_SQL,
    SequenceGap,
    SequenceValue,
    SubscriptionView,
    parse_sequences,
    parse_subscriber,
    sequence_gaps,
)
from cockpit.jsonvalue import JsonValue

SHOWN_NAMES = 5
SETVAL_SQL = (
    "SELECT setval(format('%%I.%%I', %(schema)s::text, %(sequence)s::text)::regclass,"
    " %(value)s::bigint, true)"
)


@dataclass(frozen=True)
class CutoverState:
    """Both ends as the cutover needs them: the subscription and every sequence pair."""

    subscription: SubscriptionView
    gaps: tuple[SequenceGap, ...]

    def refusal(self, name: str) -> str | None:
        """Why the cutover cannot run now, or None."""
        subscription = self.subscription
        if not subscription.found:
            return f"no subscription {name!r} on the subscriber: check replication.logical"
        if subscription.enabled is False:
            return f"subscription {name} is already disabled: nothing to cut over"
        return self._tables_refusal() or self._sequences_refusal()

    def _tables_refusal(self) -> str | None:
        not_ready = self.subscription.tables_not_ready
        if not not_ready:
            return None
        named = [f"{table.text} ({table.state_words})" for table in not_ready]
        return f"{len(not_ready)} tables not ready on the subscriber: {_names(named)}"

    def _sequences_refusal(self) -> str | None:
        missing = [
            gap.name for gap in self.gaps if gap.needed is not None and not gap.on_subscriber
        ]
        if missing:
            return f"sequences missing on the subscriber: {_names(missing)}"
        unknown = [gap.name for gap in self.gaps if not gap.known]
        if unknown:
            return (
                f"sequence values not readable ({_names(unknown)}): GRANT SELECT on them to the "
                "cockpit's role at both ends"
            )
        backwards = [
            f"{gap.name} ({gap.subscriber_value} past {gap.needed})"
            for gap in self.gaps
            if gap.would_go_backwards
        ]
        if backwards:
            return (
                f"a sequence would go backwards: {_names(backwards)}; has something written "
                "to the subscriber? Check before cutting over"
            )
        return None

    @property
    def settings(self) -> tuple[SequenceGap, ...]:
        """The sequences the cutover sets: every one the publisher has used."""
        return tuple(gap for gap in self.gaps if gap.needed is not None)


def planned_values(state: CutoverState) -> dict[str, JsonValue]:
    """Each sequence the cutover sets, by name, with the publisher value it was planned from."""
    return {
        gap.name: {
            "schema": gap.schema,
            "sequence": gap.sequence,
            "publisher": gap.publisher_value,
            "subscriber": gap.subscriber_value,
            "set_to": gap.needed,
        }
        for gap in state.settings
    }


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _end(
    label: str, dsn: str, settings: LogicalReplication, environ: Mapping[str, str]
) -> DatabaseEnd:
    key = "replication.logical.password_env"
    return DatabaseEnd(label, dsn, settings.password_env, key, environ)


def _connected(end: DatabaseEnd, timeout_seconds: float) -> Any:
    """A connection whose statements, like its connecting, end after timeout_seconds."""
    return end.connect(
        connect_timeout_seconds=max(1, int(timeout_seconds)),
        options=f"-c statement_timeout={int(timeout_seconds * 1000)}",
    )


class LogicalCutoverReader:
    """Reads what the cutover needs from both ends, now."""

    def __init__(
        self, settings: LogicalReplication, environ: Mapping[str, str], timeout_seconds: float
    ) -> None:
        self.settings = settings
        self.timeout_seconds = timeout_seconds
        self.publisher = _end("publisher", settings.publisher_dsn, settings, environ)
        self.subscriber = _end("subscriber", settings.subscriber_dsn, settings, environ)

    def state(self) -> CutoverState:
        """The subscription, its tables and every sequence pair; ActionFailed when unreadable."""
        publisher_sequences = self.publisher_sequences()
        subscription = self.subscription()
        gaps = sequence_gaps(
            publisher_sequences, subscription.sequences, self.settings.sequence_margin
        )
        return CutoverState(subscription, gaps)

    def publisher_sequences(self) -> tuple[SequenceValue, ...]:
        try:
            with _connected(self.publisher, self.timeout_seconds) as connection:
                return parse_sequences(connection.execute(SEQUENCES_SQL).fetchall())
        except ActionFailed:
            raise
        except Exception as error:
            raise self.publisher.failure("reading sequences", error) from None

    def subscription(self) -> SubscriptionView:
        params = {"subscription": self.settings.subscription}
        try:
            with _connected(self.subscriber, self.timeout_seconds) as connection:
                rows = connection.execute(SUBSCRIPTION_SQL, params).fetchall()
                tables = connection.execute(TABLE_STATES_SQL, params).fetchall()
                sequences = connection.execute(SEQUENCES_SQL).fetchall()
        except ActionFailed:
            raise
        except Exception as error:
            raise self.subscriber.failure("reading the subscription", error) from None
        return parse_subscriber(rows, tables, sequences)


class LogicalCutoverWriter:
    """Sets the subscriber's sequences and disables the subscription."""

    def __init__(self, reader: LogicalCutoverReader) -> None:
        self._reader = reader

    def cut_over(self, planned: Mapping[str, JsonValue]) -> tuple[str, ...]:
        """Runs the cutover planned; returns evidence naming every value set."""
        moved = self._publisher_moved(planned)
        if moved:
            raise ActionFailed(
                f"the publisher's sequences moved since the plan ({_names(moved)}): writes have "
                "not stopped on the old database; nothing was changed"
            )
        evidence = self._set_sequences(planned)
        return (*evidence, self._disable())

    def _publisher_moved(self, planned: Mapping[str, JsonValue]) -> list[str]:
        now = {value.text: value.last_value for value in self._reader.publisher_sequences()}
        moved = []
        for name, entry in planned.items():
            was = entry.get("publisher") if isinstance(entry, Mapping) else None
            if now.get(name) != was:
                moved.append(f"{name} {was} → {now.get(name)}")
        fresh = [
            f"{name} → {value}" for name, value in now.items() if value and name not in planned
        ]
        return moved + fresh

    def _set_sequences(self, planned: Mapping[str, JsonValue]) -> list[str]:
        subscriber = self._reader.subscriber
        try:
            timeout = self._reader.timeout_seconds
            with _connected(subscriber, timeout) as connection, connection.transaction():
                return [self._set_one(connection, name, entry) for name, entry in planned.items()]
        except Exception as error:
            raise subscriber.failure("setting sequences (none were changed)", error) from None

    def _set_one(self, connection: Any, name: str, entry: JsonValue) -> str:
        if not isinstance(entry, Mapping):
            raise ValueError(f"the plan holds no value for {name}")
        params = {
            "schema": entry["schema"],
            "sequence": entry["sequence"],
            "value": entry["set_to"],
        }
        row = connection.execute(SETVAL_SQL, params).fetchone()
        return (
            f"setval({name}) on the subscriber ({self._reader.subscriber.location.address}): "
            f"{entry.get('subscriber') or 'unused'} → {row[0] if row else '?'} "
            f"(publisher {entry.get('publisher')} + margin)"
        )

    def _disable(self) -> str:
        from psycopg import sql

        subscriber, name = self._reader.subscriber, self._reader.settings.subscription
        statement = sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(sql.Identifier(name))
        try:
            with _connected(subscriber, self._reader.timeout_seconds) as connection:
                connection.execute(statement)
        except Exception as error:
            raise subscriber.failure(
                f"ALTER SUBSCRIPTION {name} DISABLE (the sequences were already set)", error
            ) from None
        return (
            f"ALTER SUBSCRIPTION {name} DISABLE on the subscriber ({subscriber.location.address})"
        )


@dataclass(frozen=True)
class CutoverCheck:
    """The cutover read back: subscription disabled, every sequence at least where it was set."""

    ok: bool
    summary: str
    observed: dict[str, JsonValue]


def check_cut_over(reader: LogicalCutoverReader, planned: Mapping[str, JsonValue]) -> CutoverCheck:
    """Reads both ends back and says whether the cutover took effect."""
    subscription = reader.subscription()
    values = {value.text: value.last_value for value in subscription.sequences}
    short = [
        f"{name} at {values.get(name)}"
        for name, entry in planned.items()
        if isinstance(entry, Mapping) and not _reached(values.get(name), entry)
    ]
    observed: dict[str, JsonValue] = {
        "subscription_enabled": subscription.enabled,
        "sequences": {name: values.get(name) for name in planned},
    }
    if subscription.enabled is not False:
        return CutoverCheck(False, "the subscription is still enabled", observed)
    if short:
        return CutoverCheck(False, f"sequences not set: {_names(short)}", observed)
    return CutoverCheck(
        True,
        f"subscription disabled; {len(planned)} sequences at or past the publisher's + margin",
        observed,
    )


def _reached(value: int | None, entry: Mapping[str, JsonValue]) -> bool:
    needed = entry.get("set_to")
    if value is None or not isinstance(needed, int):
        return False
    publisher = entry.get("publisher")
    descending = isinstance(publisher, int) and needed < publisher
    return value <= needed if descending else value >= needed
