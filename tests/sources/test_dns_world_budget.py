"""Pacing world measurements: the usual spacing, slowed so the budget lasts, held before it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.sources.dns_world_budget import next_round
from cockpit.sources.dns_world_values import BudgetValues

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
EVERY = 300.0


def budget_of_tests(
    remaining: int, reset_in: float | None = 1800, cost: int | None = 6
) -> BudgetValues:
    reset_at = None if reset_in is None else NOW + timedelta(seconds=reset_in)
    return BudgetValues("tests", remaining, 250, reset_at, None, cost)


def test_first_round_and_unknown_budget_go_at_once() -> None:
    assert next_round(None, 0, None, EVERY, NOW).measure_at == NOW
    later = next_round(None, 0, NOW, EVERY, NOW)
    assert (later.pace, later.measure_at, later.reason) == (
        "normal",
        NOW + timedelta(seconds=EVERY),
        None,
    )


def test_plenty_left_keeps_the_usual_spacing() -> None:
    decision = next_round(budget_of_tests(244), 25, NOW, EVERY, NOW)
    assert (decision.pace, decision.measure_at) == ("normal", NOW + timedelta(seconds=EVERY))


def test_too_little_for_every_round_until_the_reset_spreads_the_rounds_out() -> None:
    decision = next_round(budget_of_tests(40), 25, NOW, EVERY, NOW)
    assert decision.pace == "slowed"
    assert decision.measure_at == NOW + timedelta(seconds=900)
    assert decision.reason == (
        "slowed down: a round every 15m instead of 5m, so the 40 tests (2 rounds) last until "
        "the reset at 01:30:00Z"
    )


def test_a_round_that_would_dip_into_the_reserve_waits_for_the_reset() -> None:
    decision = next_round(budget_of_tests(28), 25, NOW, EVERY, NOW)
    assert decision.pace == "held"
    assert decision.measure_at == NOW + timedelta(seconds=1800)
    assert decision.reason == (
        "measurements held: 28 tests, a round costs 6 and 25 are kept in reserve; "
        "measuring again after the reset at 01:30:00Z"
    )


def test_credits_without_a_reset_stretch_when_few_rounds_are_left_and_hold_at_the_reserve() -> None:
    credits = BudgetValues("credits", 10_000 + 4 * 600, None, None, None, 600)
    slowed = next_round(credits, 10_000, NOW, 900, NOW)
    assert slowed.pace == "slowed"
    assert slowed.measure_at == NOW + timedelta(seconds=900 * 10 / 4)
    assert "(4 rounds) last longer" in (slowed.reason or "")
    held = next_round(BudgetValues("credits", 10_300, None, None, None, 600), 10_000, NOW, 900, NOW)
    assert held.pace == "held"
    assert held.measure_at == NOW + timedelta(seconds=900)
    assert held.reason == (
        "measurements held: 10300 credits, a round costs 600 and 10000 are kept in reserve; "
        "checking the balance again at 01:15:00Z"
    )


def test_an_unknown_round_cost_holds_only_at_the_reserve() -> None:
    unknown_cost = BudgetValues("credits", 10_300, None, None, None, None)
    assert next_round(unknown_cost, 10_000, None, 900, NOW).pace == "normal"
    assert next_round(unknown_cost, 10_300, None, 900, NOW).pace == "held"
