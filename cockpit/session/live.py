"""The live session, headless: readings in; state, journal, guards, auto-abort and notices out.

The cockpit screen and `cockpit act` both drive one, so what they journal cannot drift apart.
What the operator must be told comes out as Notices; the screen shows them, `act` prints them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cockpit.actions.approval import ApprovalCheck
from cockpit.actions.confirmation import Confirmation
from cockpit.actions.model import ActionId
from cockpit.actions.registry import action
from cockpit.actions.runner import ActionRunner, AwaitingApproval, Outcome, Prepared, Refresh
from cockpit.actions.session_log import DRIFT_KIND, expected_after
from cockpit.actions.spec import AutoAbortRole
from cockpit.clock import Clock
from cockpit.config import Config
from cockpit.io.failures import describe_failure
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.live.events import (
    Event,
    EventLog,
    action_event_text,
    events_from_changes,
    guard_event_text,
)
from cockpit.live.recording import SCREEN_KIND, JournalEntry, Recorder, status_entry
from cockpit.live.state import State, apply
from cockpit.model import Reading, Status
from cockpit.redact import Redactor, redacted_reading
from cockpit.rules.auto_abort import AutoAbortWatch, armed, judge
from cockpit.rules.idle_side import settled_idle_sides
from cockpit.rules.verdicts import GuardResult, blocking
from cockpit.session.action_rows import action_row
from cockpit.session.drift import Drift, DriftWatch
from cockpit.session.view import (
    EVENTS_SHOWN,
    ActionRow,
    CockpitView,
    cockpit_view,
    configured_kinds,
)
from cockpit.sources import traffic_values

Severity = Literal["information", "warning", "error"]
NO_ACTIONS = "this session has no actions (read-only)"
AUTO_ABORT_TITLE = "auto-abort"
RunnerFactory = Callable[[Refresh], ActionRunner]


@dataclass(frozen=True)
class Notice:
    """Something the operator must be told now: a toast on the screen, a line from `act`."""

    text: str
    severity: Severity = "information"
    seconds: float = 5.0


@dataclass(frozen=True)
class ShiftBack:
    """Auto-abort's order to shift the weights back now, with why and the facts it judged."""

    reason: str
    facts: dict[str, JsonValue]


@dataclass(frozen=True)
class ScreenShot:
    """A screen as the operator saw it, for the journal: its text, who drew it, and its size."""

    text: str
    source: str
    width: int | None = None
    height: int | None = None


