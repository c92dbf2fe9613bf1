"""The composition root: sources, poller, state, journal and screen meet here and nowhere else."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import ClassVar

from rich.console import Console
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from cockpit.actions.confirmation import Confirmation
from cockpit.actions.model import ActionId
from cockpit.actions.registry import action
from cockpit.actions.runner import ActionRunner, Outcome, Prepared, Refresh
from cockpit.actions.session_log import DRIFT_KIND, expected_after
from cockpit.actions.spec import AutoAbortRole
from cockpit.clock import Clock, system_clock
from cockpit.config import Config
from cockpit.deliberate_input import KeyJudge, MonotonicClock
from cockpit.io.failures import describe_failure
from cockpit.journal.chain import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.live.events import Event, EventLog, events_from_changes, guard_event_text
from cockpit.live.poller import Poller, poll_all_once
from cockpit.live.recording import SCREEN_KIND, JournalEntry, Recorder, status_entry
from cockpit.live.state import State, StatusChange, apply
from cockpit.model import Reading, SignalKind, Status
from cockpit.redact import Redactor, redacted_reading
from cockpit.rules.auto_abort import AutoAbortWatch, armed, judge
from cockpit.rules.runbook import current_phase, evaluate_runbook
from cockpit.rules.verdicts import GuardResult, blocking
from cockpit.session.drift import Drift, DriftWatch
from cockpit.sources.base import Source
from screens.cockpit_screen import PANELS, CockpitScreen, CockpitView
from screens.confirm_action import ConfirmActionScreen, ConfirmRequest
from screens.help_screen import HelpScreen
from screens.note_screen import NoteScreen
from widgets.actions_panel import ActionRow
from widgets.errors_panel import ErrorsPanel
from widgets.replication_panel import ReplicationPanel

SPARKLINE_VALUES = frozenset({*ReplicationPanel.sparkline_values, *ErrorsPanel.sparkline_values})
EVENTS_SHOWN = 200
NOTE_TITLE = "note"
NOTE_DROPPED = "keys arrived as the note opened (typing into the wrong pane?): note dropped"
DELIBERATE_ACTIONS = frozenset({"press", "note", "capture_screen", "request_quit", "quit"})


def configured_kinds(config: Config) -> frozenset[SignalKind]:
    """The signal families the config has a section for."""
    sections = {
        SignalKind.REPLICATION: config.replication,
        SignalKind.TARGETS: config.targets,
        SignalKind.DNS: config.dns,
        SignalKind.ERRORS: config.errors,
        SignalKind.TRAFFIC: config.traffic,
        SignalKind.MAINTENANCE: config.maintenance,
    }
    return frozenset(kind for kind, section in sections.items() if section is not None)


class ConfirmQuitScreen(ModalScreen[bool]):
    """Asks before quitting while an action is in flight."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Quit anyway"),
        Binding("n,escape", "answer(False)", "Stay"),
    ]
    DEFAULT_CSS = """
    ConfirmQuitScreen { align: center middle; }
    ConfirmQuitScreen > Static { width: 60; border: heavy $error; padding: 1 2; }
    """

    def __init__(self, in_flight: Sequence[str]) -> None:
        super().__init__()
        self._in_flight = in_flight

    def compose(self) -> Iterable[Static]:
        running = ", ".join(self._in_flight)
        yield Static(f"{running} is still running.\n\nQuit anyway? y = quit, n = stay")

    def action_answer(self, quit_anyway: bool) -> None:
        self.dismiss(quit_anyway)


