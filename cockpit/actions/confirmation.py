"""The confirmation rule, in one place: what the operator must type for an action to run.

A one-way door takes its resource's name typed exactly; running past a blocked guard takes the
word OVERRIDE typed exactly and a reason. An action the config names under [approval] also
takes a second person's approval of this exact plan, or a break-glass (OVERRIDE and a reason)
when nobody else is there. The runner enforces this; the confirm screen and `cockpit act` only
collect the words (and may use the same checks to say early what is wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cockpit.actions.approval import Approval, ApprovalRequest, approval_problem, plan_digest
from cockpit.actions.model import ActionId, Plan
from cockpit.config import Config
from cockpit.rules.verdicts import GuardResult

OVERRIDE_WORD = "OVERRIDE"
OVERRIDE_PURPOSE = "run despite the blocked guards"
BREAK_GLASS_PURPOSE = "run without a second operator"


@dataclass(frozen=True)
class Confirmation:
    """What the operator typed, and what a second person gave.

    typed_word: the one-way door's name; override_word and override_reason: running past
    blocked guards; approval: a second operator's, as read from the approvals folder;
    break_glass_word and break_glass_reason: running without one.
    """

    typed_word: str | None = None
    override_word: str | None = None
    override_reason: str | None = None
    approval: Approval | None = None
    break_glass_word: str | None = None
    break_glass_reason: str | None = None

    @property
    def breaks_glass(self) -> bool:
        return self.break_glass_word is not None or self.break_glass_reason is not None


@dataclass(frozen=True)
class SecondPerson:
    """The two-person rule for one run: the operator's request (None: none made), judged at now."""

    request: ApprovalRequest | None
    now: datetime


def needs_second_person(config: Config, action_id: ActionId) -> bool:
    """Whether the config says a second person must approve this action before it runs."""
    return config.approval is not None and action_id.value in config.approval.actions


def override_word_problem(typed: str | None, purpose: str = OVERRIDE_PURPOSE) -> str | None:
    """None when OVERRIDE was typed exactly (nothing before or after it); else what to type."""
    if typed == OVERRIDE_WORD:
        return None
    return f"does not match: type {OVERRIDE_WORD} in capitals to {purpose}"


def break_glass_word_problem(typed: str | None) -> str | None:
    """None when OVERRIDE was typed exactly to run without a second operator."""
    return override_word_problem(typed, BREAK_GLASS_PURPOSE)


def reason_problem(reason: str | None) -> str | None:
    """None when a reason was given; an override or a break-glass without one is refused."""
    if reason is not None and reason.strip():
        return None
    return "a reason is required to override: it goes into the journal"


def name_problem(confirm_word: str, typed: str | None) -> str | None:
    """None when the one-way door's name was typed exactly; else what to type."""
    if typed is not None and typed.strip() == confirm_word:
        return None
    return f"does not match: type {confirm_word} exactly (case matters)"


def confirmation_problem(
    plan: Plan,
    blocked: Sequence[GuardResult],
    confirmation: Confirmation,
    second_person: SecondPerson | None = None,
) -> str | None:
    """Why this confirmation does not let the plan run (None: it does), worded for the operator.

    second_person: the two-person rule, when this action is under it.
    """
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
    if second_person is not None:
        return second_person_problem(plan, confirmation, second_person)
    return None


def second_person_problem(
    plan: Plan, confirmation: Confirmation, second_person: SecondPerson
) -> str | None:
    """None when a second operator approved exactly this plan in time, or the glass was broken."""
    if confirmation.breaks_glass:
        problem = break_glass_word_problem(confirmation.break_glass_word) or reason_problem(
            confirmation.break_glass_reason
        )
        return None if problem is None else f"not broken glass: {problem}"
    request, approval = second_person.request, confirmation.approval
    if request is None or request.digest != plan_digest(plan):
        return (
            "needs a second operator: no approval of this plan was asked for; confirm it again "
            f"to ask, or break glass ({OVERRIDE_WORD} and a reason) when nobody else is there"
        )
    if approval is None:
        return "waiting for a second operator: nobody has approved this plan yet"
    problem = approval_problem(request, approval, second_person.now)
    return None if problem is None else f"not approved: {problem}"
