"""`cockpit approve`: a second operator approves the one-way door another operator is holding.

It shows the request as the operator's cockpit wrote it (the plan, the guards and their facts,
every string made harmless), refuses the person who asked, and writes an approval of exactly that
plan's digest with the approver's reason. The operator's session journals it when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from cockpit.actions.approval import (
    APPROVE_WORD,
    TEXT_CHARS,
    ApprovalRequest,
    ApprovalUnavailable,
    Person,
    clock_time,
    current_person,
    pending_requests,
    valid_run_id,
)
from cockpit.actions.approving import (
    ApprovalNotWritten,
    ApprovalRefused,
    approve_request,
    request_lines,
    requester_refusal,
)
from cockpit.clock import Clock, system_clock
from cockpit.config import Config, ConfigError, load_config
from cockpit.exit_codes import EXIT_COULD_NOT_RUN, EXIT_NOT_DONE, EXIT_OK
from cockpit.outside import outside_text
from cockpit.visible import visible

EXIT_APPROVED = EXIT_OK
EXIT_NOT_APPROVED = EXIT_NOT_DONE
EXIT_CANNOT_RUN = EXIT_COULD_NOT_RUN

Ask = Callable[[str], str]
Say = Callable[[str], None]


class _Refused(Exception):
    """Nothing was approved; the message says why and what to do."""


class _CannotRun(Exception):
    """The command could not do its work here (config, folder, permissions); says how to fix."""


def run_approve(
    config_path: Path,
    *,
    run_id: str | None = None,
    ask: Ask = input,
    say: Say = print,
    clock: Clock = system_clock,
    person: Person | None = None,
) -> int:
    """0 when an approval was written, 1 when nothing was pending or it was refused, 3 when the
    command could not run (bad config, an unusable folder)."""

    def say_visibly(text: str) -> None:
        say(visible(text, multiline=True))

    try:
        request, config = _chosen_request(config_path, run_id, say_visibly, clock)
        _say_request(request, say_visibly, clock())
        approver = person or current_person()
        _refuse_requester(request, approver)
        reason = _approver_words(ask)
        _approve(config, request, approver, reason, clock)
    except _Refused as refused:
        say_visibly(f"cockpit approve: not approved: {refused}")
        return EXIT_NOT_APPROVED
    except _CannotRun as problem:
        say_visibly(f"cockpit approve: {problem}")
        return EXIT_CANNOT_RUN
    say_visibly(
        f"approved {request.title} (run {request.run_id}) as {approver.words()}: the operator's "
        "cockpit runs it once it sees the approval, after checking the guards again"
    )
    return EXIT_APPROVED


def _chosen_request(
    config_path: Path, run_id: str | None, say: Say, clock: Clock
) -> tuple[ApprovalRequest, Config]:
    """The pending request to approve, and the config that says where they are."""
    config = _approval_config(config_path)
    if run_id is not None and not valid_run_id(run_id):
        raise _CannotRun(f"{outside_text(run_id, 80)!r} is not a run id (letters, digits, dashes)")
    try:
        pending = pending_requests(config.approvals_dir, clock())
    except ApprovalUnavailable as error:
        raise _CannotRun(str(error)) from None
    for note in pending.skipped:
        say(f"ignored: {note}")
    if pending.expired:
        say(f"ignored: {pending.expired} expired request(s)")
    return _one_of(pending.requests, run_id, config.approvals_dir, say), config


def _approval_config(config_path: Path) -> Config:
    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise _CannotRun(error.report()) from None
    if config.approval is None:
        raise _CannotRun(
            f"{config_path} has no [approval] section: no action waits for a second operator"
        )
    return config


def _one_of(
    requests: Sequence[ApprovalRequest], run_id: str | None, directory: Path, say: Say
) -> ApprovalRequest:
    """The request named by `run_id`, or the only one pending; else _Refused with the list."""
    chosen = [r for r in requests if run_id is None or r.run_id == run_id]
    if len(chosen) == 1:
        return chosen[0]
    for request in requests:
        say(
            f"  run {request.run_id}: {request.title} asked by {request.requester.words()} "
            f"at {clock_time(request.requested_at)}, expires {clock_time(request.expires_at)}"
        )
    if chosen:
        raise _Refused(f"{len(chosen)} requests are pending: choose one with --run RUN_ID")
    if run_id is not None:
        raise _Refused(f"no pending request for run {run_id} in {directory}")
    raise _Refused(f"nothing to approve: no pending request in {directory}")


def _say_request(request: ApprovalRequest, say: Say, now: datetime) -> None:
    for line in request_lines(request, now):
        say(line)


def _refuse_requester(request: ApprovalRequest, approver: Person) -> None:
    refusal = requester_refusal(request, approver)
    if refusal is not None:
        raise _Refused(refusal)


def _approver_words(ask: Ask) -> str:
    """The typed APPROVE and the reason; _Refused when either is missing."""
    word = _answer(ask, f"type {APPROVE_WORD} to approve exactly this plan: ")
    if word != APPROVE_WORD:
        raise _Refused(f"type {APPROVE_WORD} in capitals to approve (nothing was written)")
    reason = _answer(ask, "reason (journaled with your name): ")
    if not reason:
        raise _Refused("a reason is required: it goes into the operator's journal")
    return outside_text(reason, TEXT_CHARS)


def _answer(ask: Ask, prompt: str) -> str:
    try:
        return ask(prompt).strip()
    except (EOFError, KeyboardInterrupt):
        return ""


def _approve(
    config: Config, shown: ApprovalRequest, approver: Person, reason: str, clock: Clock
) -> None:
    try:
        approve_request(config.approvals_dir, shown, approver, reason, clock)
    except ApprovalRefused as refused:
        raise _Refused(
            str(refused).replace("look at it again", "run cockpit approve again")
        ) from None
    except ApprovalNotWritten as problem:
        raise _CannotRun(str(problem)) from None
