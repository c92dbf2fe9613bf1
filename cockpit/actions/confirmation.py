"""The confirmation rule, in one place: what the operator must type for an action to run.

A one-way door takes its resource's name typed exactly; running past a blocked guard takes the
word OVERRIDE typed exactly and a reason. The runner enforces this; the confirm screen and
`cockpit act` only collect the words (and may use the same checks to say early what is wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cockpit.actions.model import Plan
from cockpit.rules.verdicts import GuardResult

OVERRIDE_WORD = "OVERRIDE"


@dataclass(frozen=True)
class Confirmation:
    """What the operator typed: the one-way door's name, and an override's word and reason."""

    typed_word: str | None = None
    override_word: str | None = None
    override_reason: str | None = None


def override_word_problem(typed: str | None) -> str | None:
    """None when OVERRIDE was typed exactly (nothing before or after it); else what to type."""
    if typed == OVERRIDE_WORD:
        return None
    return f"does not match: type {OVERRIDE_WORD} in capitals to run despite the blocked guards"


def reason_problem(reason: str | None) -> str | None:
    """None when a reason was given; an override without one is refused."""
    if reason is not None and reason.strip():
        return None
    return "a reason is required to override: it goes into the journal"


def name_problem(confirm_word: str, typed: str | None) -> str | None:
    """None when the one-way door's name was typed exactly; else what to type."""
    if typed is not None and typed.strip() == confirm_word:
        return None
    return f"does not match: type {confirm_word} exactly (case matters)"


def confirmation_problem(
    plan: Plan, blocked: Sequence[GuardResult], confirmation: Confirmation
) -> str | None:
    """Why this confirmation does not let the plan run (None: it does), worded for the operator."""
    if plan.confirm_word is not None:
        problem = name_problem(plan.confirm_word, confirmation.typed_word)
        if problem:
            return f"not confirmed: {problem}"
    if blocked:
        problem = override_word_problem(confirmation.override_word) or reason_problem(
            confirmation.override_reason
        )
        if problem:
            return f"not overridden: {problem}"
    return None