class CockpitApp(App[None]):
    """The cockpit: polls every source, keeps the state, journals changes, draws the screen."""

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
        sources: Sequence[Source] | Callable[[], Sequence[Source]],
        clock: Clock = system_clock,
        mode: str = "LIVE",
        journal: JournalWriter | None = None,
        operator: str = "",
        poll: bool = True,
        redactor: Redactor | None = None,
        actions: Callable[[Refresh], ActionRunner] | None = None,
        key_clock: MonotonicClock = time.monotonic,
    ) -> None:
        super().__init__()
        self.config = config
        self.clock = clock
        self.journal = journal
        self.redactor = redactor or Redactor()
        self.state = State()
        self.event_log = EventLog()
        self.in_flight: list[str] = []
        self._sources = sources
        self._poll = poll
        self._poller: Poller | None = None
        self._configured = configured_kinds(config)
        self._built_sources: Sequence[Source] = ()
        self.runner = actions(self.refresh_now) if actions is not None else None
        self.drift = DriftWatch()
        if self.runner is not None:
            self.drift.seed(self.runner.session.expected_values())
        self.operator = operator
        self._pressing = False
        self.keys = KeyJudge(key_clock)
        self._dialog: ConfirmActionScreen | None = None
        self._note: NoteScreen | None = None
        self._early_cancel: str | None = None
        self._auto_abort = AutoAbortWatch()
        self._auto_abort_line = ""
        self._guard_verdicts: dict[ActionId, tuple[str, ...]] = {}
        self.recording_problem: str | None = None
        self._anchor_problem_shown = False
        self.recorder = Recorder(keyframe_seconds=config.journal.keyframe_seconds)
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
        sources = self._sources() if callable(self._sources) else self._sources
        self._built_sources = sources
        self._poller = Poller(sources, self.receive_readings, self.clock)
        self._poller.start()
        if self.runner is not None:
            self.run_worker(self._reconcile(self.runner), group="actions")

    async def _reconcile(self, runner: ActionRunner) -> None:
        """Actions a dead process left unfinished: read what is true now, say it, record it."""
        for outcome in await runner.reconcile(self.operator or "operator"):
            self._after(outcome)

    async def on_unmount(self) -> None:
        if self._poller is not None:
            await self._poller.stop()

    def receive_readings(self, readings: list[Reading]) -> None:
        """Folds new readings into the state; status changes go to the event log and journal.

        Secrets are removed here, once, so neither the screen nor the journal ever holds them.
        """
        clean = [redacted_reading(self.redactor, reading) for reading in readings]
        self.state, changes = apply(self.state, clean)
        self._journal_entries(self.recorder.readings(clean, self.clock()))
        if changes:
            self.event_log.add(events_from_changes(changes))
            self._journal_changes(changes)
        in_flight = self.runner is not None and self.runner.running is not None
        for drift in self.drift.observe(clean, action_in_flight=in_flight):
            self._drifted(drift)
        self.refresh_view()

    def _drifted(self, drift: Drift) -> None:
        """A change this cutover did not make: the event log, the journal and a loud notice."""
        text = drift.text()
        self.event_log.add([Event(drift.at, drift.signal_id, "drift", Status.WARN, text)])
        self.record(DRIFT_KIND, drift.to_json(), sync=True)
        self.notify(f"{drift.signal_id}: {text}", severity="warning", timeout=20, markup=False)

    def _journal_changes(self, changes: Sequence[StatusChange]) -> None:
        self._journal_entries([status_entry(change) for change in changes])

    def _journal_entries(self, entries: Sequence[JournalEntry]) -> None:
        for entry in entries:
            self.record(entry.kind, entry.data)

    def record(self, kind: str, data: dict[str, JsonValue], *, sync: bool = False) -> bool:
        """Writes one journal record; a failed write (disk full) is shown, never fatal.

        The screen must stay up when the record cannot be kept: the operator is told loudly,
        and actions, which journal through the runner, fail closed on their own write.
        """
        if self.journal is None:
            return False
        try:
            self.journal.append(kind, data, sync=sync)
        except (OSError, ValueError) as error:
            self._recording_failed(error)
            return False
        if self.journal.anchor_problem is not None and not self._anchor_problem_shown:
            self._anchor_problem_shown = True
            self._anchors_failed(self.journal.anchor_problem)
        return True

    def _anchors_failed(self, problem: str) -> None:
        """Says once that the journal's sidecar anchors stopped: the record goes on without them."""
        text = f"journal anchors not written: {problem}; verify will rely on syslog copies"
        self.event_log.add([Event(self.clock(), "journal", "status", Status.WARN, text)])
        self.notify(text, severity="warning", timeout=20, markup=False)

    def _recording_failed(self, error: Exception) -> None:
        """Says once per distinct problem that the session is not being recorded, and why."""
        problem = f"NOT RECORDING: journal write failed: {describe_failure(error)}"
        if problem == self.recording_problem:
            return
        self.recording_problem = problem
        self.cockpit.show_recording_problem(problem)
        self.event_log.add([Event(self.clock(), "journal", "status", Status.CRITICAL, problem)])
        self.notify(
            f"{problem}. Free space or fix the journal folder; actions are refused while "
            "their record cannot be written.",
            severity="error",
            timeout=30,
            markup=False,
        )

    async def refresh_now(self) -> State:
        """One fresh poll of every source, folded into the state: guards re-check on this."""
        sources = self._built_sources
        if not sources and callable(self._sources):
            sources = self._built_sources = self._sources()
        readings = await poll_all_once(list(sources), self.clock)
        self.receive_readings(readings)
        return self.state

    # --- key timing: an action key counts only when pressed on purpose -----------------------

    async def on_event(self, event: events.Event) -> None:
        """Every key is judged as it arrives, before any binding or widget sees it."""
        if isinstance(event, events.Key) and not event.is_forwarded and not self._let_key_in(event):
            return
        await super().on_event(event)

    def _let_key_in(self, event: events.Key) -> bool:
        """Whether the key goes on; a key taken for typing is said, and may cancel a press."""
        verdict = self.keys.arrived(event.key, deliberate=self._deliberate_label(event))
        if verdict.ignored is not None:
            self.notify(verdict.ignored, severity="warning", timeout=6, markup=False)
        if verdict.cancels is not None:
            self._cancel_press(verdict.cancels)
        return verdict.deliver

    def _deliberate_label(self, event: events.Key) -> str | None:
        """The key's label when, right now, it would run an action, write a note, save or quit."""
        binding = self._app_binding_for(event.key)
        if binding is None or binding.action.split("(", 1)[0] not in DELIBERATE_ACTIONS:
            return None
        return binding.key_display or event.character or event.key

    def _app_binding_for(self, key: str) -> Binding | None:
        """The cockpit's own binding this key fires now, if any.

        A priority binding fires whatever screen is in front; any other only when no dialog is,
        since a dialog keeps its keys to itself.
        """
        priority = [b for b in self._bindings.key_to_bindings.get(key, ()) if b.priority]
        if priority:
            return priority[0]
        active = self.screen.active_bindings.get(key)
        return active.binding if active is not None and active.node is self else None

    def _cancel_press(self, why: str) -> None:
        """A key reached a press whose confirm screen was not ready: it ends, nothing runs."""
        if self._note is not None:
            self._note.dismiss(None)
            self.notify(NOTE_DROPPED, severity="warning", timeout=6, markup=False)
            return
        self._early_cancel = why
        if self._dialog is not None:
            self._dialog.answer(None)

    def on_confirm_action_screen_shown(self, message: ConfirmActionScreen.Shown) -> None:
        """The confirm screen is drawn: its settle time runs from when it was."""
        self.keys.dialog_shown(message.shown_at)

    # --- guarded actions ---------------------------------------------------------------------

    def _bind_actions(self) -> None:
        """Keys from the registry: one binding per action this session has (none read-only)."""
        if self.runner is None:
            return
        for spec in self.runner.actions:
            self.bind(
                spec.key,
                f"press('{spec.action_id.value}')",
                description=spec.title,
                key_display=spec.key_label,
            )

    def action_press(self, action_id: str, override: bool = False) -> None:
        """A pressed action key: at most one plan or action at a time, the rest say so."""
        runner = self.runner
        if runner is None:
            self.notify("this session has no actions (read-only)", severity="warning", markup=False)
            return
        if runner.running is not None or self._pressing:
            busy = runner.running.value if runner.running else "another action"
            self.notify(
                f"{busy} is still running: this press did nothing", severity="warning", markup=False
            )
            return
        self._pressing = True
        self._early_cancel = None
        self.keys.press_started(_title(runner, ActionId(action_id)))
        self.run_worker(self._press(runner, ActionId(action_id), override), group="actions")

    async def _press(self, runner: ActionRunner, action_id: ActionId, override: bool) -> None:
        try:
            prepared = await runner.prepare(
                action_id, self.state, actor=self.operator or "operator", override=override
            )
        except Exception as error:
            self._press_over()
            self._show_outcome(_broken_off(action_id, error, started=False))
            return
        if isinstance(prepared, Outcome):
            self._press_over()
            self._show_outcome(prepared)
            return
        self.call_after_refresh(self._capture_action_screen, action_id, prepared.run_id, "planned")
        if self._early_cancel is not None:
            self._decided(runner, prepared, None)
            return
        self._open_dialog(runner, prepared)

    def _open_dialog(self, runner: ActionRunner, prepared: Prepared) -> None:
        request = ConfirmRequest(
            title=prepared.spec.title,
            plan=prepared.plan,
            guards=prepared.guards,
            blocked=prepared.blocked,
            dry_run=runner.mode != "live",
            confirm_verb=prepared.spec.confirm_verb,
        )

        def decided(confirmation: Confirmation | None) -> None:
            self._decided(runner, prepared, confirmation)

        self._dialog = ConfirmActionScreen(request, clock=self.keys.clock)
        self.push_screen(self._dialog, decided)

    def _decided(
        self, runner: ActionRunner, prepared: Prepared, confirmation: Confirmation | None
    ) -> None:
        """The confirm screen's answer; a cancel by an early key is journaled with its reason."""
        why, self._early_cancel = self._early_cancel, None
        self._dialog = None
        self.keys.press_closed()
        if confirmation is None:
            self._pressing = False
            outcome = runner.cancel(prepared) if why is None else runner.cancel(prepared, why)
            self._show_outcome(outcome)
            return
        self.run_worker(self._run(runner, prepared, confirmation), group="actions")

    def _press_over(self) -> None:
        """The press ended before any confirm screen (refused, failed to plan)."""
        self._pressing = False
        self.keys.press_closed()

    async def _run(
        self, runner: ActionRunner, prepared: Prepared, confirmation: Confirmation
    ) -> None:
        self.in_flight.append(prepared.spec.title)
        self._pressing = False
        self.refresh_view()
        try:
            outcome = await runner.run(prepared, confirmation)
        except Exception as error:
            outcome = _broken_off(prepared.spec.action_id, error, started=True)
        finally:
            self.in_flight.remove(prepared.spec.title)
        self._after(outcome)

    def _after(self, outcome: Outcome) -> None:
        target = outcome.plan.target if outcome.plan is not None else {}
        self.drift.expect(expected_after(outcome.action_id, outcome.result, target))
        if outcome.result in ("succeeded", "unverified"):
            role = action(outcome.action_id).auto_abort
            if role is AutoAbortRole.ARMS:
                self._auto_abort = armed(self.clock())
            elif role is AutoAbortRole.DISARMS:
                self._auto_abort = AutoAbortWatch()
        self._show_outcome(outcome)

    def _show_outcome(self, outcome: Outcome) -> None:
        """The result on screen and in the event log, worded as what is now true."""
        good = outcome.result in ("succeeded", "dry-run")
        mild = outcome.result in ("cancelled", "busy")
        status = Status.OK if good else Status.WARN if mild else Status.CRITICAL
        self.event_log.add(
            [Event(self.clock(), outcome.action_id.value, "action", status, outcome.message)]
        )
        severity: SeverityLevel = "information" if good else "warning" if mild else "error"
        self.notify(outcome.message, severity=severity, timeout=8 if good else 20, markup=False)
        self.refresh_view()
        phase = "refused" if outcome.result == "refused" else "completed"
        self.call_after_refresh(
            self._capture_action_screen, outcome.action_id, outcome.run_id, phase
        )

    def _capture_action_screen(self, action_id: ActionId, run_id: str | None, phase: str) -> None:
        self.capture_screen("action", action=action_id.value, run=run_id, phase=phase)

    def capture_screen(
        self,
        reason: str,
        *,
        action: str | None = None,
        run: str | None = None,
        phase: str | None = None,
    ) -> str:
        """The screen as plain text, journaled (fsync'ed) as the operator sees it right now."""
        text = screen_text(self)
        if self.journal is not None:
            width, height = self.size
            data: dict[str, JsonValue] = {
                "reason": reason,
                "action": action,
                "run": run,
                "phase": phase,
                "source": "cockpit",
                "width": width,
                "height": height,
                "text": text,
            }
            self.record(SCREEN_KIND, data, sync=True)
        return text

    def action_capture_screen(self) -> None:
        """The operator's key: keep this exact screen in the record for the postmortem."""
        self.capture_screen("operator")
        kept = self.journal is not None and self.recording_problem is None
        saved = "screen saved to the journal" if kept else "not recording: nothing saved"
        self.event_log.add([Event(self.clock(), "screen", "note", None, saved)])
        self.notify(saved, timeout=4, markup=False)
        self.refresh_view()

    def _check_auto_abort(self) -> None:
        """After a step up: shift back by itself when the new side stays over its 5xx limit."""
        runner = self.runner
        if runner is None or runner.mode == "read-only":
            return
        settings = self.config.guards.auto_abort
        watch, verdict = judge(self._auto_abort, self.state, settings, self.clock())
        self._auto_abort_line = verdict.text if settings.enabled else ""
        if verdict.kind != "fire":
            self._auto_abort = watch
        elif runner.running is None:
            self._auto_abort = watch
            self.run_worker(self._shift_back(runner, verdict.text, verdict.facts), group="actions")
        else:
            self._auto_abort_line = f"{verdict.text}: shifting back once {runner.running} ends"

    async def _shift_back(
        self, runner: ActionRunner, reason: str, facts: dict[str, JsonValue]
    ) -> None:
        self.in_flight.append("auto-abort")
        try:
            outcome = await runner.shift_back(reason, facts)
        except Exception as error:
            outcome = _broken_off(ActionId.WEIGHT_DOWN, error, started=True)
        finally:
            self.in_flight.remove("auto-abort")
        self._after(outcome)

    def action_rows(self) -> tuple[ActionRow, ...]:
        """Every action with its live guards, and journaled guard transitions."""
        runner = self.runner
        if runner is None:
            return ()
        rows = []
        for spec in runner.actions:
            guards = runner.guards(spec.action_id, self.state)
            self._note_guard_change(spec.action_id, spec.title, guards)
            running = runner.running is spec.action_id
            short = spec.short_title
            rows.append(ActionRow(spec.key_label, spec.title, spec.one_way, guards, running, short))
        return tuple(rows)

    def _note_guard_change(
        self, action_id: ActionId, title: str, guards: tuple[GuardResult, ...]
    ) -> None:
        """A guard that starts or stops blocking goes to the event log and the journal."""
        reasons = tuple(str(guard.reason) for guard in blocking(guards))
        blocked_ids = tuple(guard.guard_id for guard in blocking(guards))
        before = self._guard_verdicts.get(action_id)
        self._guard_verdicts[action_id] = blocked_ids
        if before == blocked_ids:
            return
        text = guard_event_text(title, reasons)
        status = Status.OK if not reasons else Status.WARN
        self.event_log.add([Event(self.clock(), action_id.value, "guard", status, text)])
        data: dict[str, JsonValue] = {
            "action": action_id.value,
            "title": title,
            "ready": not reasons,
            "blocked": list(blocked_ids),
            "reasons": list(reasons),
            "guards": [guard.to_json() for guard in guards],
        }
        self.record("guard", data)

    def build_view(self) -> CockpitView:
        return cockpit_view(
            self.state,
            self.clock(),
            events=self.event_log.latest(EVENTS_SHOWN),
            configured_kinds=self._configured,
            actions=self.action_rows(),
            auto_abort_line=self._auto_abort_line,
            read_only=self.runner is None or not self.runner.actions,
        )

    def refresh_view(self) -> None:
        self._journal_entries(self.recorder.tick(self.state, self.clock()))
        self._check_auto_abort()
        if self.cockpit.is_ready:
            self.cockpit.show(self.build_view())

    def on_cockpit_screen_ready(self, message: CockpitScreen.Ready) -> None:
        self.refresh_view()

    def key_help(self) -> list[tuple[str, str]]:
        """Every key the cockpit answers to, from the bindings themselves."""
        keys = [(b.key, b.description) for b in _bindings(self.BINDINGS)]
        keys += [(b.key, b.description) for b in _bindings(CockpitScreen.BINDINGS)]
        keys += [(spec.key, f"show the {spec.short_name} panel") for spec in PANELS]
        if self.runner is not None:
            keys += [(s.key_label, f"{s.title}: {s.description}") for s in self.runner.actions]
        keys.append(("ctrl+p", "command palette: every command"))
        return list(dict.fromkeys(keys))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help()))

    def action_note(self) -> None:
        """The note screen settles like a confirm screen: typing that arrives with it drops it."""
        self.keys.press_started(NOTE_TITLE)
        self.keys.dialog_shown(self.keys.clock())
        self._note = NoteScreen()
        self.push_screen(self._note, self._note_closed)

    def _note_closed(self, text: str | None) -> None:
        self._note = None
        self.keys.press_closed()
        self.add_note(text)

    def add_note(self, text: str | None) -> None:
        """A note goes to the journal (fsync'ed) and the event log, with who wrote it."""
        if not text:
            return
        clean = self.redactor.text(text)
        kept = self.record("note", {"text": clean, "operator": self.operator}, sync=True)
        lost = "" if kept or self.journal is None else " (NOT journaled: the write failed)"
        self.event_log.add([Event(self.clock(), "note", "note", None, f"note: {clean}{lost}")])
        self.refresh_view()

    def action_request_quit(self) -> None:
        if not self.in_flight:
            self.exit()
            return

        def decided(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self.exit()

        self.push_screen(ConfirmQuitScreen(self.in_flight), decided)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Keys", "Show every key the cockpit answers to", self.action_help)
        for spec in PANELS:
            show = partial(self.cockpit.action_show_panel, spec.panel_id)
            yield SystemCommand(f"Panel: {spec.short_name}", f"Show panel {spec.key}", show)
        yield from self._action_commands()

    def _action_commands(self) -> Iterable[SystemCommand]:
        """Each action, and an override entry for each one its guards block right now."""
        if self.runner is None:
            return
        for spec in self.runner.actions:
            press = partial(self.action_press, spec.action_id.value)
            yield SystemCommand(
                f"Action: {spec.title}", f"{spec.description} (key {spec.key_label})", press
            )
            blocked = blocking(self.runner.guards(spec.action_id, self.state))
            if blocked:
                override = partial(self.action_press, spec.action_id.value, True)
                why = f"blocked: {blocked[0].reason}; type OVERRIDE and a reason to go on"
                yield SystemCommand(f"Override guards: {spec.title}", why, override)


def cockpit_view(
    state: State,
    now: datetime,
    *,
    events: tuple[Event, ...],
    configured_kinds: frozenset[SignalKind],
    actions: tuple[ActionRow, ...],
    auto_abort_line: str = "",
    read_only: bool = False,
    read_only_reason: str | None = None,
) -> CockpitView:
    """What the screen draws for this state at `now`: live, replayed or followed alike."""
    readings = tuple(sorted(state.readings(), key=lambda r: r.signal_id))
    series = {
        (reading.signal_id, name): tuple(v for _, v in state.series(reading.signal_id, name))
        for reading in readings
        for name in SPARKLINE_VALUES
    }
    checks = evaluate_runbook(state, now)
    return CockpitView(
        now=now,
        readings=readings,
        series=series,
        checks=checks,
        events=events,
        phase=current_phase(checks, state, now),
        configured_kinds=configured_kinds,
        actions=actions,
        auto_abort_line=auto_abort_line,
        read_only=read_only,
        read_only_reason=read_only_reason,
    )


def _title(runner: ActionRunner, action_id: ActionId) -> str:
    """The action's title as its confirm screen shows it."""
    return next((s.title for s in runner.actions if s.action_id is action_id), action_id.value)


def _broken_off(action_id: ActionId, error: Exception, *, started: bool) -> Outcome:
    """An action stopped by something other than its own steps (its journal write failing).

    Once confirmed, the change may already have been made, so the message says to look first.
    """
    what = f"{action_id.value} stopped: {describe_failure(error)}"
    if started:
        what += ": it may have changed something: read the panels before pressing again"
    return Outcome(action_id, "failed", what)


def screen_text(app: App[None]) -> str:
    """Everything on the terminal as plain text, dialogs over the cockpit included.

    Textual has no public text export; this is what its own SVG screenshot does, minus styles.
    """
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        color_system=None,
        legacy_windows=False,
        safe_box=False,
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    lines = console.export_text(styles=False).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _bindings(bindings: Sequence[BindingType]) -> list[Binding]:
    return [b for b in bindings if isinstance(b, Binding) and b.description]
