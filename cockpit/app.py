"""The composition root: sources, poller, state, journal and screen meet here and nowhere else."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from cockpit.clock import Clock, system_clock
from cockpit.config import Config
from cockpit.events import EventLog, events_from_changes
from cockpit.journal import JournalWriter
from cockpit.model import Reading, SignalKind
from cockpit.poller import Poller
from cockpit.redact import Redactor, redacted_reading
from cockpit.runbook import current_phase, evaluate_runbook
from cockpit.sources.base import Source
from cockpit.state import State, StatusChange, apply
from screens.cockpit_screen import PANELS, CockpitScreen, CockpitView
from screens.help_screen import HelpScreen
from widgets.errors_panel import ErrorsPanel
from widgets.replication_panel import ReplicationPanel

SPARKLINE_VALUES = frozenset({*ReplicationPanel.sparkline_values, *ErrorsPanel.sparkline_values})


def configured_kinds(config: Config) -> frozenset[SignalKind]:
    """The signal families the config has a section for."""
    sections = {
        SignalKind.REPLICATION: config.replication,
        SignalKind.TARGETS: config.targets,
        SignalKind.DNS: config.dns,
        SignalKind.ERRORS: config.errors,
        SignalKind.TRAFFIC: config.traffic,
    }
    return frozenset(kind for kind, section in sections.items() if section is not None)


def operator_name(environ: Mapping[str, str]) -> str:
    """user@host, as the journal header names the operator."""
    user = environ.get("USER") or environ.get("LOGNAME") or getpass.getuser()
    return f"{user}@{socket.gethostname()}"


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
        self.cockpit = CockpitScreen(
            cutover_name=config.cutover.name,
            mode=mode,
            operator=operator,
            journal_path=str(journal.path) if journal else "",
        )

    def on_mount(self) -> None:
        self.push_screen(self.cockpit)
        self.set_interval(self.config.cutover.refresh_seconds, self.refresh_view)
        if self._poll:
            self.call_after_refresh(self._start_polling)

    def _start_polling(self) -> None:
        """Builds the sources after the first frame is drawn, so the screen appears at once."""
        sources = self._sources() if callable(self._sources) else self._sources
        self._poller = Poller(sources, self.receive_readings, self.clock)
        self._poller.start()

    async def on_unmount(self) -> None:
        if self._poller is not None:
            await self._poller.stop()

    def receive_readings(self, readings: list[Reading]) -> None:
        """Folds new readings into the state; status changes go to the event log and journal.

        Secrets are removed here, once, so neither the screen nor the journal ever holds them.
        """
        clean = [redacted_reading(self.redactor, reading) for reading in readings]
        self.state, changes = apply(self.state, clean)
        if changes:
            self.event_log.add(events_from_changes(changes))
            self._journal_changes(changes)
        self.refresh_view()

    def _journal_changes(self, changes: Sequence[StatusChange]) -> None:
        if self.journal is None:
            return
        for change in changes:
            self.journal.append(
                "status",
                {
                    "signal": change.signal_id,
                    "before": change.before.value if change.before else None,
                    "after": change.after.value,
                    "detail": change.reading.detail,
                },
            )

    def build_view(self) -> CockpitView:
        now = self.clock()
        readings = tuple(sorted(self.state.readings(), key=lambda r: r.signal_id))
        series = {
            (reading.signal_id, name): tuple(
                v for _, v in self.state.series(reading.signal_id, name)
            )
            for reading in readings
            for name in SPARKLINE_VALUES
        }
        checks = evaluate_runbook(self.state, now)
        return CockpitView(
            now=now,
            readings=readings,
            series=series,
            checks=checks,
            events=self.event_log.latest(200),
            phase=current_phase(checks, self.state, now),
            configured_kinds=self._configured,
        )

    def refresh_view(self) -> None:
        if self.cockpit.is_ready:
            self.cockpit.show(self.build_view())

    def on_cockpit_screen_ready(self, message: CockpitScreen.Ready) -> None:
        self.refresh_view()

    def key_help(self) -> list[tuple[str, str]]:
        """Every key the cockpit answers to, from the bindings themselves."""
        keys = [(b.key, b.description) for b in _bindings(self.BINDINGS)]
        keys += [(b.key, b.description) for b in _bindings(CockpitScreen.BINDINGS)]
        keys += [(spec.key, f"show the {spec.short_name} panel") for spec in PANELS]
        keys.append(("ctrl+p", "command palette: every command"))
        return list(dict.fromkeys(keys))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help()))

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


def _bindings(bindings: Sequence[BindingType]) -> list[Binding]:
    return [b for b in bindings if isinstance(b, Binding) and b.description]
