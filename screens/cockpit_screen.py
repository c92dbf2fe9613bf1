"""The one screen for cutover night: header, every status, the panels, the keys that matter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.css.query import NoMatches
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.runbook import StepCheck, StepState
from cockpit.session.view import CockpitView
from screens.detail_screen import DetailScreen
from widgets.actions_panel import ActionsPanel, action_bar_text
from widgets.dns_panel import DnsPanel
from widgets.errors_panel import ErrorsPanel
from widgets.event_log import EventLogPanel
from widgets.header_bar import HeaderBar
from widgets.integrity_panel import IntegrityPanel
from widgets.key_bar import KeyBar
from widgets.overview_panel import VERDICT_STATUS, OverviewPanel
from widgets.panel import ScrollPanel, SignalPanel
from widgets.replication_panel import ReplicationPanel
from widgets.runbook_panel import RunbookPanel
from widgets.status_strip import StatusStrip
from widgets.targets_panel import TargetsPanel
from widgets.traffic_panel import TrafficPanel

COMPACT_BELOW_COLUMNS = 120
COMPACT_BELOW_ROWS = 36


@dataclass(frozen=True)
class PanelSpec:
    """A panel's place: its number key, its short name in the status strip, its widget id."""

    key: str
    short_name: str
    panel_id: str


OVERVIEW = PanelSpec("0", "GO", "overview")
PANELS = (
    OVERVIEW,
    PanelSpec("1", "REPL", "replication"),
    PanelSpec("2", "TGT", "targets"),
    PanelSpec("3", "DNS", "dns"),
    PanelSpec("4", "ERR", "errors"),
    PanelSpec("5", "TRAF", "traffic"),
    PanelSpec("6", "BOOK", "runbook"),
    PanelSpec("7", "LOG", "events"),
    PanelSpec("8", "ACT", "actions"),
    PanelSpec("9", "INTG", "integrity"),
)

GRID_ROWS = (
    ("replication", "traffic"),
    ("targets", "errors"),
    ("dns",),
    ("runbook", "events"),
    ("actions", "integrity"),
)
"""The panels' places in the grid, row by row (a panel alone in its row spans both columns)."""
PANEL_WIDGETS: dict[str, type[ScrollPanel]] = {
    "replication": ReplicationPanel,
    "traffic": TrafficPanel,
    "targets": TargetsPanel,
    "errors": ErrorsPanel,
    "dns": DnsPanel,
    "runbook": RunbookPanel,
    "events": EventLogPanel,
    "actions": ActionsPanel,
    "integrity": IntegrityPanel,
}
SHOWN_ROW = "2fr"
OTHER_ROW = "1fr"


