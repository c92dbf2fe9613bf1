"""Key timing: an action key after a pause counts; keys at typing speed, or while its confirm
screen opens, never run anything."""

from __future__ import annotations

import pytest

from cockpit.deliberate_input import (
    QUIET_BEFORE_SECONDS,
    SETTLE_SECONDS,
    KeyJudge,
    Verdict,
    settle_reason,
    typing_reason,
)
from tests.key_timing import PAUSE_SECONDS, KeyClock

TITLE = "Maintenance on"


def judge_at(start: float = 1000.0) -> tuple[KeyJudge, KeyClock]:
    clock = KeyClock(start)
    return KeyJudge(clock), clock


def typed(judge: KeyJudge, clock: KeyClock, text: str, gap: float) -> list[Verdict]:
    """Each character of `text` as a key, `gap` seconds apart; every key counts as deliberate."""
    verdicts = []
    for character in text:
        clock.advance(gap)
        verdicts.append(judge.arrived(character, deliberate=character))
    return verdicts


# --- the quiet time before a deliberate key ----------------------------------------------------


def test_the_first_key_of_a_session_is_taken() -> None:
    assert typing_reason("m", 5.0, []) is None


def test_a_key_after_the_quiet_time_is_taken() -> None:
    assert typing_reason("m", 10.0, [9.0, 10.0 - QUIET_BEFORE_SECONDS - 0.001]) is None


def test_a_key_inside_the_quiet_time_is_typing_and_says_how_to_press_it() -> None:
    reason = typing_reason("m", 10.0, [8.5, 9.2, 9.4, 9.6, 9.85])
    assert reason == (
        "m ignored: keys are arriving like typing (5 in the last second); "
        "if you meant it, pause and press m again"
    )


def test_typing_mysql_takes_none_of_its_letters() -> None:
    judge, clock = judge_at()
    judge.arrived("enter")
    verdicts = typed(judge, clock, "mysql", gap=0.15)
    assert [v.deliver for v in verdicts] == [False] * 5
    assert all(v.ignored and "keys are arriving like typing" in v.ignored for v in verdicts)


def test_a_key_after_a_pause_in_typing_is_taken() -> None:
    judge, clock = judge_at()
    typed(judge, clock, "ls -l", gap=0.1)
    clock.advance(PAUSE_SECONDS)
    assert judge.arrived("m", deliberate="m") == Verdict(deliver=True)


def test_an_ignored_key_counts_as_typing_for_the_next() -> None:
    judge, clock = judge_at()
    judge.arrived("x")
    clock.advance(0.2)
    assert not judge.arrived("m", deliberate="m").deliver
    clock.advance(QUIET_BEFORE_SECONDS - 0.1)
    assert not judge.arrived("m", deliberate="m").deliver


def test_keys_that_are_not_deliberate_always_go_through() -> None:
    judge, _ = judge_at()
    verdicts = [judge.arrived(key) for key in "psql -c"]
    assert verdicts == [Verdict(deliver=True)] * 7


# --- a press, from the key to the settled confirm screen ---------------------------------------


def test_a_key_while_the_plan_is_prepared_cancels_the_press_as_typing() -> None:
    judge, clock = judge_at()
    judge.press_started(TITLE)
    clock.advance(0.15)
    verdict = judge.arrived("y")
    assert verdict == Verdict(
        deliver=False,
        cancels="typing detected while the Maintenance on plan opened: cancelled, nothing run",
    )
    assert judge.press is None


def test_a_key_in_the_settle_time_cancels_and_is_not_delivered() -> None:
    judge, clock = judge_at()
    judge.press_started(TITLE)
    clock.advance(0.3)
    judge.dialog_shown(clock())
    clock.advance(SETTLE_SECONDS - 0.01)
    verdict = judge.arrived("ctrl+y")
    assert not verdict.deliver
    assert verdict.cancels is not None and "typing detected" in verdict.cancels


def test_escape_before_the_screen_settles_cancels_without_calling_it_typing() -> None:
    judge, clock = judge_at()
    judge.press_started(TITLE)
    clock.advance(0.2)
    verdict = judge.arrived("escape")
    assert not verdict.deliver
    assert verdict.cancels is not None and "escape" in verdict.cancels
    assert "typing" not in verdict.cancels


def test_keys_reach_a_settled_confirm_screen() -> None:
    judge, clock = judge_at()
    judge.press_started(TITLE)
    clock.advance(0.4)
    judge.dialog_shown(clock())
    clock.advance(SETTLE_SECONDS)
    assert judge.arrived("ctrl+y") == Verdict(deliver=True)
    assert judge.press is not None


def test_after_a_cancel_the_rest_of_the_typing_is_judged_on_its_own() -> None:
    judge, clock = judge_at()
    judge.press_started(TITLE)
    clock.advance(0.15)
    assert judge.arrived("y").cancels is not None
    clock.advance(0.15)
    assert judge.arrived("s") == Verdict(deliver=True)
    clock.advance(0.15)
    assert judge.arrived("q", deliberate="q").ignored is not None


def test_a_closed_press_no_longer_catches_keys() -> None:
    judge, clock = judge_at()
    judge.press_started(TITLE)
    judge.press_closed()
    clock.advance(0.1)
    assert judge.arrived("x") == Verdict(deliver=True)


def test_a_screen_shown_without_a_press_changes_nothing() -> None:
    judge, clock = judge_at()
    judge.dialog_shown(clock())
    assert judge.press is None


# --- the settle time ---------------------------------------------------------------------------


def test_a_screen_not_yet_shown_takes_no_answer() -> None:
    assert settle_reason(100.0, None) == "the confirm screen is not on screen yet"


@pytest.mark.parametrize("after", [0.0, 0.5, SETTLE_SECONDS - 0.001])
def test_a_screen_takes_no_answer_in_its_settle_time(after: float) -> None:
    reason = settle_reason(100.0 + after, 100.0)
    assert reason is not None and reason.startswith("wait ")


@pytest.mark.parametrize("after", [SETTLE_SECONDS, SETTLE_SECONDS + 5.0])
def test_a_screen_takes_answers_once_settled(after: float) -> None:
    assert settle_reason(100.0 + after, 100.0) is None
