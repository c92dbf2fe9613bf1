"""Replay playback without a screen: play, pause, speed, seek, jump, clamp, the end, follow."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.clock import FrozenClock
from cockpit.journal.chain import session_header
from cockpit.journal.reader import read_journal
from cockpit.journal.verify import verify_journal
from cockpit.journal.writer import JournalWriter
from cockpit.model import Reading, SignalKind, Status, reading_to_json
from cockpit.redact import Redactor
from cockpit.review.replay import (
    SPEEDS,
    Playback,
    ReplayController,
    advanced,
    at_live_edge,
    begin,
    chain_problem,
    faster,
    journal_kinds,
    moved_to,
    slower,
    speed_problem,
    stepped,
    toggled,
    writer_alive,
)
from cockpit.review.timeline import Timeline

START = datetime(2026, 11, 23, 0, 55, tzinfo=UTC)
END = START + timedelta(minutes=10)


def after(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def playing(position: datetime = START, speed: float = 1.0) -> Playback:
    return Playback(START, END, position, playing=True, speed=speed)


def write_journal(directory: Path) -> Path:
    """A ten-minute session: a reading, a note at 2 min, an action at 5 min, a reading at 10."""
    clock = FrozenClock(START)
    header = session_header(
        cutover_name="night", config_digest="x", mode="live", environ={}, started_at=START
    )
    writer = JournalWriter.create(directory, header=header, redactor=Redactor(), clock=clock)
    reading = Reading("replication", SignalKind.REPLICATION, Status.OK, START, {"lag": 1})
    writer.append("reading", reading_to_json(reading))
    clock.now = after(120)
    writer.append("note", {"text": "window open", "operator": "alice@bastion"})
    clock.now = after(300)
    writer.append(
        "action",
        {
            "action": "maintenance-on",
            "run": "1",
            "phase": "completed",
            "actor": "alice@bastion",
            "mode": "live",
            "outcome": "succeeded",
            "message": "maintenance page is up",
        },
    )
    clock.now = END
    traffic = Reading("traffic", SignalKind.TRAFFIC, Status.OK, END, {"weights": {"old": 100}})
    writer.append("reading", reading_to_json(traffic))
    writer.close()
    return writer.path


def controller_on(path: Path, clock: FrozenClock, *, speed: float = 1.0) -> ReplayController:
    return ReplayController(Timeline.load(path), clock, speed=speed, follow=False)


# --- the pure moves ------------------------------------------------------------------------------


def test_a_replay_begins_playing_at_the_first_record() -> None:
    playback = begin(START, END, speed=5.0, follow=False)
    assert (playback.position, playback.playing, playback.speed) == (START, True, 5.0)
    assert playback.progress == 0.0
    assert not playback.at_end


def test_a_follower_begins_at_the_live_edge() -> None:
    playback = begin(START, END, speed=1.0, follow=True)
    assert playback.live and playback.position == END
    assert not playback.at_end


@pytest.mark.parametrize("speed", [0.0, -2.0, math.nan, math.inf])
def test_a_speed_that_is_not_a_positive_number_is_refused_in_words(speed: float) -> None:
    problem = speed_problem(speed)
    assert problem is not None and "positive number" in problem
    with pytest.raises(ValueError, match="positive number"):
        begin(START, END, speed=speed, follow=False)


def test_playing_moves_by_elapsed_time_times_speed() -> None:
    assert advanced(playing(speed=5.0), 10.0).position == after(50)
    assert advanced(playing(speed=1.0), 2.5).position == after(2.5)


def test_paused_playback_does_not_move() -> None:
    paused = toggled(playing())
    assert not paused.playing
    assert advanced(paused, 100.0).position == START


def test_playback_pauses_at_the_end_of_the_journal() -> None:
    ended = advanced(playing(after(590), speed=10.0), 5.0)
    assert ended.position == END
    assert not ended.playing
    assert ended.at_end
    assert ended.progress == 1.0


def test_play_at_the_end_starts_again_from_the_first_record() -> None:
    again = toggled(advanced(playing(after(599)), 5.0))
    assert again.position == START and again.playing


def test_speeds_step_up_and_down_the_ladder_and_stop_at_its_ends() -> None:
    playback = playing(speed=1.0)
    seen = []
    for _ in range(len(SPEEDS) + 1):
        playback = faster(playback)
        seen.append(playback.speed)
    assert seen == [2.0, 5.0, 10.0, 30.0, 60.0, 60.0, 60.0]
    for _ in range(len(SPEEDS) + 1):
        playback = slower(playback)
    assert playback.speed == 1.0


def test_a_speed_off_the_ladder_steps_to_its_neighbours() -> None:
    assert faster(playing(speed=3.0)).speed == 5.0
    assert slower(playing(speed=3.0)).speed == 2.0
    assert slower(playing(speed=0.5)).speed == 0.5
    assert faster(playing(speed=0.5)).speed == 1.0


def test_moving_is_clamped_to_the_journal_and_keeps_play_state() -> None:
    assert moved_to(playing(), after(-30)).position == START
    assert moved_to(playing(), after(3600)).position == END
    assert not moved_to(playing(), after(3600)).playing
    assert stepped(playing(after(60)), -10).position == after(50)
    assert stepped(playing(after(60)), 60).playing


def test_a_live_follower_rides_now_or_the_newest_record_and_stops_when_the_writer_ended() -> None:
    live = begin(START, END, speed=1.0, follow=True)
    assert at_live_edge(live, after(900), ended=False).position == after(900)
    assert at_live_edge(live, after(-60), ended=False).position == END
    assert at_live_edge(live, after(900), ended=True).position == END


def test_a_follower_looking_back_goes_live_again_when_it_catches_up() -> None:
    looking_back = moved_to(toggled(begin(START, END, speed=1.0, follow=True)), after(590))
    assert not looking_back.live
    caught_up = advanced(toggled(looking_back), 30.0)
    assert caught_up.live and caught_up.position == END


# --- the controller: clock, timeline, marks, words ---------------------------------------------


def test_ticks_advance_by_the_injected_clock(tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    controller = controller_on(write_journal(tmp_path), clock, speed=10.0)
    clock.advance(4)
    assert controller.tick().position == after(40)
    controller.toggle()
    clock.advance(100)
    assert controller.tick().position == after(40)
    controller.toggle()
    assert controller.tick().position == after(40), "time spent paused must not count"
    clock.advance(1)
    assert controller.tick().position == after(50)


def test_ticks_stop_at_the_end_of_the_journal(tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    controller = controller_on(write_journal(tmp_path), clock, speed=60.0)
    clock.advance(3600)
    playback = controller.tick()
    assert playback.position == END and playback.at_end and not playback.playing
    assert controller.to_end() == "end of journal"


def test_seek_pauses_on_the_moment_and_clamps_with_a_reason(tmp_path: Path) -> None:
    controller = controller_on(write_journal(tmp_path), FrozenClock(START))
    assert controller.seek(after(200)) == "at 00:58:20Z"
    assert controller.playback.position == after(200) and not controller.playback.playing
    message = controller.seek(after(7200))
    assert controller.playback.position == END
    assert "after the journal's end" in message and "2026-11-23 01:05:00Z" in message
    message = controller.seek(after(-7200))
    assert controller.playback.position == START
    assert "before the journal's start" in message


def test_jumps_land_on_actions_and_notes_and_say_what_is_there(tmp_path: Path) -> None:
    path = write_journal(tmp_path)
    records = read_journal(path)[0]
    note_at = next(r.t for r in records if r.kind == "note")
    action_at = next(r.t for r in records if r.kind == "action")
    controller = controller_on(path, FrozenClock(START))
    assert controller.next_mark() == "00:57:00Z note by alice@bastion: window open"
    assert controller.playback.position == note_at and not controller.playback.playing
    assert "maintenance-on by alice@bastion: SUCCEEDED" in controller.next_mark()
    assert controller.playback.position == action_at
    assert controller.next_mark() == "no action or note after 01:00:00Z"
    assert controller.playback.position == action_at
    controller.previous_mark()
    assert controller.playback.position == note_at
    assert controller.previous_mark() == "no action or note before 00:57:00Z"
    following = controller.mark_hints()[1]
    assert following is not None and following.at == action_at


def test_speed_changes_say_when_the_ladder_ends(tmp_path: Path) -> None:
    controller = controller_on(write_journal(tmp_path), FrozenClock(START), speed=30.0)
    assert controller.faster() is None
    assert controller.faster() == "already at 60x, the fastest"
    controller.to_start()
    assert controller.playback.position == START


def test_a_follower_sees_new_records_and_the_end_record(tmp_path: Path) -> None:
    path = write_journal(tmp_path)
    records = read_journal(path)[0]
    timeline = Timeline()
    timeline.add(records[:3])
    assert not ReplayController(timeline, FrozenClock(START), speed=1, follow=True).session_ended
    clock = FrozenClock(after(3600))
    controller = ReplayController(timeline, clock, speed=1.0, follow=True)
    assert controller.playback.live and controller.playback.position == after(3600)
    assert controller.playback.end == records[2].t
    timeline.add(records[3:])
    controller.records_added()
    assert controller.playback.end == END
    assert controller.last_record_age() == 3000.0
    assert controller.session_ended
    assert controller.tick().position == END, "a closed journal's readings are not current"


def test_a_follower_seeking_past_the_newest_record_goes_back_to_live(tmp_path: Path) -> None:
    controller = ReplayController(
        Timeline.load(write_journal(tmp_path)), FrozenClock(after(3600)), speed=1.0, follow=True
    )
    controller.seek(after(60))
    assert not controller.playback.live and controller.playback.position == after(60)
    assert "back to live" in controller.seek(after(99999))
    assert controller.playback.live
    assert controller.playback.position == END, "the journal is closed: live stays on its end"


def test_the_chain_problem_names_the_line(tmp_path: Path) -> None:
    path = write_journal(tmp_path)
    assert chain_problem(verify_journal(path)) is None
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("window open", "window shut")
    path.write_text("".join(lines))
    assert chain_problem(verify_journal(path)) == (
        "hash chain broken at line 4: records after it cannot be trusted"
    )


def test_the_journal_kinds_are_the_kinds_it_holds_readings_of(tmp_path: Path) -> None:
    timeline = Timeline.load(write_journal(tmp_path))
    assert journal_kinds(timeline) == {SignalKind.REPLICATION, SignalKind.TRAFFIC}


def test_a_follower_stops_at_the_last_record_when_the_writer_is_gone(tmp_path: Path) -> None:
    records = read_journal(write_journal(tmp_path))[0]
    timeline = Timeline()
    timeline.add(records[:-1])
    clock = FrozenClock(after(3600))
    alive = {"writer": True}
    controller = ReplayController(
        timeline, clock, speed=1.0, follow=True, alive=lambda _: alive["writer"]
    )
    assert controller.tick().position == after(3600) and not controller.writer_gone
    alive["writer"] = False
    assert controller.writer_gone and not controller.session_ended
    assert controller.tick().position == END, "a dead writer's readings are not current"


def test_writer_alive_reads_the_pid_of_the_last_process_on_this_host() -> None:
    timeline = Timeline()
    assert writer_alive(timeline), "no header: nothing says it is gone"
    timeline.writer = (socket.gethostname(), os.getpid())
    assert writer_alive(timeline)
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    timeline.writer = (socket.gethostname(), int(finished.stdout))
    assert not writer_alive(timeline)
    timeline.writer = ("another-host", int(finished.stdout))
    assert writer_alive(timeline), "another host's process cannot be seen from here"
