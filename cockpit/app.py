"""The composition root: sources, poller, live session and screens meet here and nowhere else."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import ClassVar

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from cockpit.actions.confirmation import Confirmation
from cockpit.actions.model import ActionId
from cockpit.actions.runner import ActionRunner, Outcome, Prepared, Refresh
from cockpit.clock import Clock, system_clock
from cockpit.config import Config
from cockpit.deliberate_input import MonotonicClock
from cockpit.journal.writer import JournalWriter
from cockpit.live.state import State
from cockpit.model import Reading
from cockpit.redact import Redactor
from cockpit.session.live import LiveSession, Notice, ScreenShot, ShiftBack
from cockpit.session.polling import SessionSources, SourcesOrMaker
from screens.cockpit_commands import action_commands, key_help, panel_commands
from screens.cockpit_screen import CockpitScreen
from screens.confirm_action import ConfirmActionScreen, ConfirmRequest
from screens.confirm_quit import ConfirmQuitScreen
from screens.deliberate_keys import DeliberateKeysApp
from screens.help_screen import HelpScreen
from screens.note_screen import NoteScreen
from screens.screen_text import screen_text

NOTE_TITLE = "note"
NOTE_DROPPED = "keys arrived as the note opened (typing into the wrong pane?): note dropped"


class CockpitApp(DeliberateKeysApp):
    """The cockpit's keys, screens and drawing, driving one live session."""

    TITLE = "cutover-cockpit"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+c", "request_quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("n", "note", "Note"),
        Binding("c", "capture_screen", "Save screen"),
    ]

    def __init__(
        self,
        *,
        config: Config,
        sources: SourcesOrMaker,
        clock: Clock = system_clock,
        mode: str = "LIVE",
        journal: JournalWriter | None = None,
        operator: str = "",
        poll: bool = True,
        redactor: Redactor | None = None,
        actions: Callable[[Refresh], ActionRunner] | None = None,
        key_clock: MonotonicClock = time.monotonic,
    ) -> None:
        super().__init__(key_clock)
        self.config = config
        self.clock = clock
        self.session = LiveSession(
            config=config,
            clock=clock,
            journal=journal,
            redactor=redactor or Redactor(),
            operator=operator,
            actions=actions,
            refresh=self.refresh_now,
        )
        self.sources = SessionSources(sources, clock)
        self._poll = poll
        self._dialog: ConfirmActionScreen | None = None
        self._note: NoteScreen | None = None
        self.cockpit = CockpitScreen(
            cutover_name=config.cutover.name,
            mode=mode,
            operator=operator,
            journal_path=str(journal.path) if journal else "",
        )

    def on_mount(self) -> None:
        self._bind_actions()
        self.push_screen(self.cockpit)
        self.set_interval(self.config.cutover.refresh_seconds, self.refresh_view)
        if self._poll:
            self.call_after_refresh(self._start_polling)

    def _start_polling(self) -> None:
        """Builds the sources after the first frame is drawn, so the screen appears at once."""
        self.sources.start(self.receive_readings)
        if self.session.runner is not None:
            self.run_worker(self._reconcile(), group="actions")

    async def _reconcile(self) -> None:
        """Actions a dead process left unfinished: read what is true now, say it, record it."""
        for outcome in await self.session.reconcile():
            self._show_outcome(outcome)

    async def on_unmount(self) -> None:
        await self.sources.stop()

    def receive_readings(self, readings: list[Reading]) -> None:
        """New readings into the session, then onto the screen."""
        self.session.receive(readings)
        self.refresh_view()

    async def refresh_now(self) -> State:
        """One fresh poll of every source, folded into the state: guards re-check on this."""
        self.receive_readings(await self.sources.poll_once())
        return self.session.state

    def refresh_view(self) -> None:
        """One tick of the session (which may order a shift back), drawn, and its notices said."""
        shift_back = self.session.refresh()
        if shift_back is not None:
            self.run_worker(self._shift_back(shift_back), group="actions")
        self._tell()
        if self.cockpit.is_ready:
            self.cockpit.show(self.session.view(self.clock()))

    def _tell(self) -> None:
        """The session's notices as toasts; a recording problem also in the header."""
        for notice in self.session.take_notices():
            self._notify(notice)
        problem = self.session.recording_problem
        if problem is not None and self.cockpit.is_ready:
            self.cockpit.show_recording_problem(problem)

    def _notify(self, notice: Notice) -> None:
        self.notify(notice.text, severity=notice.severity, timeout=notice.seconds, markup=False)

    def on_cockpit_screen_ready(self, message: CockpitScreen.Ready) -> None:
        self.refresh_view()

    def _cancel_press(self, why: str) -> None:
        """A key reached a press whose confirm screen was not ready: it ends, nothing runs."""
        if self._note is not None:
            self._note.dismiss(None)
            self.notify(NOTE_DROPPED, severity="warning", timeout=6, markup=False)
            return
        self.session.cancel_press(why)
        if self._dialog is not None:
            self._dialog.answer(None)

    # --- guarded actions ---------------------------------------------------------------------

    def _bind_actions(self) -> None:
        """Keys from the registry: one binding per action this session has (none read-only)."""
        runner = self.session.runner
        for spec in runner.actions if runner is not None else ():
            self.bind(
                spec.key,
                f"press('{spec.action_id.value}')",
                description=spec.title,
                key_display=spec.key_label,
            )

    def action_press(self, action_id: str, override: bool = False) -> None:
        """A pressed action key: at most one plan or action at a time, the rest say so."""
        refusal = self.session.start_press()
        if refusal is not None:
            self._notify(refusal)
            return
        self.keys.press_started(self.session.title_of(ActionId(action_id)))
        self.run_worker(self._press(ActionId(action_id), override), group="actions")

    async def _press(self, action_id: ActionId, override: bool) -> None:
        prepared = await self.session.prepare(action_id, override=override)
        if isinstance(prepared, Outcome):
            self.keys.press_closed()
            self._show_outcome(prepared)
            return
        self.call_after_refresh(self._capture_action_screen, action_id, prepared.run_id, "planned")
        if self.session.early_cancel is not None:
            self._decided(prepared, None)
            return
        request = ConfirmRequest(
            title=prepared.spec.title,
            plan=prepared.plan,
            guards=prepared.guards,
            blocked=prepared.blocked,
            dry_run=self.session.dry_run,
            confirm_verb=prepared.spec.confirm_verb,
        )
        self._dialog = ConfirmActionScreen(request, clock=self.keys.clock)
        self.push_screen(self._dialog, partial(self._decided, prepared))

    def _decided(self, prepared: Prepared, confirmation: Confirmation | None) -> None:
        """The confirm screen's answer; a cancel by an early key is journaled with its reason."""
        self._dialog = None
        self.keys.press_closed()
        cancelled = self.session.decided(prepared, confirmation)
        if cancelled is not None:
            self._show_outcome(cancelled)
        elif confirmation is not None:
            self.run_worker(self._run(prepared, confirmation), group="actions")

    async def _run(self, prepared: Prepared, confirmation: Confirmation) -> None:
        self._show_outcome(await self.session.run(prepared, confirmation, self.refresh_view))

    async def _shift_back(self, order: ShiftBack) -> None:
        self._show_outcome(await self.session.shift_back(order))

    def _show_outcome(self, outcome: Outcome) -> None:
        """The result on screen and in the event log, worded as what is now true."""
        self._notify(self.session.told(outcome))
        self.refresh_view()
        phase = "refused" if outcome.result == "refused" else "completed"
        self.call_after_refresh(
            self._capture_action_screen, outcome.action_id, outcome.run_id, phase
        )

    def _capture_action_screen(self, action_id: ActionId, run_id: str | None, phase: str) -> None:
        self.session.record_screen(
            self._what_is_shown(), "action", action=action_id.value, run=run_id, phase=phase
        )
        self._tell()

    def _what_is_shown(self) -> ScreenShot:
        """The screen as plain text, exactly as the operator sees it right now."""
        width, height = self.size
        return ScreenShot(screen_text(self), "cockpit", width, height)

    def action_capture_screen(self) -> None:
        """The operator's key: keep this exact screen in the record for the postmortem."""
        saved = self.session.save_screen(self._what_is_shown())
        self._tell()
        self._notify(saved)
        self.refresh_view()

    # --- notes, help, quitting ---------------------------------------------------------------

    def action_note(self) -> None:
        """The note screen settles like a confirm screen: typing that arrives with it drops it."""
        self.keys.press_started(NOTE_TITLE)
        self.keys.dialog_shown(self.keys.clock())
        self._note = NoteScreen()
        self.push_screen(self._note, self._note_closed)

    def _note_closed(self, text: str | None) -> None:
        self._note = None
        self.keys.press_closed()
        self.session.add_note(text)
        if text:
            self.refresh_view()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(key_help(self.BINDINGS, self.session.runner)))

    def action_request_quit(self) -> None:
        if not self.session.in_flight:
            self.exit()
            return

        def decided(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self.exit()

        self.push_screen(ConfirmQuitScreen(self.session.in_flight), decided)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Keys", "Show every key the cockpit answers to", self.action_help)
        yield from panel_commands(self.cockpit.action_show_panel)
        yield from action_commands(self.session.runner, self.session.state, self.action_press)
