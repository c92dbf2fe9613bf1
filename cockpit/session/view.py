"""The view model: everything the cockpit screen draws at one moment, live, replayed or followed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cockpit.config import Config
from cockpit.live.events import Event
from cockpit.live.state import SPARKLINE_VALUES as SPARKLINE_VALUES
from cockpit.live.state import State
from cockpit.model import Reading, SignalKind
from cockpit.rules.runbook import StepCheck, current_phase, evaluate_runbook
from cockpit.session.action_rows import ActionRow as ActionRow
from cockpit.session.overview import Overview, overview

EVENTS_SHOWN = 200


@dataclass(frozen=True)
class CockpitView:
    """Everything the screen draws at one moment, computed from the state."""

    now: datetime
    readings: tuple[Reading, ...] = ()
    series: dict[tuple[str, str], tuple[float, ...]] = field(default_factory=dict)
    checks: tuple[StepCheck, ...] = ()
    events: tuple[Event, ...] = ()
    phase: str = "starting"
    configured_kinds: frozenset[SignalKind] = frozenset(SignalKind)
    actions: tuple[ActionRow, ...] = ()
    auto_abort_line: str = ""
    read_only: bool = False
    read_only_reason: str | None = None
    overview: Overview = field(default_factory=Overview)


def configured_kinds(config: Config) -> frozenset[SignalKind]:
    """The signal families the config has a section for."""
    sections = {
        SignalKind.REPLICATION: config.replication,
        SignalKind.TARGETS: config.targets,
        SignalKind.DNS: config.dns,
        SignalKind.WORLD_DNS: _world_dns(config),
        SignalKind.ERRORS: config.errors,
        SignalKind.TRAFFIC: config.traffic,
        SignalKind.MAINTENANCE: config.maintenance,
        SignalKind.INTEGRITY: config.integrity,
    }
    return frozenset(kind for kind, section in sections.items() if section is not None)


def _world_dns(config: Config) -> object | None:
    """The measuring services' sections, when the config has any."""
    dns = config.dns
    if dns is None:
        return None
    return dns.globalping or dns.ripe_atlas


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
    config: Config | None = None,
) -> CockpitView:
    """What the screen draws for this state at `now`: live, replayed or followed alike.

    With the config, the runbook names the new side's targets as the guards do; a replay
    without one reads the side from the readings.
    """
    readings = tuple(sorted(state.readings(), key=lambda r: r.signal_id))
    series = {
        (reading.signal_id, name): state.numbers(reading.signal_id, name)
        for reading in readings
        for name in SPARKLINE_VALUES
    }
    checks = evaluate_runbook(state, now, config)
    judged = overview(
        state,
        now,
        checks=checks,
        actions=actions,
        configured_kinds=configured_kinds,
        config=config,
        no_actions_reason=read_only_reason,
    )
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
        overview=judged,
    )