class LiveSession:
    """One running session: folds readings, journals, judges guards and auto-abort, runs presses.

    `refresh` is the caller's fresh poll of every source, folded in here (guards re-check on it);
    `actions` builds the runner around it; None is read-only.
    `drift_sightings` is how many readings in a row prove a drift (see DriftWatch).
    """

    def __init__(
        self,
        *,
        config: Config,
        clock: Clock,
        journal: JournalWriter | None,
        redactor: Redactor,
        operator: str,
        actions: RunnerFactory | None,
        refresh: Refresh,
        drift_sightings: int = 2,
    ) -> None:
        self.config = config
        self.clock = clock
        self.journal = journal
        self.redactor = redactor
        self.operator = operator
        self.state = State()
        self.event_log = EventLog()
        self.recorder = Recorder(keyframe_seconds=config.journal.keyframe_seconds)
        self.fresh_state = refresh
        self.runner = actions(refresh) if actions is not None else None
        self.drift = DriftWatch(sightings=drift_sightings)
        if self.runner is not None:
            self.drift.seed(self.runner.session.expected_values())
        self.in_flight: list[str] = []
        self.early_cancel: str | None = None
        self.recording_problem: str | None = None
        self.write_failure: OSError | ValueError | None = None
        self.auto_abort_line = ""
        self._pressing = False
        self._auto_abort = AutoAbortWatch()
        self._anchor_problem_shown = False
        self._guard_verdicts: dict[ActionId, tuple[str, ...]] = {}
        self._rows: tuple[ActionRow, ...] = ()
        self._configured = configured_kinds(config)
        self._notices: list[Notice] = []

    @property
    def actor(self) -> str:
        return self.operator or "operator"

    def take_notices(self) -> tuple[Notice, ...]:
        """The notices since the last call, oldest first."""
        notices, self._notices = tuple(self._notices), []
        return notices

    # --- readings in -------------------------------------------------------------------------

    def receive(self, readings: Sequence[Reading]) -> bool:
        """Folds new readings into the state; status changes go to the event log and journal.
        True when a signal changed status (the screen should say so at once).

        Secrets are removed here, once, so neither the screen nor the journal ever holds them.
        """
        clean = [redacted_reading(self.redactor, reading) for reading in readings]
        clean = settled_idle_sides(clean, self._traffic_of(clean))
        self.state, changes = apply(self.state, clean)
        self._journal_entries(self.recorder.readings(clean, self.clock()))
        if changes:
            self.event_log.add(events_from_changes(changes))
            self._journal_entries([status_entry(change) for change in changes])
        in_flight = self.runner is not None and self.runner.running is not None
        for drift in self.drift.observe(clean, action_in_flight=in_flight):
            self._drifted(drift)
        return bool(changes)

    def _traffic_of(self, readings: Sequence[Reading]) -> Reading | None:
        """The newest traffic reading: in this batch, else the last one folded."""
        batch = [r for r in readings if r.signal_id == traffic_values.SIGNAL_ID]
        return batch[-1] if batch else self.state.latest(traffic_values.SIGNAL_ID)

    def _drifted(self, drift: Drift) -> None:
        """A change this cutover did not make: the event log, the journal and a loud notice."""
        text = drift.text()
        self.event_log.add([Event(drift.at, drift.signal_id, "drift", Status.WARN, text)])
        self.record(DRIFT_KIND, drift.to_json(), sync=True)
        self._notices.append(Notice(f"{drift.signal_id}: {text}", "warning", 20))

    def refresh(self) -> ShiftBack | None:
        """One tick: keyframes journaled, auto-abort judged, every action's guards re-checked."""
        self._journal_entries(self.recorder.tick(self.state, self.clock()))
        shift_back = self._judge_auto_abort()
        self._rows = self._action_rows()
        return shift_back

    def view(self, now: datetime) -> CockpitView:
        """What the screen draws at `now`, with the guards of the last refresh."""
        return cockpit_view(
            self.state,
            now,
            events=self.event_log.latest(EVENTS_SHOWN),
            configured_kinds=self._configured,
            actions=self._rows,
            auto_abort_line=self.auto_abort_line,
            read_only=self.runner is None or not self.runner.actions,
            config=self.config,
        )

    # --- the journal -------------------------------------------------------------------------

    def journal_what_is_shown(self) -> None:
        """Every signal's latest reading not yet journaled, so the record of this moment (a
        press, a note) holds exactly what the screen showed."""
        self._journal_entries(self.recorder.unwritten(self.state, self.clock()))

    def _journal_entries(self, entries: Sequence[JournalEntry]) -> None:
        for entry in entries:
            self.record(entry.kind, entry.data)

    def record(self, kind: str, data: dict[str, JsonValue], *, sync: bool = False) -> bool:
        """Writes one journal record; a failed write (disk full) is a notice, never fatal.

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
        self._notices.append(Notice(text, "warning", 20))

    def _recording_failed(self, error: OSError | ValueError) -> None:
        """Says once per distinct problem that the session is not being recorded, and why."""
        self.write_failure = error
        problem = f"NOT RECORDING: journal write failed: {describe_failure(error)}"
        if problem == self.recording_problem:
            return
        self.recording_problem = problem
        self.event_log.add([Event(self.clock(), "journal", "status", Status.CRITICAL, problem)])
        advice = (
            f"{problem}. Free space or fix the journal folder; actions are refused while "
            "their record cannot be written."
        )
        self._notices.append(Notice(advice, "error", 30))

    def add_note(self, text: str | None) -> None:
        """A note goes to the journal (fsync'ed) and the event log, with who wrote it."""
        if not text:
            return
        clean = self.redactor.text(text)
        self.journal_what_is_shown()
        kept = self.record("note", {"text": clean, "operator": self.operator}, sync=True)
        lost = "" if kept or self.journal is None else " (NOT journaled: the write failed)"
        self.event_log.add([Event(self.clock(), "note", "note", None, f"note: {clean}{lost}")])

    def record_screen(
        self,
        shot: ScreenShot,
        reason: str,
        *,
        action: str | None = None,
        run: str | None = None,
        phase: str | None = None,
    ) -> None:
        """The screen as the operator sees it right now, journaled (fsync'ed)."""
        if self.journal is None:
            return
        data: dict[str, JsonValue] = {
            "reason": reason,
            "action": action,
            "run": run,
            "phase": phase,
            "source": shot.source,
            "width": shot.width,
            "height": shot.height,
            "text": shot.text,
        }
        self.record(SCREEN_KIND, data, sync=True)

    def save_screen(self, shot: ScreenShot) -> Notice:
        """The operator's own save of this exact screen, for the postmortem; says whether it was."""
        self.record_screen(shot, "operator")
        kept = self.journal is not None and self.recording_problem is None
        saved = "screen saved to the journal" if kept else "not recording: nothing saved"
        self.event_log.add([Event(self.clock(), "screen", "note", None, saved)])
        return Notice(saved, seconds=4)

    # --- guards ------------------------------------------------------------------------------

    def _action_rows(self) -> tuple[ActionRow, ...]:
        """Every action with its live guards; a guard that starts or stops blocking is journaled."""
        runner = self.runner
        if runner is None:
            return ()
        rows = []
        every_guards = runner.every_action_guards(self.state)
        for spec in runner.actions:
            guards = every_guards[spec.action_id]
            self._note_guard_change(spec.action_id, spec.title, guards)
            rows.append(action_row(spec, guards, runner.running is spec.action_id))
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

    # --- auto-abort --------------------------------------------------------------------------

    def _judge_auto_abort(self) -> ShiftBack | None:
        """After a step up: the order to shift back when the new side stays over its 5xx limit."""
        runner = self.runner
        if runner is None or runner.mode == "read-only":
            return None
        settings = self.config.guards.auto_abort
        watch, verdict = judge(self._auto_abort, self.state, settings, self.clock())
        self.auto_abort_line = verdict.text if settings.enabled else ""
        if verdict.kind != "fire":
            self._auto_abort = watch
            return None
        if runner.running is not None:
            self.auto_abort_line = f"{verdict.text}: shifting back once {runner.running} ends"
            return None
        self._auto_abort = watch
        return ShiftBack(verdict.text, verdict.facts)

    async def shift_back(self, order: ShiftBack) -> Outcome:
        """Runs auto-abort's shift back to its end; a failure is an outcome, never raised."""
        runner = self._runner()
        self.journal_what_is_shown()
        self.in_flight.append(AUTO_ABORT_TITLE)
        try:
            outcome = await runner.shift_back(order.reason, order.facts)
        except Exception as error:
            outcome = broken_off(ActionId.WEIGHT_DOWN, error, started=True)
        finally:
            self.in_flight.remove(AUTO_ABORT_TITLE)
        self.after(outcome)
        return outcome

    # --- presses: at most one plan or action at a time ---------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a press or an action is in progress."""
        return self._pressing or (self.runner is not None and self.runner.running is not None)

    def start_press(self) -> Notice | None:
        """Starts a press; or, when none can start now, the notice that says why."""
        runner = self.runner
        if runner is None:
            return Notice(NO_ACTIONS, "warning")
        if self.busy:
            busy = runner.running.value if runner.running else "another action"
            return Notice(f"{busy} is still running: this press did nothing", "warning")
        self._pressing = True
        self.early_cancel = None
        return None

    def cancel_press(self, why: str) -> None:
        """A key arrived before the confirmation was ready: the press is cancelled, with why."""
        self.early_cancel = why

    @property
    def dry_run(self) -> bool:
        """Whether actions only plan and journal here, changing nothing."""
        return self.runner is not None and self.runner.mode != "live"

    def title_of(self, action_id: ActionId) -> str:
        """The action's title as its confirm screen shows it."""
        actions = self.runner.actions if self.runner is not None else ()
        return next((s.title for s in actions if s.action_id is action_id), action_id.value)

    async def prepare(self, action_id: ActionId, *, override: bool = False) -> Prepared | Outcome:
        """The plan to confirm, or the outcome that ends the press here (refused, failed)."""
        runner = self._runner()
        self.journal_what_is_shown()
        try:
            prepared = await runner.prepare(
                action_id, self.state, actor=self.actor, override=override
            )
        except Exception as error:
            prepared = broken_off(action_id, error, started=False)
        if isinstance(prepared, Outcome):
            self._pressing = False
        return prepared

    def decided(self, prepared: Prepared, confirmation: Confirmation | None) -> Outcome | None:
        """The confirmation's answer: a cancel (an early key's, with its reason) ends the press."""
        why, self.early_cancel = self.early_cancel, None
        if confirmation is not None:
            return None
        self._pressing = False
        runner = self._runner()
        return runner.cancel(prepared) if why is None else runner.cancel(prepared, why)

    def needs_second_person(self, prepared: Prepared) -> bool:
        """Whether the confirmed action waits for a second operator before it runs."""
        return self._runner().needs_second_person(prepared)

    async def request_approval(
        self, prepared: Prepared, confirmation: Confirmation
    ) -> AwaitingApproval | Outcome:
        """Asks a second operator (the press stays open while it waits); a failure ends it."""
        try:
            waiting = await self._runner().request_approval(prepared, confirmation)
        except Exception as error:
            waiting = broken_off(prepared.spec.action_id, error, started=False)
        if isinstance(waiting, Outcome):
            self._pressing = False
        return waiting

    async def check_approval(self, waiting: AwaitingApproval) -> ApprovalCheck:
        """What the approvals folder says now about the waiting action."""
        return await self._runner().check_approval(waiting)

    def withdraw(self, waiting: AwaitingApproval, why: str, *, expired: bool = False) -> Outcome:
        """The wait ends without an approval: journaled, and the press is over."""
        self._pressing = False
        return self._runner().withdraw(waiting, why, expired=expired)

    async def run(
        self,
        prepared: Prepared,
        confirmation: Confirmation,
        started: Callable[[], None] = lambda: None,
    ) -> Outcome:
        """Runs a confirmed action to its end; `started` is called once it counts as in flight."""
        runner = self._runner()
        title = prepared.spec.title
        self.in_flight.append(title)
        self._pressing = False
        started()
        try:
            outcome = await runner.run(prepared, confirmation)
        except Exception as error:
            outcome = broken_off(prepared.spec.action_id, error, started=True)
        finally:
            self.in_flight.remove(title)
        self.after(outcome)
        return outcome

    async def reconcile(self) -> tuple[Outcome, ...]:
        """Actions a dead process left unfinished: what is true now, each as its outcome."""
        outcomes = await self._runner().reconcile(self.actor)
        for outcome in outcomes:
            self.after(outcome)
        return outcomes

    def after(self, outcome: Outcome) -> None:
        """What a finished action changes here: what drift expects, and auto-abort's watch."""
        target = outcome.plan.target if outcome.plan is not None else {}
        self.drift.expect(expected_after(outcome.action_id, outcome.result, target))
        if outcome.result in ("succeeded", "unverified"):
            self._auto_abort = auto_abort_after(outcome.action_id, self._auto_abort, self.clock())

    def told(self, outcome: Outcome) -> Notice:
        """The outcome in the event log, and as the notice that says what is now true."""
        good = outcome.result in ("succeeded", "dry-run")
        mild = outcome.result in ("cancelled", "busy")
        status = Status.OK if good else Status.WARN if mild else Status.CRITICAL
        text = action_event_text(self.title_of(outcome.action_id), outcome.message)
        self.event_log.add([Event(self.clock(), outcome.action_id.value, "action", status, text)])
        severity: Severity = "information" if good else "warning" if mild else "error"
        return Notice(text, severity, 8 if good else 20)

    def _runner(self) -> ActionRunner:
        if self.runner is None:
            raise RuntimeError(NO_ACTIONS)
        return self.runner


def auto_abort_after(action_id: ActionId, watch: AutoAbortWatch, now: datetime) -> AutoAbortWatch:
    """What the action's declaration says it does to auto-abort: arm it, disarm it, or nothing."""
    role = action(action_id).auto_abort
    if role is AutoAbortRole.ARMS:
        return armed(now)
    if role is AutoAbortRole.DISARMS:
        return AutoAbortWatch()
    return watch


def broken_off(action_id: ActionId, error: Exception, *, started: bool) -> Outcome:
    """An action stopped by something other than its own steps (its journal write failing).

    Once confirmed, the change may already have been made, so the message says to look first.
    """
    what = f"{action_id.value} stopped: {describe_failure(error)}"
    if started:
        what += ": it may have changed something: read the panels before pressing again"
    return Outcome(action_id, "failed", what)
