"""When the next round of world measurements may start, so the budget never runs out.

Pure: the budget a service last reported, what a round (one measurement per record) costs, the
reserve never to be spent, and the configured spacing give the next round's time and, when it
is not the usual one, the reason in words. The cockpit slows down before the budget is gone
instead of failing when it is:

- held: a round would dip into the reserve; wait for the limit to reset (Globalping) or the
  balance to grow (RIPE Atlas, read again at the usual spacing);
- slowed: the rounds left before the reset, at the usual spacing, would not last until it: the
  rounds are spread evenly over the time left. Without a reset (credits), once fewer than
  LOW_ROUNDS rounds are left the spacing stretches by LOW_ROUNDS / rounds left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from cockpit.sources.dns_world_values import BudgetValues, Pace
from cockpit.units import coarse_duration_text

LOW_ROUNDS = 10
"""Without a reset time, fewer rounds than this left is "low": the spacing stretches."""


@dataclass(frozen=True)
class PaceDecision:
    """The next round's time, how it was paced, and why when not as configured."""

    pace: Pace
    measure_at: datetime
    reason: str | None = None


def _when(at: datetime) -> str:
    return f"{at:%H:%M:%S}Z"


def _amount(budget: BudgetValues, amount: int) -> str:
    return f"{amount} {budget.unit or 'left'}"


def next_round(
    budget: BudgetValues | None,
    reserve: int,
    last_round_at: datetime | None,
    every_seconds: float,
    now: datetime,
) -> PaceDecision:
    """When the next round may start, as the rules of the module docstring say."""
    usual = now if last_round_at is None else last_round_at + timedelta(seconds=every_seconds)
    if budget is None or budget.remaining is None:
        return PaceDecision("normal", usual)
    spendable = budget.remaining - reserve
    cost = budget.round_cost
    if spendable <= 0 or (cost is not None and spendable < cost):
        return _held(budget, reserve, usual, now)
    if cost is None or cost <= 0:
        return PaceDecision("normal", usual)
    return _spread(budget, spendable // cost, last_round_at, usual, every_seconds, now)


def _held(budget: BudgetValues, reserve: int, usual: datetime, now: datetime) -> PaceDecision:
    left = _amount(budget, budget.remaining or 0)
    cost = "" if budget.round_cost is None else f", a round costs {budget.round_cost}"
    kept = f"{left}{cost} and {reserve} are kept in reserve"
    if budget.reset_at is not None and budget.reset_at > now:
        after = f"measuring again after the reset at {_when(budget.reset_at)}"
        reason = f"measurements held: {kept}; {after}"
        return PaceDecision("held", max(usual, budget.reset_at), reason)
    reason = f"measurements held: {kept}; checking the balance again at {_when(usual)}"
    return PaceDecision("held", max(usual, now), reason)


def _spread(
    budget: BudgetValues,
    rounds_left: int,
    last_round_at: datetime | None,
    usual: datetime,
    every_seconds: float,
    now: datetime,
) -> PaceDecision:
    """The usual spacing, or a longer one that makes the rounds left last."""
    reset_at = budget.reset_at
    start = now if last_round_at is None else last_round_at
    if reset_at is not None and reset_at > now:
        until_reset = (reset_at - start).total_seconds()
        if rounds_left >= math.ceil(until_reset / every_seconds):
            return PaceDecision("normal", usual)
        spacing = until_reset / max(rounds_left, 1)
        until = f"last until the reset at {_when(reset_at)}"
    elif reset_at is None and rounds_left < LOW_ROUNDS:
        spacing = every_seconds * LOW_ROUNDS / max(rounds_left, 1)
        until = "last longer"
    else:
        return PaceDecision("normal", usual)
    measure_at = max(usual, start + timedelta(seconds=spacing))
    reason = (
        f"slowed down: a round every {coarse_duration_text(spacing)} instead of "
        f"{coarse_duration_text(every_seconds)}, so the {_amount(budget, budget.remaining or 0)} "
        f"({rounds_left} rounds) {until}"
    )
    return PaceDecision("slowed", measure_at, reason)
