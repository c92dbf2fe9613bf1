"""The state core: latest reading per signal, bounded history, staleness against a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit.clock import FrozenClock
from cockpit.live.state import State, StatusChange, apply
from cockpit.model import (
    Reading,
    SignalKind,
    Status,
    reading_from_json,
    reading_to_json,
    worst,
)

T0 = datetime(2026, 11, 22, 1, 0, 0, tzinfo=UTC)


def lag(at: datetime, lag_bytes: int | None, status: Status = Status.OK) -> Reading:
    return Reading(
        signal_id="replication",
        kind=SignalKind.REPLICATION,
        status=status,
        observed_at=at,
        values={"replay_lag_bytes": lag_bytes, "state": "streaming"},
        detail="streaming",
        stale_after_seconds=5.0,
    )


def test_unknown_until_read() -> None:
    assert State().status_of("replication", T0) is Status.UNKNOWN
    assert State().latest("replication") is None


def test_latest_reading_and_history() -> None:
    state, _ = apply(State(), [lag(T0, 100), lag(T0 + timedelta(seconds=1), 50)])
    latest = state.latest("replication")
    assert latest is not None
    assert latest.number("replay_lag_bytes") == 50
    assert [r.number("replay_lag_bytes") for r in state.history("replication")] == [100, 50]


def test_history_is_bounded() -> None:
    state = State(history_limit=10)
    for second in range(25):
        state, _ = apply(state, [lag(T0 + timedelta(seconds=second), second)])
    history = state.history("replication")
    assert len(history) == 10
    assert history[0].number("replay_lag_bytes") == 15
    assert history[-1].number("replay_lag_bytes") == 24


def test_apply_is_pure() -> None:
    before, _ = apply(State(), [lag(T0, 100)])
    after, _ = apply(before, [lag(T0 + timedelta(seconds=1), 0)])
    assert before.latest("replication") == lag(T0, 100)
    assert after.latest("replication") == lag(T0 + timedelta(seconds=1), 0)


def test_late_reading_does_not_replace_newer_one() -> None:
    state, _ = apply(State(), [lag(T0 + timedelta(seconds=5), 0)])
    state, changes = apply(state, [lag(T0, 999, Status.CRITICAL)])
    latest = state.latest("replication")
    assert latest is not None
    assert latest.number("replay_lag_bytes") == 0
    assert changes == ()


def test_status_changes_are_reported() -> None:
    first = lag(T0, 0)
    state, changes = apply(State(), [first])
    assert changes == (StatusChange("replication", None, Status.OK, first),)
    same, changes = apply(state, [lag(T0 + timedelta(seconds=1), 10)])
    assert changes == ()
    worse = lag(T0 + timedelta(seconds=2), 10_000_000, Status.CRITICAL)
    _, changes = apply(same, [worse])
    assert changes == (StatusChange("replication", Status.OK, Status.CRITICAL, worse),)


def test_staleness_follows_the_injected_clock() -> None:
    clock = FrozenClock(T0)
    state, _ = apply(State(), [lag(clock(), 0)])
    assert state.status_of("replication", clock()) is Status.OK
    clock.advance(5.0)
    assert state.status_of("replication", clock()) is Status.OK
    clock.advance(0.1)
    assert state.status_of("replication", clock()) is Status.STALE
    assert state.stale_signals(clock()) == ("replication",)


def test_reading_without_limit_never_goes_stale() -> None:
    reading = Reading("traffic", SignalKind.TRAFFIC, Status.OK, T0)
    assert reading.status_at(T0 + timedelta(days=1)) is Status.OK


def test_series_skips_missing_numbers_instead_of_inventing_zero() -> None:
    state = State()
    for second, value in enumerate([10, None, 30]):
        state, _ = apply(state, [lag(T0 + timedelta(seconds=second), value)])
    points = state.series("replication", "replay_lag_bytes")
    assert [value for _, value in points] == [10.0, 30.0]
    assert state.series("replication", "state") == ()


def test_reading_values_are_frozen() -> None:
    reading = Reading("dns", SignalKind.DNS, Status.OK, T0, values={"answers": ["a", "b"]})
    assert reading.values["answers"] == ("a", "b")
    with pytest.raises(TypeError):
        reading.values["answers"] = ()  # type: ignore[index]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), object()])
def test_reading_rejects_values_that_cannot_be_journaled(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        Reading("x", SignalKind.DNS, Status.OK, T0, values={"v": bad})


def test_reading_needs_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Reading("x", SignalKind.DNS, Status.OK, datetime(2026, 11, 22))  # noqa: DTZ001


def test_reading_json_round_trip() -> None:
    reading = Reading(
        "dns:shop.example.com",
        SignalKind.DNS,
        Status.WARN,
        T0,
        values={"converged_ratio": 0.5, "answers": ("192.0.2.1",), "ttl": 42, "ok": True},
        detail="1 of 2 resolvers converged",
        stale_after_seconds=7.0,
    )
    assert reading_from_json(reading_to_json(reading)) == reading


def test_worst_status() -> None:
    assert worst([]) is Status.OK
    assert worst([Status.OK, Status.WARN]) is Status.WARN
    assert worst([Status.WARN, Status.STALE]) is Status.STALE
    assert worst([Status.UNKNOWN, Status.CRITICAL, Status.OK]) is Status.CRITICAL


def test_nested_values_are_frozen_and_round_trip() -> None:
    reading = Reading(
        "targets:tg-new",
        SignalKind.TARGETS,
        Status.WARN,
        T0,
        values={
            "healthy": 1,
            "targets": [
                {"id": "10.0.1.7:80", "state": "unhealthy", "reason": "Target.Timeout"},
                {"id": "10.0.1.8:80", "state": "healthy", "reason": None},
            ],
            "weights": {"old": 75.0, "new": 25.0},
        },
    )
    targets = reading.values["targets"]
    assert isinstance(targets, tuple)
    assert targets[0] == {"id": "10.0.1.7:80", "state": "unhealthy", "reason": "Target.Timeout"}
    with pytest.raises(TypeError):
        targets[0]["state"] = "healthy"  # type: ignore[index]
    assert reading_from_json(reading_to_json(reading)) == reading
    assert reading_to_json(reading)["values"] == {
        "healthy": 1,
        "targets": [
            {"id": "10.0.1.7:80", "state": "unhealthy", "reason": "Target.Timeout"},
            {"id": "10.0.1.8:80", "state": "healthy", "reason": None},
        ],
        "weights": {"old": 75.0, "new": 25.0},
    }


def test_older_readings_keep_only_what_history_is_read_for() -> None:
    """A DNS reading with a thousand rows stays whole only while it is the latest."""
    big = {"replay_lag_bytes": 7, "resolvers": [{"resolver": f"r{i}"} for i in range(1000)]}
    first = Reading("replication", SignalKind.REPLICATION, Status.OK, T0, big, "detail")
    state, _ = apply(State(), [first, lag(T0 + timedelta(seconds=1), 5)])
    older, latest = state.history("replication")
    assert dict(older.values) == {"replay_lag_bytes": 7} and older.detail == ""
    assert latest == lag(T0 + timedelta(seconds=1), 5), "the latest stays whole"
    assert state.latest("replication") == latest


def test_sparkline_numbers_are_kept_as_readings_arrive() -> None:
    state = State(history_limit=4)
    for second, value in enumerate([10, None, 30, 40, 50]):
        state, _ = apply(state, [lag(T0 + timedelta(seconds=second), value)])
    assert state.numbers("replication", "replay_lag_bytes") == (30, 40, 50)
    assert state.numbers("replication", "replay_lag_bytes") == tuple(
        number for _, number in state.series("replication", "replay_lag_bytes")
    )
    assert state.numbers("replication", "error_ratio") == ()
    assert state.numbers("nothing", "replay_lag_bytes") == ()


def split(at: datetime, new_weight: int) -> Reading:
    return Reading(
        signal_id="traffic",
        kind=SignalKind.TRAFFIC,
        status=Status.OK,
        observed_at=at,
        values={"raw_weights": {"old": 100 - new_weight, "new": new_weight}},
    )


def test_held_since_reaches_past_the_history_and_restarts_on_a_change() -> None:
    state = State(history_limit=3)
    for second in range(10):
        state, _ = apply(state, [split(T0 + timedelta(seconds=second), 5)])
    assert state.held_since("traffic", "raw_weights") == T0, "held longer than the history"
    state, _ = apply(state, [split(T0 + timedelta(seconds=10), 10)])
    assert state.held_since("traffic", "raw_weights") == T0 + timedelta(seconds=10)
    state, _ = apply(state, [split(T0 + timedelta(seconds=11), 10)])
    assert state.held_since("traffic", "raw_weights") == T0 + timedelta(seconds=10)
    assert state.held_since("replication", "raw_weights") is None