class CockpitScreen(Screen[None]):
    """Header, status strip, go/no-go overview, panels (a grid or one at a time), footer.

    At 80x24 one panel shows at a time, the overview first; from 120x36 up the overview is a
    strip over the grid, in as many columns as fit, so the go/no-go is read first there too.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(spec.key, f"show_panel('{spec.panel_id}')", spec.short_name, show=False)
            for spec in PANELS
        ),
        Binding("tab", "cycle_panel(1)", "Next panel"),
        Binding("shift+tab", "cycle_panel(-1)", "Previous panel", show=False),
    ]

    DEFAULT_CSS = """
    CockpitScreen #panels {
        layout: grid;
        grid-size: 2 5;
        grid-columns: 1fr 1fr;
    }
    CockpitScreen #panels > #dns { column-span: 2; }
    CockpitScreen #action-bar { height: 1; padding: 0 1; }
    CockpitScreen.-compact #panels { layout: vertical; }
    CockpitScreen.-compact #panels > * { display: none; }
    CockpitScreen.-compact #panels > .-shown { display: block; height: 1fr; }
    CockpitScreen.-compact #overview { display: none; }
    CockpitScreen.-compact #overview.-shown { display: block; }
    CockpitScreen.-compact.-overview-shown #panels { display: none; }
    """

    class Ready(Message):
        """The screen's widgets are mounted: the app may hand it the first view."""

    def __init__(self, *, cutover_name: str, mode: str, operator: str, journal_path: str) -> None:
        super().__init__()
        self._header_values = (cutover_name, mode, operator, journal_path)
        self.shown_panel = PANELS[0].panel_id
        self.is_ready = False
        self._action_bar_shown: Text | None = None

    def compose(self) -> ComposeResult:
        header = HeaderBar()
        header.cutover_name, header.mode, header.operator, header.journal_path = self._header_values
        yield header
        yield StatusStrip()
        yield OverviewPanel(id="overview")
        with Container(id="panels"):
            for row in GRID_ROWS:
                for panel_id in row:
                    yield PANEL_WIDGETS[panel_id](id=panel_id)
        yield Static(id="action-bar")
        yield KeyBar()

    def on_mount(self) -> None:
        self._mark_shown()
        self.is_ready = True
        self.post_message(self.Ready())

    def on_resize(self, event: Resize) -> None:
        compact = event.size.width < COMPACT_BELOW_COLUMNS or event.size.height < COMPACT_BELOW_ROWS
        self.set_class(compact, "-compact")
        self.query_one(OverviewPanel).set_class(not compact, "-strip")

    def show(self, view: CockpitView) -> None:
        """Hands each widget its part of the view; widgets redraw only what changed.

        A view that arrives while the app is shutting down (an action's worker finishing) finds
        the widgets already gone and is dropped.
        """
        try:
            self._show(view)
        except NoMatches:
            if self.app.is_running and self.is_ready:
                raise

    def on_unmount(self) -> None:
        self.is_ready = False

    def show_recording_problem(self, problem: str) -> None:
        """The header's journal slot says the session is not being recorded, and why."""
        header = self.query_one(HeaderBar)
        header.journal_path = problem

    def _show(self, view: CockpitView) -> None:
        header = self.query_one(HeaderBar)
        header.now, header.phase = view.now, view.phase
        panel_statuses: dict[str, Status | None] = {}
        words: dict[str, str] = {}
        for panel in self.query(SignalPanel):
            if panel.kind is not None:
                self._feed(panel, view)
                panel_statuses[panel.id or ""] = panel.panel_status()
                if not panel.configured:
                    words[panel.id or ""] = "OFF"
        self.query_one(TrafficPanel).maintenance = _latest_of(view.readings, SignalKind.MAINTENANCE)
        world = tuple(r for r in view.readings if r.kind is SignalKind.WORLD_DNS)
        self.query_one(DnsPanel).world = world
        self.query_one(OverviewPanel).overview = view.overview
        runbook = self.query_one(RunbookPanel)
        runbook.now, runbook.checks = view.now, view.checks
        self.query_one(EventLogPanel).events = view.events
        done = sum(check.state is StepState.DONE for check in view.checks)
        words |= {"runbook": f"{done}/{len(view.checks)}", "events": str(len(view.events))}
        words["actions"] = self._show_actions(view)
        panel_statuses["actions"] = Status.OK if view.actions else None
        panel_statuses["runbook"] = _runbook_status(view.checks)
        panel_statuses["events"] = Status.OK if view.events else None
        panel_statuses["overview"] = VERDICT_STATUS[view.overview.next_step.verdict]
        words["overview"] = view.overview.next_step.verdict.value
        self.query_one(StatusStrip).entries = tuple(
            (
                spec.key,
                spec.short_name,
                panel_statuses.get(spec.panel_id),
                words.get(spec.panel_id, ""),
            )
            for spec in PANELS
        )

    def _show_actions(self, view: CockpitView) -> str:
        """The actions panel and the one-line bar; returns the status strip's word."""
        actions = self.query_one(ActionsPanel)
        actions.rows = view.actions
        actions.read_only_reason = (
            (view.read_only_reason or "READ-ONLY session: no action can run")
            if view.read_only
            else None
        )
        actions.auto_abort_line = view.auto_abort_line
        bar = action_bar_text(view.actions, read_only=view.read_only)
        if bar != self._action_bar_shown:
            self._action_bar_shown = bar
            self.query_one("#action-bar", Static).update(bar, layout=False)
        return "read-only" if view.read_only else f"{actions.ready_count()} ready"

    def _feed(self, panel: SignalPanel, view: CockpitView) -> None:
        mine = tuple(r for r in view.readings if r.kind is panel.kind)
        panel.configured = panel.kind in view.configured_kinds
        panel.series = {
            (reading.signal_id, name): view.series.get((reading.signal_id, name), ())
            for reading in mine
            for name in panel.sparkline_values
        }
        panel.now = view.now
        panel.readings = mine

    def on_scroll_panel_row_opened(self, message: ScrollPanel.RowOpened) -> None:
        self.app.push_screen(DetailScreen(message.detail))

    def action_show_panel(self, panel_id: str) -> None:
        self.shown_panel = panel_id
        self._mark_shown()

    def action_cycle_panel(self, step: int) -> None:
        ids = [spec.panel_id for spec in PANELS]
        self.shown_panel = ids[(ids.index(self.shown_panel) + step) % len(ids)]
        self._mark_shown()

    def _mark_shown(self) -> None:
        for spec in PANELS:
            self.query_one(f"#{spec.panel_id}").set_class(
                spec.panel_id == self.shown_panel, "-shown"
            )
        self.set_class(self.shown_panel == OVERVIEW.panel_id, "-overview-shown")
        key = next(spec.key for spec in PANELS if spec.panel_id == self.shown_panel)
        self.query_one(StatusStrip).active = key
        self.query_one("#panels").styles.grid_rows = grid_rows(self.shown_panel)
        self.query_one(f"#{self.shown_panel}").focus()


def grid_rows(shown_panel: str) -> str:
    """The grid's row heights: the shown panel's row twice the others, so it has room to read."""
    heights = [SHOWN_ROW if shown_panel in row else OTHER_ROW for row in GRID_ROWS]
    return " ".join(heights)


def _latest_of(readings: tuple[Reading, ...], kind: SignalKind) -> Reading | None:
    """The newest reading of `kind`, None when there is none."""
    of_kind = [reading for reading in readings if reading.kind is kind]
    return max(of_kind, key=lambda reading: reading.observed_at, default=None)


def _runbook_status(checks: tuple[StepCheck, ...]) -> Status | None:
    """OK when every step is done, WARN while steps remain (the strip shows the count)."""
    if not checks:
        return None
    return Status.OK if all(c.state is StepState.DONE for c in checks) else Status.WARN
