"""The wait for a second operator: the plan stays on screen while the approvals folder is polled.

The operator has typed the name; the action runs once another person, logged in as a different
user, approves this exact plan with `cockpit approve`. Escape withdraws the request; OVERRIDE and
a reason break the glass when nobody else is there. The runner decides whether an approval
counts and journals every step; this screen shows the wait and collects the words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from cockpit.actions.approval import ApprovalCheck
from cockpit.actions.confirmation import (
    OVERRIDE_WORD,
    Confirmation,
    break_glass_word_problem,
    reason_problem,
)
from cockpit.actions.runner import AwaitingApproval
from cockpit.io.failures import describe_failure
from screens.confirm_action import AnswerField, ConfirmRequest, PlanDialog

POLL_SECONDS = 1.0
BREAK_GLASS_INPUT_ID = "break-glass-word"
BREAK_GLASS_REASON_ID = "break-glass-reason"
WITHDRAWN = "approval request withdrawn at the confirm screen"
KEYS = "ctrl+y = break glass and run · esc = withdraw · pgup/pgdn = scroll"

Check = Callable[[AwaitingApproval], Awaitable[ApprovalCheck]]


@dataclass(frozen=True)
class WaitAnswer:
    """How the wait ended: run (approved, or the glass broken) or not (withdrawn, expired)."""

    confirmation: Confirmation | None
    why: str = WITHDRAWN
    expired: bool = False


BREAK_GLASS_FIELDS = (
    AnswerField(
        BREAK_GLASS_INPUT_ID,
        f"nobody else there? type {OVERRIDE_WORD}:",
        "break glass: run without a second operator",
        break_glass_word_problem,
    ),
    AnswerField(BREAK_GLASS_REASON_ID, "reason (journaled):", "why it cannot wait", reason_problem),
)


class ApprovalWaitScreen(PlanDialog[WaitAnswer]):
    """The confirmed plan, waiting for a second operator's approval of exactly it.

    Checks the approvals folder every `poll_seconds` in a worker, so the screen never waits on
    the disk; dismisses with the approved confirmation as soon as one counts.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+y", "break_glass", "Break glass"),
        Binding("escape", "withdraw", "Withdraw", show=False),
    ]

    DEFAULT_CSS = """
    ApprovalWaitScreen #waiting { text-style: bold; color: $warning; }
    """

    READY_WORDS = "typed correctly: ctrl+y breaks the glass and runs it, esc withdraws"

    class Checked(Message):
        """What the approvals folder said at one poll."""

        def __init__(self, check: ApprovalCheck) -> None:
            super().__init__()
            self.check = check

    def __init__(
        self,
        request: ConfirmRequest,
        waiting: AwaitingApproval,
        check: Check,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__(request, BREAK_GLASS_FIELDS)
        self.waiting = waiting
        self._check = check
        self._poll_seconds = poll_seconds
        self._checking = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="-danger") as dialog:
            dialog.border_title = f"{self.request.title}: waiting for a second operator"
            with Vertical(id="answer"):
                yield Static(self.waiting.words(), id="waiting", markup=False)
                yield Static("", id="problem", markup=False)
                yield from self.field_rows()
                yield Static(KEYS, id="keys")
            with VerticalScroll(id="plan"):
                yield from self.plan_statics()

    def on_mount(self) -> None:
        self.set_interval(self._poll_seconds, self._poll)
        self.call_after_refresh(self._poll)

    def _poll(self) -> None:
        """One look at the approvals folder, unless the last one is still out."""
        if self.answered or self._checking or self.waiting.unshared is not None:
            return
        self._checking = True
        self.run_worker(self._look(), group="approval-check")

    async def _look(self) -> None:
        try:
            check = await self._check(self.waiting)
        except Exception as error:
            check = ApprovalCheck(
                problem=f"cannot check for an approval: {describe_failure(error)}"
            )
        self.post_message(self.Checked(check))

    def on_approval_wait_screen_checked(self, message: Checked) -> None:
        """An approval that counts runs the action; a lapsed request ends the wait."""
        self._checking = False
        check = message.check
        if check.approval is not None:
            self.answer(WaitAnswer(self.waiting.approved(check.approval)))
        elif check.expired:
            why = f"{check.problem}: press the action again to ask anew"
            self.answer(WaitAnswer(None, why, expired=True))
        elif check.problem is not None:
            self.show_problem(f"not counted: {check.problem}")

    def action_break_glass(self) -> None:
        """ctrl+y: runs without a second operator once OVERRIDE and a reason are typed."""
        values = self._checked_values()
        if values is not None:
            confirmation = self.waiting.broken_glass(
                values[BREAK_GLASS_INPUT_ID], values[BREAK_GLASS_REASON_ID].strip()
            )
            self.answer(WaitAnswer(confirmation))

    def action_withdraw(self) -> None:
        self.answer(WaitAnswer(None))
