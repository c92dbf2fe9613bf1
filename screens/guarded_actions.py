"""How a guarded action goes on screen: its key, the confirm screen, the run and the outcome.

The live session decides and records; this only asks the operator and shows the answers, and
keeps the screen as it was at each step (planned, completed) for the postmortem.
"""

from __future__ import annotations

from functools import partial

from cockpit.actions.confirmation import Confirmation
from cockpit.actions.model import ActionId
from cockpit.actions.registry import ACTIONS, action
from cockpit.actions.runner import AwaitingApproval, Outcome, Prepared
from cockpit.deliberate_input import MonotonicClock
from cockpit.session.live import LiveSession, Notice, ScreenShot, ShiftBack
from screens.approval_wait import ApprovalWaitScreen, WaitAnswer
from screens.confirm_action import ConfirmActionScreen, ConfirmRequest
from screens.deliberate_keys import DeliberateKeysApp
from screens.screen_text import screen_text

READ_ONLY_REASON = (
    "this session was started with --read-only and holds no code that changes anything"
)


def read_only_refusal(title: str) -> str:
    """What an action key says in a read-only session."""
    return f"read-only: {title} cannot run here; {READ_ONLY_REASON}"


def confirm_request(
    prepared: Prepared, *, dry_run: bool, second_person: bool = False
) -> ConfirmRequest:
    """What the confirm screen asks about a prepared action."""
    return ConfirmRequest(
        title=prepared.spec.title,
        plan=prepared.plan,
        guards=prepared.guards,
        blocked=prepared.blocked,
        dry_run=dry_run,
        confirm_verb=prepared.plan.confirm_verb or prepared.spec.confirm_verb,
        second_person=second_person,
    )


class GuardedActionsApp(DeliberateKeysApp):
    """An app whose action keys go press → confirm screen → run, driving one live session."""

    def __init__(self, session: LiveSession, key_clock: MonotonicClock) -> None:
        super().__init__(key_clock)
        self.session = session
        self._dialog: ConfirmActionScreen | None = None

    def refresh_view(self) -> None:
        """Draws the session's view; the app that has the screen says how."""
        raise NotImplementedError

    def tell(self) -> None:
        """Says the session's notices; the app that has the screen says how."""
        raise NotImplementedError

    def notify_notice(self, notice: Notice) -> None:
        self.notify(notice.text, severity=notice.severity, timeout=notice.seconds, markup=False)

    def what_is_shown(self, screen_name: str = "cockpit") -> ScreenShot:
        """The screen as plain text, exactly as the operator sees it right now."""
        width, height = self.size
        return ScreenShot(screen_text(self), screen_name, width, height)

    def bind_actions(self) -> None:
        """Keys from the registry: each press runs its action, or read-only says why it cannot."""
        runner = self.session.runner
        if runner is None or not runner.actions:
            for spec in ACTIONS:
                refuse = f"refuse_read_only('{spec.action_id.value}')"
                self.bind(spec.key, refuse, description=spec.title, show=False)
            return
        for spec in runner.actions:
            self.bind(
                spec.key,
                f"press('{spec.action_id.value}')",
                description=spec.title,
                key_display=spec.key_label,
            )

    def action_refuse_read_only(self, action_id: str) -> None:
        """An action key in a read-only session: nothing runs, and the operator is told why."""
        title = action(ActionId(action_id)).title
        self.notify(read_only_refusal(title), severity="warning", timeout=8, markup=False)

    def _cancel_press(self, why: str) -> None:
        """A key reached a press whose confirm screen was not ready: it ends, nothing runs."""
        self.session.cancel_press(why)
        if self._dialog is not None:
            self._dialog.answer(None)

    def action_press(self, action_id: str, override: bool = False) -> None:
        """A pressed action key: at most one plan or action at a time, the rest say so."""
        refusal = self.session.start_press()
        if refusal is not None:
            self.notify_notice(refusal)
            return
        self.keys.press_started(self.session.title_of(ActionId(action_id)))
        self.run_worker(self._press(ActionId(action_id), override), group="actions")

    async def _press(self, action_id: ActionId, override: bool) -> None:
        prepared = await self.session.prepare(action_id, override=override)
        if isinstance(prepared, Outcome):
            self.keys.press_closed()
            self.show_outcome(prepared)
            return
        self.call_after_refresh(self._capture_action_screen, action_id, prepared.run_id, "planned")
        if self.session.early_cancel is not None:
            self._decided(prepared, None)
            return
        second_person = self.session.needs_second_person(prepared)
        request = confirm_request(
            prepared, dry_run=self.session.dry_run, second_person=second_person
        )
        self._dialog = ConfirmActionScreen(request, clock=self.keys.clock)
        self.push_screen(self._dialog, partial(self._decided, prepared))

    def _decided(self, prepared: Prepared, confirmation: Confirmation | None) -> None:
        """The confirm screen's answer; a cancel by an early key is journaled with its reason."""
        self._dialog = None
        self.keys.press_closed()
        cancelled = self.session.decided(prepared, confirmation)
        if cancelled is not None:
            self.show_outcome(cancelled)
        elif confirmation is not None and self.session.needs_second_person(prepared):
            self.run_worker(self._ask_second_person(prepared, confirmation), group="actions")
        elif confirmation is not None:
            self.run_worker(self._run(prepared, confirmation), group="actions")

    async def _run(self, prepared: Prepared, confirmation: Confirmation) -> None:
        self.show_outcome(await self.session.run(prepared, confirmation, self.refresh_view))

    async def _ask_second_person(self, prepared: Prepared, confirmation: Confirmation) -> None:
        """Confirmed, but a second operator must approve: the plan stays up while it waits."""
        waiting = await self.session.request_approval(prepared, confirmation)
        if isinstance(waiting, Outcome):
            self.show_outcome(waiting)
            return
        request = confirm_request(prepared, dry_run=self.session.dry_run, second_person=True)
        screen = ApprovalWaitScreen(request, waiting, self.session.check_approval)
        self.push_screen(screen, partial(self._second_person_answered, waiting))
        self.call_after_refresh(
            self._capture_action_screen, prepared.spec.action_id, prepared.run_id, "waiting"
        )

    def _second_person_answered(self, waiting: AwaitingApproval, answer: WaitAnswer) -> None:
        """Approved or glass broken: it runs (guards re-checked first); else the request ends."""
        if answer.confirmation is not None:
            self.run_worker(self._run(waiting.prepared, answer.confirmation), group="actions")
            return
        self.show_outcome(self.session.withdraw(waiting, answer.why, expired=answer.expired))

    def shift_back(self, order: ShiftBack) -> None:
        """Auto-abort's order, run like any action, its outcome shown."""
        self.run_worker(self._shift_back(order), group="actions")

    async def _shift_back(self, order: ShiftBack) -> None:
        self.show_outcome(await self.session.shift_back(order))

    def show_outcome(self, outcome: Outcome) -> None:
        """The result on screen and in the event log, worded as what is now true."""
        self.notify_notice(self.session.told(outcome))
        self.refresh_view()
        phase = "refused" if outcome.result == "refused" else "completed"
        self.call_after_refresh(
            self._capture_action_screen, outcome.action_id, outcome.run_id, phase
        )

    def _capture_action_screen(self, action_id: ActionId, run_id: str | None, phase: str) -> None:
        self.session.record_screen(
            self.what_is_shown(), "action", action=action_id.value, run=run_id, phase=phase
        )
        self.tell()
