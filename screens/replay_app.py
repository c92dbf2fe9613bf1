"""The cockpit screen driven by a journal, for `cockpit replay` and `cockpit replay --follow`.

Replay plays a finished (or crashed) session back at a chosen speed; follow watches a journal
another cockpit is writing, read-only and without its lock. Either way every panel draws only
what the journal holds, and no key can run an action.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.widgets import Static

from cockpit.actions.approval import (
    ApprovalRequest,
    ApprovalUnavailable,
    Person,
    current_person,
    pending_requests,
)
from cockpit.actions.approving import (
    ApprovalNotWritten,
    ApprovalRefused,
    approve_request,
    request_lines,
    requester_refusal,
)
from cockpit.actions.registry import ACTIONS
from cockpit.clock import Clock, system_clock
from cockpit.journal.chain import JournalError
from cockpit.journal.follow import JournalTail
from cockpit.journal.verify import verify_journal
from cockpit.live.state import State
from cockpit.model import SignalKind
from cockpit.review.replay import (
    LONG_STEP_SECONDS,
    STEP_SECONDS,
    ReplayController,
    chain_problem,
    clock_text,
    journal_kinds,
)
from cockpit.review.timeline import Mark, Timeline, moment
from cockpit.session.action_rows import action_row
from cockpit.session.view import EVENTS_SHOWN, ActionRow, CockpitView, cockpit_view
from cockpit.visible import visible
from screens.approve_request import ApproveRequestScreen, ApproverWords
from screens.cockpit_commands import key_help, panel_help, status_help
from screens.cockpit_screen import CockpitScreen
from screens.held_toasts import HeldToastsApp
from screens.help_screen import HelpScreen
from screens.replay_seek import ReplaySeekScreen
from widgets.actions_panel import action_bar_text
from widgets.header_bar import HeaderBar
from widgets.replay_bar import ReplayBar, ReplayStatus

REPLAY_MODE = "REPLAY"
FOLLOW_MODE = "FOLLOW"
WRITER_GONE = "WRITER GONE: its cockpit stopped without closing the journal (crashed or killed)"
REPLAY_TICK_SECONDS = 0.2
FOLLOW_POLL_SECONDS = 0.25
NOTHING_RUNS = {
    REPLAY_MODE: "REPLAY: nothing can run from here",
    FOLLOW_MODE: "FOLLOW: watching another session; nothing can run from here",
}


def journaled_rows(timeline: Timeline, at: datetime) -> tuple[ActionRow, ...]:
    """Each action whose guards the journal recorded by `at`, in registry order, as journaled.

    An action with no guard record is left out unless it was running then.
    """
    guards = {found.action: found for found in timeline.guards_at(at)}
    running = set(timeline.running_at(at))
    rows = []
    for spec in ACTIONS:
        action = spec.action_id.value
        found = guards.get(action)
        if found is None and action not in running:
            continue
        rows.append(action_row(spec, found.guards if found else (), action in running))
    return tuple(rows)


def mark_hint(mark: Mark | None) -> str:
    """'01:05:00Z promote by alice@bastion: SUCCEEDED', or '' without a mark."""
    return "" if mark is None else f"{clock_text(mark.at)} {mark.text}"


class ReplayApp(HeldToastsApp):
    """The cockpit screen at a moment of a journal, moved by a clock, a speed and the keys.

    `journal` is a loaded Timeline or a journal's path; follow needs the path, which it polls
    for new records. `chain_problem` is the hash chain's break, shown in the bar.
    """

    TITLE = "cutover-cockpit replay"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding(
            "space", "play_pause", "Play/pause", tooltip="play or pause; at the end: from start"
        ),
        Binding("g", "seek", "Seek", tooltip="go to a typed time (pauses there)"),
        Binding(
            "right_square_bracket",
            "next_mark",
            "Next mark",
            key_display="]",
            tooltip="next action or note (pauses there)",
        ),
        Binding(
            "left_square_bracket",
            "previous_mark",
            "Prev mark",
            key_display="[",
            tooltip="previous action or note (pauses there)",
        ),
        Binding(
            ">,full_stop", "faster", "Faster", key_display=">", tooltip="faster: 1 2 5 10 30 60x"
        ),
        Binding("<,comma", "slower", "Slower", key_display="<", tooltip="slower: 60 30 10 5 2 1x"),
        Binding("home", "to_start", "Start", show=False, tooltip="the journal's first record"),
        Binding(
            "end", "to_end", "End", show=False, tooltip="the last record (follow: back to live)"
        ),
        Binding("right", f"step({STEP_SECONDS})", "+10 s", show=False, tooltip="10 s later"),
        Binding("left", f"step({-STEP_SECONDS})", "-10 s", show=False, tooltip="10 s earlier"),
        Binding(
            "shift+right", f"step({LONG_STEP_SECONDS})", "+60 s", show=False, tooltip="60 s later"
        ),
        Binding(
            "shift+left",
            f"step({-LONG_STEP_SECONDS})",
            "-60 s",
            show=False,
            tooltip="60 s earlier",
        ),
        Binding(
            "A",
            "approve",
            "Approve",
            show=False,
            tooltip="follow: approve the one-way door the operator is waiting on",
        ),
    ]

    def __init__(
        self,
        journal: Timeline | Path,
        *,
        clock: Clock = system_clock,
        follow: bool = False,
        speed: float = 1.0,
        journal_path: Path | None = None,
        chain_problem: str | None = None,
        approvals_dir: Path | None = None,
    ) -> None:
        """approvals_dir: where a follower approves pending one-way doors (key A); None
        means this view cannot approve (a replay, or a view served to browsers)."""
        super().__init__()
        self.clock = clock
        self.approvals_dir = approvals_dir if follow else None
        self.mode = FOLLOW_MODE if follow else REPLAY_MODE
        self.problem = chain_problem or ""
        self._startup_notes: list[tuple[str, SeverityLevel]] = []
        self._tail: JournalTail | None = None
        self._kinds: tuple[int, frozenset[SignalKind]] = (-1, frozenset())
        self.journal_path = journal_path or (journal if isinstance(journal, Path) else None)
        self.timeline = self._open(journal, follow)
        self.controller = ReplayController(self.timeline, clock, speed=speed, follow=follow)
        if self.problem and not follow:
            self._startup_notes.append((self.problem, "error"))
        self.bar = ReplayBar(id="replay-bar")
        self.cockpit = CockpitScreen(
            cutover_name=self._cutover_name(),
            mode=self.mode,
            operator=self._operators(),
            journal_path=str(self.journal_path or ""),
        )

    def _open(self, journal: Timeline | Path, follow: bool) -> Timeline:
        """The timeline to show: loaded and verified, or (follow) filled from a tail."""
        if follow:
            if not isinstance(journal, Path):
                raise ValueError("follow reads a journal as it grows: pass its path")
            self._tail = JournalTail(journal)
            timeline = Timeline()
            self._read_tail(timeline)
            return timeline
        if isinstance(journal, Timeline):
            timeline = journal
        else:
            timeline = Timeline.load(journal)
            self.problem = self.problem or chain_problem(verify_journal(journal)) or ""
        if timeline.truncated is not None:
            line = timeline.truncated.line_number
            self._startup_notes.append((f"last line {line} is cut mid-write: ignored", "warning"))
        return timeline

    def _cutover_name(self) -> str:
        header = self.timeline.header or {}
        return str(header.get("cutover") or "unnamed cutover")

    def _operators(self) -> str:
        return ", ".join(self.timeline.operators) or "unknown"

    def on_mount(self) -> None:
        self.push_screen(self.cockpit)
        interval = FOLLOW_POLL_SECONDS if self._tail is not None else REPLAY_TICK_SECONDS
        self.set_interval(interval, self.tick)
        for text, severity in self._startup_notes:
            self.notify(text, severity=severity, timeout=30, markup=False)

    async def on_cockpit_screen_ready(self, message: CockpitScreen.Ready) -> None:
        await self.cockpit.mount(self.bar, before="#action-bar")
        self.refresh_view()

    # --- following and playback ------------------------------------------------------------------

    def tick(self) -> None:
        """One step: follow reads what was appended, the playback moves, the screen redraws."""
        if self._tail is not None:
            self._read_tail(self.timeline)
            self.controller.records_added()
        self.controller.tick()
        self.refresh_view()

    def _read_tail(self, timeline: Timeline) -> None:
        """Adds the records written since the last read; damage stops following, said in words."""
        tail = self._tail
        if tail is None:
            return
        try:
            records = tail.read_new()
        except JournalError as error:
            self._stop_following(tail.path, error)
            return
        timeline.add(records)

    def _stop_following(self, path: Path, error: JournalError) -> None:
        self._tail = None
        short = str(error).replace(f"journal {path} ", "journal ").split("; run ")[0]
        self.problem = f"FOLLOW STOPPED: {short}: showing what was read"
        note = f"{error}. Following stopped; the screen keeps what was read before it."
        if self.is_running:
            self.notify(note, severity="error", timeout=30, markup=False)
            if self.timeline.end is not None:
                self.controller.seek(self.timeline.end)
        else:
            self._startup_notes.append((note, "error"))

    # --- approving -------------------------------------------------------------------------------

    def action_approve(self) -> None:
        """Shows the pending request and, once APPROVE and a reason are typed, approves it."""
        directory = self.approvals_dir
        if directory is None:
            self.notify("this view cannot approve: follow the session in your own terminal")
            return
        try:
            pending = pending_requests(directory, self.clock())
        except ApprovalUnavailable as error:
            self.notify(str(error), severity="error", timeout=20, markup=False)
            return
        if not pending.requests:
            self.notify(f"nothing to approve: no pending request in {directory}", markup=False)
            return
        request = min(pending.requests, key=lambda r: r.expires_at)
        approver = current_person()
        refusal = requester_refusal(request, approver)
        if refusal is not None:
            self.notify(f"not approved: {refusal}", severity="warning", timeout=20, markup=False)
            return
        lines = [visible(line) for line in request_lines(request, self.clock())]
        more = len(pending.requests) - 1
        if more:
            lines.append(f"({more} more pending: cockpit approve --run RUN_ID chooses one)")

        def approved(words: ApproverWords | None) -> None:
            if words is not None:
                self._approve(directory, request, approver, words.reason)

        self.push_screen(ApproveRequestScreen(lines), approved)

    def _approve(
        self, directory: Path, request: ApprovalRequest, approver: Person, reason: str
    ) -> None:
        try:
            approve_request(directory, request, approver, reason, self.clock)
        except (ApprovalRefused, ApprovalNotWritten) as problem:
            self.notify(f"not approved: {problem}", severity="error", timeout=20, markup=False)
            return
        self.notify(
            f"approved {request.title} (run {request.run_id}) as {approver.words()}: the "
            "operator's cockpit runs it after checking the guards again",
            timeout=15,
            markup=False,
        )

    # --- drawing ---------------------------------------------------------------------------------

    def refresh_view(self) -> None:
        """Draws the journal's moment at the playback position, and the replay bar.

        A tick that fires while the app shuts down finds the widgets going and draws nothing.
        """
        if not self.is_running or not self.cockpit.is_ready:
            return
        at = self.controller.playback.position
        rows = journaled_rows(self.timeline, at)
        self.cockpit.show(self.build_view(at, rows))
        self.cockpit.query_one("#action-bar", Static).update(self._action_bar(rows))
        self.cockpit.query_one(HeaderBar).operator = self._operators()
        self.bar.status = self.replay_status()

    def build_view(self, at: datetime, rows: tuple[ActionRow, ...]) -> CockpitView:
        """What the live screen drew at `at`, from the journal alone."""
        notice = NOTHING_RUNS[self.mode]
        return cockpit_view(
            self._state_at(at),
            at,
            events=self.timeline.events_until(at, EVENTS_SHOWN),
            configured_kinds=self._configured_kinds(),
            actions=rows,
            auto_abort_line=f"{notice} · guards as journaled" if rows else "",
            read_only=not rows,
            read_only_reason=notice,
        )

    def _state_at(self, at: datetime) -> State:
        """The journal's state at `at`; a reading this version cannot read is said, not raised."""
        try:
            return self.timeline.state_at(at)
        except (ValueError, KeyError) as error:
            self.problem = (
                f"a reading in the journal cannot be read ({error}): "
                "was it written by another cockpit version?"
            )
            return State()

    def _configured_kinds(self) -> frozenset[SignalKind]:
        """The kinds of signal the journal holds, recounted only when a new signal appears."""
        count = len(self.timeline.signal_ids())
        if self._kinds[0] != count:
            self._kinds = (count, journal_kinds(self.timeline))
        return self._kinds[1]

    def _action_bar(self, rows: tuple[ActionRow, ...]) -> Text:
        """The action bar says first that nothing runs here, then the verdicts as journaled."""
        if not rows:
            return Text(NOTHING_RUNS[self.mode], style="bold magenta")
        prefix = Text(f"{self.mode} (nothing runs): ", style="bold magenta")
        width = max(20, self.size.width - 2 - prefix.cell_len)
        return prefix + action_bar_text(rows, width=width)

    def replay_status(self) -> ReplayStatus:
        """The bar's line: play state, position, progress, marks around, and any problem."""
        playback = self.controller.playback
        previous, following = self.controller.mark_hints()
        gone = self.controller.writer_gone
        problem = self.problem or (WRITER_GONE if gone else "")
        return ReplayStatus(
            position=playback.position,
            playing=playback.playing,
            speed=playback.speed,
            progress=playback.progress,
            at_end=playback.at_end,
            follow=playback.follow,
            live=playback.live,
            ended=self.controller.session_ended or gone,
            previous_mark=mark_hint(previous),
            next_mark=mark_hint(following),
            last_record_age_seconds=self.controller.last_record_age() if playback.follow else None,
            problem=problem,
        )

    # --- keys ------------------------------------------------------------------------------------

    def _said(self, message: str | None) -> None:
        """Tells the operator what a key did (when there is something to tell) and redraws."""
        if message:
            self.notify(message, timeout=6, markup=False)
        self.refresh_view()

    def action_play_pause(self) -> None:
        self.controller.toggle()
        self.refresh_view()

    def action_faster(self) -> None:
        self._said(self.controller.faster())

    def action_slower(self) -> None:
        self._said(self.controller.slower())

    def action_next_mark(self) -> None:
        self._said(self.controller.next_mark())

    def action_previous_mark(self) -> None:
        self._said(self.controller.previous_mark())

    def action_step(self, seconds: float) -> None:
        self.controller.step(seconds)
        self.refresh_view()

    def action_to_start(self) -> None:
        self.controller.to_start()
        self.refresh_view()

    def action_to_end(self) -> None:
        self._said(self.controller.to_end())

    def action_seek(self) -> None:
        playback = self.controller.playback
        span = f"the journal runs {_full(playback.start)} → {_full(playback.end)}"
        if playback.follow:
            span += " (and grows)"

        def parse(text: str) -> datetime:
            return moment(text, self.timeline)

        def chosen(at: datetime | None) -> None:
            if at is not None:
                self._said(self.controller.seek(at))

        self.push_screen(ReplaySeekScreen(parse, span), chosen)

    def key_help(self) -> list[tuple[str, str]]:
        """Every key replay answers to, from the bindings themselves."""
        return key_help(self.BINDINGS)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help(), status_help(), panel_help()))


def _full(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%SZ")
