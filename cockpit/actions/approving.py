"""Approving a pending one-way door, wherever the second operator does it: `cockpit approve` in
a shell, or key A in the follow view. Both show the request the same way and write the
approval through the same checks, so neither can approve what the other would refuse."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cockpit.actions.approval import (
    ApprovalRequest,
    NotAnApproval,
    Person,
    approval_of,
    clock_time,
    read_request,
    request_path,
    uid_words,
    write_approval,
)
from cockpit.actions.model import Plan
from cockpit.clock import Clock
from cockpit.io.failures import describe_failure
from cockpit.rules.verdicts import GuardResult
from cockpit.units import age_text


class ApprovalRefused(Exception):
    """Nothing was approved; the message says why and what to do."""


class ApprovalNotWritten(Exception):
    """The approval could not be written here (folder, permissions); says how to fix."""


def plan_lines(plan: Plan, guards: tuple[GuardResult, ...], *, dry_run: bool) -> list[str]:
    """The plan and the guard facts as plain lines, as the confirm screen shows them."""
    lines = [("DRY RUN (nothing will change): " if dry_run else "") + plan.summary]
    if plan.one_way:
        lines.append("ONE-WAY DOOR: this cannot be undone")
    lines += [f"  change: {change.sentence()}" for change in plan.changes]
    lines += [f"  call:   {call}" for call in plan.calls]
    lines += [f"  note:   {note}" for note in plan.notes]
    lines += guard_lines(guards)
    return lines


def guard_lines(guards: tuple[GuardResult, ...]) -> list[str]:
    lines = []
    for guard in guards:
        verdict = "ok     " if guard.passed else "BLOCKED"
        lines.append(
            f"  guard {verdict} {guard.title}" + (f": {guard.reason}" if guard.reason else "")
        )
        for fact in guard.facts:
            age = "" if fact.age_seconds is None else f" ({age_text(fact.age_seconds)} ago)"
            lines.append(f"          {fact.label}: {fact.value}{age}")
    return lines


def request_lines(request: ApprovalRequest, now: datetime) -> list[str]:
    """The request as its operator's cockpit wrote it: who asked, until when, the plan, guards."""
    minutes_left = max(0.0, (request.expires_at - now).total_seconds() / 60)
    return [
        f"{request.cutover}: {request.title}",
        f"asked by {request.requester.words()} as {request.operator} at "
        f"{clock_time(request.requested_at)}; expires {clock_time(request.expires_at)} "
        f"(in {minutes_left:.0f} min)",
        f"run {request.run_id}, plan digest {request.digest}",
        *plan_lines(request.shown_plan(), request.shown_guards(), dry_run=request.dry_run),
    ]


def requester_refusal(request: ApprovalRequest, approver: Person) -> str | None:
    """Why `approver` may not approve this request (they asked for it, or the file is not its
    requester's own); None when they may."""
    requester = request.requester
    if approver.uid == requester.uid or approver.name == requester.name:
        return (
            f"you ({approver.words()}) asked for this approval: a second person, logged in as "
            "another user, must approve it"
        )
    if request.owner_uid != requester.uid:
        return (
            f"the request file belongs to {uid_words(request.owner_uid)} but names "
            f"{requester.words()}: it is not that operator's request; tell them and approve nothing"
        )
    return None


def approve_request(
    directory: Path, shown: ApprovalRequest, approver: Person, reason: str, clock: Clock
) -> None:
    """Writes the approval, once the request is still the one shown and still open.

    Raises ApprovalRefused (withdrawn, changed, expired, the requester) or ApprovalNotWritten.
    """
    try:
        current = read_request(request_path(directory, shown.run_id))
    except FileNotFoundError:
        raise ApprovalRefused("the operator withdrew the request while you read it") from None
    except (NotAnApproval, OSError) as error:
        raise ApprovalRefused(f"the request can no longer be read: {error}") from None
    refusal = requester_refusal(current, approver)
    if refusal is not None:
        raise ApprovalRefused(refusal)
    if current.digest != shown.digest:
        raise ApprovalRefused("the plan changed while you read it: look at it again")
    if current.expired(clock()):
        raise ApprovalRefused(f"the request expired at {clock_time(current.expires_at)}")
    try:
        write_approval(directory, approval_of(current, approver, reason, clock()))
    except OSError as error:
        raise ApprovalNotWritten(
            f"cannot write the approval into {directory}: {describe_failure(error)}: are you in "
            "the cutover's group? (id -nG)"
        ) from None
