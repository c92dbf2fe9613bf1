"""The synthetic session journal: intact, complete, faithful to its generator, and small."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from benchmarks.synthetic_session import (
    SCREEN_HEIGHT,
    SCREEN_WIDTH,
    SyntheticSession,
    generate_synthetic_session,
    write_synthetic_session,
)
from cockpit.journal.reader import read_journal
from cockpit.journal.verify import verify_journal
from cockpit.live.recording import VALUE_CHANGE_SPACING_SECONDS, values_differ
from cockpit.live.state import State
from cockpit.model import Reading, Status
from cockpit.review.timeline import Timeline

HOURS = 0.25
RESOLVERS = 5
DNS_RECORDS = 2
EXPECTED_SIGNALS = {
    "replication",
    "dns:app.cutover.test",
    "dns:api.cutover.test",
    "errors:access_log:old",
    "errors:access_log:new",
    "errors:cloudwatch:old",
    "errors:cloudwatch:new",
    "targets:tg-old",
    "targets:tg-new",
    "targets:app-old",
    "targets:app-new",
    "traffic",
    "maintenance",
}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSession:
    return generate_synthetic_session(
        tmp_path_factory.mktemp("synthetic"),
        hours=HOURS,
        resolvers=RESOLVERS,
        dns_records=DNS_RECORDS,
    )


@pytest.fixture(scope="module")
def timeline(session: SyntheticSession) -> Timeline:
    return Timeline.load(session.path)


def test_the_journal_verifies_intact_and_closed(session: SyntheticSession) -> None:
    verification = verify_journal(session.path)

    assert verification.intact, verification.summary()
    assert verification.ended_cleanly
    assert verification.header is not None
    assert verification.header["operator"] == "alice@bastion-1"


def test_the_timeline_has_every_signal_marks_and_screens(
    session: SyntheticSession, timeline: Timeline
) -> None:
    assert set(timeline.signal_ids()) == EXPECTED_SIGNALS == set(session.signal_ids)
    assert {mark.kind for mark in timeline.marks} == {"action", "note"}
    assert timeline.operators == ["alice@bastion-1", "auto-abort"]
    phases = {(screen.action, screen.phase) for screen in timeline.screens}
    assert ("promote", "planned") in phases
    assert ("promote", "completed") in phases
    for screen in timeline.screens:
        lines = screen.text.split("\n")
        assert len(lines) == SCREEN_HEIGHT
        assert {len(line) for line in lines} == {SCREEN_WIDTH}


def test_the_story_is_journaled_as_the_runner_would(
    session: SyntheticSession, timeline: Timeline
) -> None:
    completed = [
        (record.data["action"], record.data["actor"], record.data["outcome"])
        for record in timeline.records
        if record.kind == "action" and record.data["phase"] == "completed"
    ]
    kinds = {record.kind for record in timeline.records}

    assert ("maintenance-on", "alice@bastion-1", "succeeded") in completed
    assert ("promote", "alice@bastion-1", "succeeded") in completed
    assert ("weight-down", "auto-abort", "succeeded") in completed
    assert ("weight-down", "alice@bastion-1", "succeeded") in completed
    assert ("weight-up", "alice@bastion-1", "failed") in completed
    assert [a for a, _, outcome in completed if outcome == "succeeded"].count("weight-up") == 8
    assert {"header", "baseline", "keyframe", "stale", "status", "guard", "end"} <= kinds
    final_weights = _latest(timeline.state_at(session.end), "traffic").values["weights"]
    assert final_weights == {"old": 0.0, "new": 100.0}


def test_state_at_shows_what_the_generator_held(
    session: SyntheticSession, timeline: Timeline
) -> None:
    assert len(session.snapshots) == 2
    for snapshot in session.snapshots:
        replayed = timeline.state_at(snapshot.at)
        assert set(replayed.tracks) == set(snapshot.state.tracks)
        for truth in snapshot.state.readings():
            shown = replayed.latest(truth.signal_id)
            assert shown is not None
            assert shown.status_at(snapshot.at) is truth.status_at(snapshot.at), truth.signal_id
            assert not values_differ(truth.values, shown.values) or _recently_written(
                timeline, truth
            ), truth.signal_id


def test_state_at_shows_the_calm_values_exactly(
    session: SyntheticSession, timeline: Timeline
) -> None:
    [middle] = [s for s in session.snapshots if s.at != session.stale_at]
    replayed = timeline.state_at(middle.at)
    for signal_id, name in (("traffic", "weights"), ("maintenance", "on")):
        shown = _latest(replayed, signal_id).values[name]
        assert shown == _latest(middle.state, signal_id).values[name]
    assert _latest(replayed, "replication").values["promoted"] is True


def test_the_stale_episode_replays_as_stale(session: SyntheticSession, timeline: Timeline) -> None:
    [stale_moment] = [s for s in session.snapshots if s.at == session.stale_at]
    replayed = timeline.state_at(stale_moment.at)

    assert replayed.status_of("errors:cloudwatch:new", stale_moment.at) is Status.STALE
    assert stale_moment.state.status_of("errors:cloudwatch:new", stale_moment.at) is Status.STALE
    assert replayed.status_of("errors:access_log:new", stale_moment.at) is not Status.STALE


def test_the_recorder_keeps_a_small_share_of_the_polls(session: SyntheticSession) -> None:
    records, _ = read_journal(session.path)
    readings = sum(1 for record in records if record.kind in ("reading", "keyframe"))
    polls = len(session.signal_ids) * HOURS * 3600

    assert readings < polls / 10


def test_the_same_seed_writes_the_same_journal(tmp_path: Path) -> None:
    def written(name: str, seed: int) -> bytes:
        path = write_synthetic_session(tmp_path / name, hours=0.1, seed=seed, resolvers=2)
        return path.read_bytes()

    first = written("first", 7)

    assert written("again", 7) == first
    assert written("other", 8) != first


def test_too_short_a_session_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"at least 0\.1 hours"):
        write_synthetic_session(tmp_path, hours=0.05)


def _latest(state: State, signal_id: str) -> Reading:
    reading = state.latest(signal_id)
    assert reading is not None, f"no {signal_id} reading"
    return reading


def _recently_written(timeline: Timeline, truth: Reading) -> bool:
    """Whether the recorder wrote this signal so recently that a newer change may wait."""
    last_poll = truth.observed_at + timedelta(seconds=1)
    since = last_poll - timedelta(seconds=VALUE_CHANGE_SPACING_SECONDS + 1)
    return any(since <= at <= last_poll for at, _ in timeline.raw_readings(truth.signal_id))
