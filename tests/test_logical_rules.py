"""Logical replication, headless: classification, sequences, the cutover's refusals and guards.

Observations are built here from parsed rows in the shapes the servers return; the readings
against two real PostgreSQL servers are in tests/sources/test_replication_logical.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cockpit.config import parse_config
from cockpit.io.logical_cutover import CutoverState, planned_values
from cockpit.io.logical_replication import (
    SequenceValue,
    SlotRow,
    SubscriptionView,
    TableState,
    parse_publisher,
    parse_subscriber,
    sequence_gaps,
)
from cockpit.live.state import State, apply
from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.guards import (
    GuardInputs,
    replica_in_recovery,
    replication_caught_up,
    run_guard,
    sequences_caught_up,
    subscription_tables_ready,
)
from cockpit.rules.verdicts import SessionFacts
from cockpit.sources.logical_values import LogicalValues
from cockpit.sources.replication_logical import (
    ApplyErrorTracker,
    LogicalObservation,
    classify,
    typed_values,
)
from cockpit.sources.replication_values import ReplicationValues

NOW = datetime(2026, 12, 4, 1, 30, tzinfo=UTC)
MARGIN = 1000


def seq(name: str, last_value: int | None, *, readable: bool = True, step: int = 1) -> Any:
    return ("public", name, last_value, step, readable)


def publisher(
    slots: list[tuple[Any, ...]] | None = None,
    sequences: list[tuple[Any, ...]] | None = None,
    no_identity: list[tuple[Any, ...]] | None = None,
) -> Any:
    markers = ("0/3000000", "900", 10, 0, "cockpit_reader")
    default_slot = [("shop_sub", True, "0/3000000", 0, 4096, "reserved", None, "streaming")]
    return parse_publisher(
        markers,
        default_slot if slots is None else slots,
        no_identity or [],
        sequences if sequences is not None else [seq("orders_id_seq", 5000)],
    )


def subscriber(
    *,
    enabled: bool = True,
    worker: int | None = 4242,
    errors: int = 0,
    tables: list[tuple[str, str, str]] | None = None,
    sequences: list[tuple[Any, ...]] | None = None,
    disable_on_error: bool = False,
) -> SubscriptionView:
    row = (
        16400,
        enabled,
        "shop_sub",
        ["shop_pub"],
        disable_on_error,
        worker,
        "0/3000000",
        0.4,
        errors,
        0,
        "cockpit_reader",
    )
    return parse_subscriber(
        [row],
        tables if tables is not None else [("public", "orders", "r"), ("public", "customers", "r")],
        sequences if sequences is not None else [seq("orders_id_seq", None)],
    )


def observe(**changes: Any) -> LogicalObservation:
    base = LogicalObservation("shop_sub", MARGIN, publisher(), subscriber())
    return replace(base, **changes)


# --- classification ------------------------------------------------------------------------------


def test_caught_up_with_every_table_ready_is_ok_and_names_the_sequences_behind() -> None:
    status, detail = classify(observe())
    assert status is Status.OK
    assert detail.startswith("caught up (byte lag 0 B)")
    assert "1 sequences behind the publisher (+1000)" in detail


def test_no_such_subscription_is_critical_naming_the_key() -> None:
    missing = parse_subscriber([], [], [])
    status, detail = classify(observe(subscriber=missing))
    assert status is Status.CRITICAL
    assert "replication.logical.subscription" in detail


def test_a_table_still_syncing_warns_naming_it_and_its_state() -> None:
    syncing = subscriber(tables=[("public", "orders", "r"), ("billing", "invoices", "d")])
    status, detail = classify(observe(subscriber=syncing))
    assert status is Status.WARN
    assert "1 of 2 tables not ready: billing.invoices (copying data)" in detail


def test_tables_without_replica_identity_are_a_preflight_warning() -> None:
    view = publisher(no_identity=[("shop_pub", "public", "order_events")])
    other = publisher(no_identity=[("other_pub", "public", "audit")])
    status, detail = classify(observe(publisher=view))
    assert status is Status.WARN
    assert "no replica identity (updates/deletes will not replicate): order_events" in detail
    assert classify(observe(publisher=other))[0] is Status.OK


def test_lag_over_a_gibibyte_is_critical_and_says_what_the_slot_retains() -> None:
    slot = [("shop_sub", True, "0/1000", 2 * 1024**3, 3 * 1024**3, "extended", None, "streaming")]
    status, detail = classify(observe(publisher=publisher(slots=slot)))
    assert status is Status.CRITICAL
    assert "2.0 GiB behind" in detail
    assert "slot shop_sub retains 3.0 GiB of WAL on the publisher" in detail


def test_a_missing_or_lost_slot_is_critical() -> None:
    assert classify(observe(publisher=publisher(slots=[])))[0] is Status.CRITICAL
    lost = [("shop_sub", False, None, None, None, "lost", None, None)]
    status, detail = classify(observe(publisher=publisher(slots=lost)))
    assert status is Status.CRITICAL
    assert "lost WAL" in detail


def test_no_apply_worker_is_critical() -> None:
    status, detail = classify(observe(subscriber=subscriber(worker=None)))
    assert status is Status.CRITICAL
    assert "no apply worker running" in detail


def test_failing_apply_is_critical_until_the_slot_moves_again() -> None:
    tracker = ApplyErrorTracker()
    lagging = [("shop_sub", True, "0/2000000", 4096, 8192, "reserved", None, "streaming")]
    moved = [("shop_sub", True, "0/2100000", 0, 8192, "reserved", None, "streaming")]
    slot = publisher(slots=lagging).slots[0]
    assert not tracker.failing(subscriber(errors=3), slot)
    assert tracker.failing(subscriber(errors=5, worker=None), slot)
    assert tracker.failing(subscriber(errors=5), slot), "one quiet poll is not recovery"
    assert not tracker.failing(subscriber(errors=5), publisher(slots=moved).slots[0])
    status, detail = classify(observe(apply_failing=True))
    assert status is Status.CRITICAL
    assert detail.startswith("apply failing")


def test_disabled_is_the_cutover_but_not_when_it_disabled_itself() -> None:
    off = subscriber(enabled=False, worker=None)
    assert classify(observe(subscriber=off)) == (
        Status.OK,
        "cut over: subscription disabled (no longer following the publisher)",
    )
    writing = classify(observe(subscriber=off, publisher_quiet_seconds=0.0))
    assert writing[0] is Status.WARN
    kept = [("shop_sub", False, "0/1000", None, 2 * 1024**3, "extended", None, None)]
    status, detail = classify(observe(subscriber=off, publisher=publisher(slots=kept)))
    assert status is Status.WARN
    assert "pg_drop_replication_slot('shop_sub')" in detail
    broken = subscriber(enabled=False, worker=None, errors=2, disable_on_error=True)
    assert classify(observe(subscriber=broken))[0] is Status.CRITICAL


def test_one_end_failing_is_unknown_with_what_the_other_said() -> None:
    status, detail = classify(observe(publisher=None, publisher_error="connection refused"))
    assert status is Status.UNKNOWN
    assert detail == "publisher: connection refused; all 2 tables ready"
    status, detail = classify(observe(subscriber=None, subscriber_error="timeout after 1.6 s"))
    assert status is Status.UNKNOWN
    assert "slot shop_sub active" in detail


# --- sequences -----------------------------------------------------------------------------------


def gaps(publisher_rows: list[Any], subscriber_rows: list[Any], margin: int = MARGIN) -> Any:
    pub = publisher(sequences=publisher_rows).sequences
    sub = subscriber(sequences=subscriber_rows).sequences
    return {gap.name: gap for gap in sequence_gaps(pub, sub, margin)}


def test_a_sequence_is_behind_until_it_reaches_the_publisher_plus_the_margin() -> None:
    found = gaps(
        [seq("a", 5000), seq("b", 5000), seq("c", None), seq("d", 5000)],
        [seq("a", 5999), seq("b", 6000), seq("c", None), seq("d", None)],
    )
    assert (found["a"].behind, found["a"].needed) == (True, 6000)
    assert not found["b"].behind
    assert not found["c"].behind and found["c"].needed is None, "never used: nothing to carry"
    assert found["d"].behind, "never used on the subscriber"


def test_an_unreadable_sequence_is_not_known_never_zero() -> None:
    found = gaps([seq("a", None, readable=False)], [seq("a", 10)])
    assert not found["a"].known
    found = gaps([seq("a", 10)], [seq("a", None, readable=False)])
    assert not found["a"].known


def test_descending_sequences_count_downwards() -> None:
    found = gaps([seq("down", -500, step=-1)], [seq("down", -1400, step=-1)])
    assert found["down"].needed == -1500
    assert found["down"].behind
    assert not gaps([seq("down", -500, step=-1)], [seq("down", -1500, step=-1)])["down"].behind


# --- the cutover's refusals ----------------------------------------------------------------------


def state(sub: SubscriptionView, publisher_rows: list[Any] | None = None) -> CutoverState:
    pub = publisher(sequences=publisher_rows).sequences
    return CutoverState(sub, sequence_gaps(pub, sub.sequences, MARGIN))


def test_the_plan_sets_each_used_sequence_to_the_publisher_plus_margin() -> None:
    ready = state(subscriber(sequences=[seq("orders_id_seq", 12), seq("unused", None)]))
    assert ready.refusal("shop_sub") is None
    assert planned_values(ready) == {
        "orders_id_seq": {
            "schema": "public",
            "sequence": "orders_id_seq",
            "publisher": 5000,
            "subscriber": 12,
            "set_to": 6000,
        }
    }


@pytest.mark.parametrize(
    ("sub", "publisher_rows", "refused"),
    [
        (subscriber(tables=[("public", "orders", "d")]), None, "1 tables not ready"),
        (subscriber(sequences=[seq("orders_id_seq", 9000)]), None, "would go backwards"),
        (subscriber(sequences=[]), None, "missing on the subscriber: orders_id_seq"),
        (subscriber(), [seq("orders_id_seq", None, readable=False)], "not readable"),
        (subscriber(enabled=False), None, "already disabled"),
        (parse_subscriber([], [], []), None, "no subscription 'shop_sub'"),
    ],
)
def test_the_cutover_is_refused(
    sub: SubscriptionView, publisher_rows: list[Any] | None, refused: str
) -> None:
    reason = state(sub, publisher_rows).refusal("shop_sub")
    assert reason is not None and refused in reason


# --- values and guards ---------------------------------------------------------------------------


def logical_reading(observation: LogicalObservation, *, age: float = 1.0) -> Reading:
    status, detail = classify(observation)
    return Reading(
        signal_id="replication",
        kind=SignalKind.REPLICATION,
        status=status,
        observed_at=NOW - timedelta(seconds=age),
        values=typed_values(observation).as_values(),
        detail=detail,
        stale_after_seconds=5.0,
    )


def test_values_round_trip_and_share_the_fields_guards_read() -> None:
    observation = observe(publisher_quiet_seconds=12.0)
    reading = logical_reading(observation)
    assert LogicalValues.from_reading(reading) == typed_values(observation)
    shared = ReplicationValues.from_reading(reading)
    assert shared.engine == "logical"
    assert (shared.replay_lag_bytes, shared.in_recovery, shared.promoted) == (0, True, False)
    assert shared.primary_quiet_seconds == 12.0
    assert shared.sees_primary_writes


LOGICAL_CONFIG = parse_config(
    """
