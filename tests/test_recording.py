"""What goes into the journal from the live readings: changes that matter, keyframes, staleness;
and how the timeline rebuilds the screen's state at any moment from those records alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.clock import FrozenClock
from cockpit.journal.chain import session_header
from cockpit.journal.writer import JournalWriter
from cockpit.live.recording import (
    KEYFRAME_KIND,
    READING_KIND,
    STALE_KIND,
    VALUE_CHANGE_SPACING_SECONDS,
    JournalEntry,
    Recorder,
    values_differ,
)
from cockpit.live.state import State, apply
from cockpit.model import Reading, SignalKind, Status
from cockpit.redact import Redactor
from cockpit.review.timeline import Timeline

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def lag(at: datetime, lag_bytes: int, status: Status = Status.OK, **extra: object) -> Reading:
    values = {"replay_lag_bytes": lag_bytes, "replay_lsn": f"0/{lag_bytes:X}", **extra}
    return Reading("replication", SignalKind.REPLICATION, status, at, values, "", 8.0)


def dns(at: datetime, ttl: int, answer: str = "old") -> Reading:
    resolvers = ({"resolver": "cache-1", "ttl": ttl, "matches": answer},)
    values = {"resolvers": resolvers, "old_expires_in_seconds": ttl, "converged_fraction": 0.0}
    return Reading("dns:app", SignalKind.DNS, Status.OK, at, values, "", 8.0)


def test_small_drift_is_not_a_change_but_a_real_move_is() -> None:
    assert not values_differ({"replay_lag_bytes": 1_000_000}, {"replay_lag_bytes": 1_050_000})
    assert values_differ({"replay_lag_bytes": 1_000_000}, {"replay_lag_bytes": 1_200_000})
    assert not values_differ({"replay_lag_bytes": 100}, {"replay_lag_bytes": 3000})


def test_to_or_from_zero_always_counts() -> None:
    assert values_differ({"replay_lag_bytes": 100}, {"replay_lag_bytes": 0})
    assert values_differ({"error_ratio": 0.0}, {"error_ratio": 0.0004})


def test_ratios_and_latencies_have_floors() -> None:
    assert not values_differ({"error_ratio": 0.0101}, {"error_ratio": 0.0105})
    assert values_differ({"error_ratio": 0.01}, {"error_ratio": 0.03})
    assert not values_differ({"latency_seconds": 0.026}, {"latency_seconds": 0.043})
    assert values_differ({"p95_seconds": 0.02}, {"p95_seconds": 0.4})


def test_text_flags_and_shapes_count_but_countdowns_and_lsns_do_not() -> None:
    assert values_differ({"state": "streaming"}, {"state": "catchup"})
    assert values_differ({"on": False}, {"on": True})
    assert values_differ({"targets": (1, 2)}, {"targets": (1,)})
    assert values_differ({"weights": {"old": 100}}, {"weights": {"old": 95, "new": 5}})
    assert not values_differ(dns(START, 30).values, dns(START, 3).values)
    assert values_differ(dns(START, 30).values, dns(START, 30, "new").values)
    assert not values_differ(lag(START, 0).values | {"replay_lsn": "0/1"}, lag(START, 0).values)


def test_one_slow_request_or_the_replay_clock_alone_is_not_a_change() -> None:
    quick = {"p95_seconds": 0.2, "max_response_seconds": 0.36}
    assert not values_differ(quick, quick | {"max_response_seconds": 0.65})
    assert values_differ(quick, quick | {"p95_seconds": 0.9, "max_response_seconds": 0.65})
    replaying = lag(START, 0).values | {"seconds_since_last_replay": -0.19}
    assert not values_differ(replaying, replaying | {"seconds_since_last_replay": 0.17})
    assert not values_differ(replaying | {"receive_lag_bytes": 0}, replaying)
    counted = {"error_ratio": 0.0008, "errors_5xx": 2, "requests": 2600}
    assert not values_differ(counted, counted | {"errors_5xx": 3, "requests": 2640})
    assert values_differ(counted, counted | {"error_ratio": 0.02, "errors_5xx": 52})


def test_first_sight_and_status_changes_are_written_at_once() -> None:
    recorder = Recorder()
    first = recorder.readings([lag(START, 0)], START)
    same = recorder.readings([lag(START + timedelta(seconds=1), 0)], START)
    burst = lag(START + timedelta(seconds=2), 0, Status.WARN)
    changed = recorder.readings([burst], START + timedelta(seconds=2))
    assert [entry.kind for entry in first] == [READING_KIND]
    assert same == []
    assert [entry.data["status"] for entry in changed] == ["warn"]


def test_a_value_change_waits_for_the_spacing_then_is_written() -> None:
    recorder = Recorder()
    recorder.readings([lag(START, 1000)], START)
    soon = START + timedelta(seconds=1)
    later = START + timedelta(seconds=VALUE_CHANGE_SPACING_SECONDS)
    assert recorder.readings([lag(soon, 900_000)], soon) == []
    written = recorder.readings([lag(later, 900_000)], later)
    assert [entry.data["values"]["replay_lag_bytes"] for entry in written] == [900_000]  # type: ignore[index]


def written_seconds(recorder: Recorder, readings: list[Reading]) -> list[int]:
    """The seconds after START at which the recorder wrote each of these readings."""
    seconds = []
    for reading in readings:
        if recorder.readings([reading], reading.observed_at):
            seconds.append(round((reading.observed_at - START).total_seconds()))
    return seconds


def test_values_moving_every_poll_are_written_ever_less_often_until_they_settle() -> None:
    recorder = Recorder()
    moving = [lag(START + timedelta(seconds=s), 1_000_000 * (1 + s)) for s in range(120)]
    assert written_seconds(recorder, moving) == [0, 5, 15, 35, 65, 95]
    settled_at = START + timedelta(seconds=200)
    assert written_seconds(recorder, [lag(settled_at, 5_000_000)]) == [200]
    again = [lag(settled_at + timedelta(seconds=s), 1_000_000 * (1 + s % 2)) for s in (1, 5)]
    assert written_seconds(recorder, again) == [205], "settled: the shortest spacing again"


def test_a_status_change_is_written_at_once_and_starts_the_spacing_again() -> None:
    recorder = Recorder()
    moving = [lag(START + timedelta(seconds=s), 1_000_000 * (1 + s)) for s in range(40)]
    assert written_seconds(recorder, moving) == [0, 5, 15, 35]
    warn = [lag(START + timedelta(seconds=s), 9_000_000, Status.WARN) for s in (41, 42)]
    assert written_seconds(recorder, warn) == [41]
    moved = [lag(START + timedelta(seconds=s), 20_000_000, Status.WARN) for s in (47, 48)]
    assert written_seconds(recorder, moved) == [47], "5 s after the status change, not 30 s"


def test_the_readings_not_yet_written_are_written_when_asked_once() -> None:
    recorder = Recorder()
    first, moved = lag(START, 1_000_000), lag(START + timedelta(seconds=1), 3_000_000)
    state, _ = apply(State(), [first])
    recorder.readings([first], START)
    assert recorder.unwritten(state, START) == []
    state, _ = apply(state, [moved])
    assert recorder.readings([moved], moved.observed_at) == [], "held back by the spacing"
    entries = recorder.unwritten(state, moved.observed_at)
    assert [entry.kind for entry in entries] == [READING_KIND]
    assert entries[0].data["values"] == {"replay_lag_bytes": 3_000_000, "replay_lsn": "0/2DC6C0"}
    assert recorder.unwritten(state, moved.observed_at) == []


def test_a_late_older_reading_is_not_written() -> None:
    recorder = Recorder()
    recorder.readings([lag(START, 0)], START)
    assert recorder.readings([lag(START - timedelta(seconds=5), 0, Status.WARN)], START) == []


def state_of(*readings: Reading) -> State:
    return apply(State(), readings)[0]


def test_keyframe_comes_one_interval_after_the_first_tick_with_every_signal() -> None:
    recorder = Recorder(keyframe_seconds=60)
    state = state_of(lag(START, 0), dns(START, 30))
    assert recorder.tick(state, START) == []
    state = state_of(lag(START + timedelta(seconds=59), 0), dns(START + timedelta(seconds=59), 9))
    assert recorder.tick(state, START + timedelta(seconds=59)) == []
    entries = recorder.tick(state, START + timedelta(seconds=60))
    assert [entry.kind for entry in entries] == [KEYFRAME_KIND]
    signals = [reading["signal"] for reading in entries[0].data["readings"]]  # type: ignore[index,union-attr]
    assert signals == ["dns:app", "replication"]


def test_going_stale_and_fresh_again_are_written_once_each() -> None:
    recorder = Recorder(keyframe_seconds=3600)
    state = state_of(lag(START, 0))
    assert recorder.tick(state, START + timedelta(seconds=1)) == []
    went = recorder.tick(state, START + timedelta(seconds=9))
    again = recorder.tick(state, START + timedelta(seconds=10))
    fresh = recorder.tick(
        state_of(lag(START + timedelta(seconds=11), 0)), START + timedelta(seconds=11)
    )
    assert [(e.kind, e.data["stale"]) for e in went] == [(STALE_KIND, True)]
    assert again == []
    assert [(e.kind, e.data["stale"]) for e in fresh] == [(STALE_KIND, False)]


def write(tmp_path: Path, entries: list[tuple[float, JournalEntry]]) -> Path:
    clock = FrozenClock(START)
    header = session_header(
        cutover_name="night", config_digest="x", mode="live", environ={}, started_at=START
    )
    writer = JournalWriter.create(tmp_path, header=header, redactor=Redactor(), clock=clock)
    for seconds, entry in entries:
        clock.now = START + timedelta(seconds=seconds)
        writer.append(entry.kind, entry.data)
    writer.close()
    return writer.path


def recorded(seconds: float, reading: Reading) -> tuple[float, JournalEntry]:
    return seconds, Recorder().readings([reading], START)[0]


def test_the_timeline_shows_the_recorded_value_live_until_the_next_record(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            recorded(1, lag(START + timedelta(seconds=0.5), 5_000_000)),
            recorded(40, lag(START + timedelta(seconds=39.5), 0)),
        ],
    )
    timeline = Timeline.load(path)
    at = START + timedelta(seconds=30)
    between = timeline.state_at(at).latest("replication")
    assert between is not None
    assert between.number("replay_lag_bytes") == 5_000_000
    assert between.status_at(at) is Status.OK
    assert between.age_seconds(at) == 0.5
    after = timeline.state_at(START + timedelta(seconds=41)).latest("replication")
    assert after is not None and after.number("replay_lag_bytes") == 0
    assert timeline.state_at(START).latest("replication") is None


def test_the_timeline_counts_ttls_down_and_keeps_a_stale_signal_stale(tmp_path: Path) -> None:
    stale = JournalEntry(
        STALE_KIND,
        {"signal": "replication", "stale": True, "observed_at": (START).isoformat()},
    )
    path = write(
        tmp_path,
        [recorded(0, dns(START, 30)), recorded(0, lag(START, 0)), (9, stale)],
    )
    timeline = Timeline.load(path)
    at = START + timedelta(seconds=12)
    state = timeline.state_at(at)
    replication, resolver_view = state.latest("replication"), state.latest("dns:app")
    assert replication is not None and replication.status_at(at) is Status.STALE
    assert resolver_view is not None
    assert resolver_view.values["old_expires_in_seconds"] == 18
    assert resolver_view.values["resolvers"][0]["ttl"] == 18  # type: ignore[index]
    assert any("STALE" in event.text for event in timeline.events_until(at, 10))


def test_a_running_integrity_checks_progress_is_not_a_change_its_result_is() -> None:
    from cockpit.live.recording import values_differ

    running = {"running": True, "fraction_done": 0.1, "eta_seconds": 50.0, "result": None}
    further = {**running, "fraction_done": 0.6, "eta_seconds": 12.0, "table": "public.orders"}
    assert not values_differ(running, further)
    assert values_differ(running, {**running, "running": False, "result": {"status": "OK"}})
