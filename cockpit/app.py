"""The composition root: sources, poller, live session and screens meet here and nowhere else."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from cockpit.actions.runner import ActionRunner, Refresh
from cockpit.clock import Clock, system_clock
from cockpit.config import Config
from cockpit.deliberate_input import MonotonicClock
from cockpit.journal.writer import JournalWriter
from cockpit.live.state import State
from cockpit.model import Reading
from cockpit.redact import Redactor
from cockpit.session.live import LiveSession
from cockpit.session.polling import SessionSources, SourcesOrMaker
from cockpit.sources.integrity_values import DATABASE_SIGNAL_ID, DatabaseValues
from screens.cockpit_commands import (
    action_commands,
    action_keys_help,
    key_help,
    panel_commands,
    panel_help,
    status_help,
)
from screens.cockpit_screen import CockpitScreen
from screens.confirm_quit import ConfirmQuitScreen
from screens.guarded_actions import GuardedActionsApp
from screens.help_screen import HelpScreen
from screens.note_screen import NoteScreen
from screens.recheck_integrity import EVERYTHING, RecheckIntegrityScreen

NOTE_TITLE = "note"
NOTE_DROPPED = "keys arrived as the note opened (typing into the wrong pane?): note dropped"


class CockpitApp(GuardedActionsApp):
    """The cockpit's keys, screens and drawing, driving one live session."""

    TITLE = "cutover-cockpit"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+c", "request_quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("n", "note", "Note"),
        Binding("c", "capture_screen", "Save screen"),
        Binding("i", "recheck_integrity", "Re-check integrity", show=False),
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
        session = LiveSession(
            config=config,
            clock=clock,
            journal=journal,
            redactor=redactor or Redactor(),
            operator=operator,
            actions=actions,
            refresh=self.refresh_now,
        )
        super().__init__(session, key_clock)
        self.config = config
        self.clock = clock
        self.sources = SessionSources(sources, clock)
        self._poll = poll
        self._note: NoteScreen | None = None
        self.cockpit = CockpitScreen(
            cutover_name=config.cutover.name,
            mode=mode,
            operator=operator,
            journal_path=str(journal.path) if journal else "",
        )

    def on_mount(self) -> None:
        self.bind_actions()
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
            self.show_outcome(outcome)

    async def on_unmount(self) -> None:
        await self.sources.stop()

    def receive_readings(self, readings: list[Reading]) -> None:
        """New readings into the session; onto the screen at once when a status changed or an
        action is in flight, else at the next tick (values move every poll, a repaint per
        poll would cost more than it shows)."""
        changed = self.session.receive(readings)
        if changed or self.session.in_flight:
            self.refresh_view()

    async def refresh_now(self) -> State:
        """One fresh poll of every source, folded into the state: guards re-check on this."""
        self.receive_readings(await self.sources.poll_once())
        return self.session.state

    def refresh_view(self) -> None:
        """One tick of the session (which may order a shift back), drawn, and its notices said."""
        shift_back = self.session.refresh()
        if shift_back is not None:
            self.shift_back(shift_back)
        self.tell()
        if self.cockpit.is_ready:
            self.cockpit.show(self.session.view(self.clock()))

    def tell(self) -> None:
        """The session's notices as toasts; a recording problem also in the header."""
        for notice in self.session.take_notices():
            self.notify_notice(notice)
        problem = self.session.recording_problem
        if problem is not None and self.cockpit.is_ready:
            self.cockpit.show_recording_problem(problem)

    def on_cockpit_screen_ready(self, message: CockpitScreen.Ready) -> None:
        self.refresh_view()

    def _cancel_press(self, why: str) -> None:
        """A key reached a note or press that was not ready: it ends, nothing is kept or runs."""
        if self._note is None:
            super()._cancel_press(why)
            return
        self._note.dismiss(None)
        self.notify(NOTE_DROPPED, severity="warning", timeout=6, markup=False)

    def action_capture_screen(self) -> None:
        """The operator's key: keep this exact screen in the record for the postmortem."""
        saved = self.session.save_screen(self.what_is_shown())
        self.tell()
        self.notify_notice(saved)
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
        keys = key_help(self.BINDINGS, action_keys_help(self.session.runner))
        self.push_screen(HelpScreen(keys, status_help(), panel_help()))

    def action_recheck_integrity(self) -> None:
        """Starts the integrity checks again (those not running), for after writes stopped;
        once a database run has finished, asks whether everything or one table."""
        if self.config.integrity is None:
            self.notify("no [integrity] section in the config: nothing to re-check")
            return
        reading = self.session.state.latest(DATABASE_SIGNAL_ID)
        run = None if reading is None else DatabaseValues.from_reading(reading).result
        if run is None or not run.results:
            self._recheck_chosen(EVERYTHING)
            return
        buckets = len(self.config.integrity.buckets)
        self.push_screen(RecheckIntegrityScreen(run.results, buckets), self._recheck_chosen)

    def _recheck_chosen(self, choice: str | None) -> None:
        if choice is None:
            return
        if choice != EVERYTHING:
            started_table = self.sources.recheck_integrity_table(choice)
            self.notify(
                f"re-checking {choice}"
                if started_table
                else "an integrity check is running already: its result comes when it finishes"
            )
            return
        started = self.sources.recheck_integrity()
        self.notify(
            f"integrity re-check started ({started} checks)"
            if started
            else "integrity checks are running already: their results come when they finish"
        )

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