[cutover]
name = "shop"
[replication.logical]
publisher_dsn = "host=127.0.0.1 port=5432 dbname=shop"
subscriber_dsn = "host=127.0.0.1 port=5433 dbname=shop"
subscription = "shop_sub"
[promotion.logical]
""",
    source="test.toml",
    base_dir=Path("/srv/cutover"),
)


def inputs(*readings: Reading) -> GuardInputs:
    state, _ = apply(State(), list(readings))
    return GuardInputs(state, LOGICAL_CONFIG, NOW, SessionFacts(weights_since=None), {})


def test_tables_guard_blocks_while_a_table_syncs_and_fails_closed() -> None:
    syncing = subscriber(tables=[("public", "orders", "r"), ("public", "late", "i")])
    blocked = run_guard(
        subscription_tables_ready, inputs(logical_reading(observe(subscriber=syncing)))
    )
    assert blocked.reason == "tables still syncing: late (initializing): wait until they are ready"
    assert run_guard(subscription_tables_ready, inputs(logical_reading(observe()))).passed
    stale = logical_reading(observe(), age=60)
    assert not run_guard(subscription_tables_ready, inputs(stale)).passed
    assert not run_guard(subscription_tables_ready, inputs()).passed


def test_sequences_guard_judges_only_after_the_cutover() -> None:
    before = logical_reading(observe())
    assert run_guard(sequences_caught_up, inputs(before)).passed
    off = subscriber(enabled=False, worker=None, sequences=[seq("orders_id_seq", 5500)])
    blocked = run_guard(sequences_caught_up, inputs(logical_reading(observe(subscriber=off))))
    assert blocked.reason is not None
    assert "orders_id_seq at 5500, needs 6000" in blocked.reason
    set_right = subscriber(enabled=False, worker=None, sequences=[seq("orders_id_seq", 6000)])
    assert run_guard(
        sequences_caught_up, inputs(logical_reading(observe(subscriber=set_right)))
    ).passed


def test_promotion_guards_read_the_subscription_as_the_replica() -> None:
    following = inputs(logical_reading(observe()))
    assert run_guard(replica_in_recovery, following).passed
    assert run_guard(replication_caught_up, following).passed
    off = inputs(logical_reading(observe(subscriber=subscriber(enabled=False, worker=None))))
    assert run_guard(replica_in_recovery, off).reason == (
        "replication already stopped (cut over): nothing to cut over"
    )
    behind = [("shop_sub", True, "0/1000", 8192, 8192, "reserved", None, "streaming")]
    lagging = inputs(logical_reading(observe(publisher=publisher(slots=behind))))
    assert not run_guard(replication_caught_up, lagging).passed


def test_table_states_carry_their_words() -> None:
    assert TableState("public", "x", "s").state_words == "synchronized"
    assert SlotRow("s", True, None, None, None, None, None, None).details_hidden
    assert SequenceValue("billing", "n", 1, 1, True).text == "billing.n"


def test_a_password_in_a_logical_dsn_is_warned_about_and_redacted() -> None:
    from cockpit.config import config_warnings
    from cockpit.redact import redactor_for_config

    text = """
[cutover]
name = "shop"
[replication.logical]
publisher_dsn = "host=10.1.0.5 dbname=shop password=hunter2-old"
subscriber_dsn = "postgresql://cutover:hunter2-new@10.20.0.9/shop"
subscription = "shop_sub"
"""
    config = parse_config(text, source="test.toml", base_dir=Path("/srv/cutover"))
    warned = [problem.path for problem in config_warnings(config, {})]
    assert warned == ["replication.logical.publisher_dsn", "replication.logical.subscriber_dsn"]
    redactor = redactor_for_config(config, {})
    said = redactor.text("publisher said hunter2-old, subscriber hunter2-new")
    assert "hunter2" not in said
