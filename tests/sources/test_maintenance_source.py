"""The maintenance signal against the sandbox, and the line the traffic panel draws from it."""

from __future__ import annotations

import io
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from textual.app import App, ComposeResult

from cockpit.clock import FrozenClock
from cockpit.config import Config, MaintenanceSection, load_config
from cockpit.io.context import SourceContext
from cockpit.io.maintenance import MaintenanceWriter
from cockpit.live.poller import poll_once
from cockpit.model import Reading, SignalKind, Status, reading_from_json
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.session.view import CockpitView
from cockpit.sources.build import build_sources
from cockpit.sources.maintenance import MaintenanceSource, build_maintenance_sources
from screens.cockpit_screen import CockpitScreen
from tests.ui.samples import without_gutter
from widgets.traffic_panel import TrafficPanel, maintenance_line

T0 = datetime(2026, 11, 23, 2, 16, 3, tzinfo=UTC)


def context_for(sandbox: SandboxHandle, config: Config | None = None) -> SourceContext:
    return SourceContext(
        config or load_config(sandbox.config_path),
        environ={**os.environ, **sandbox.env},
        clock=FrozenClock(T0),
    )


async def poll(source: MaintenanceSource) -> Reading:
    readings, _ = await poll_once(source)
    (reading,) = readings
    return reading


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- building ----------------------------------------------------------------------------------


def test_no_maintenance_section_builds_no_source(sandbox: SandboxHandle) -> None:
    config = load_config(sandbox.config_path).model_copy(update={"maintenance": None})
    context = context_for(sandbox, config)
    assert build_maintenance_sources(context) == []
    assert not any(isinstance(s, MaintenanceSource) for s in build_sources(context))


def test_the_source_is_built_with_its_own_schedule(sandbox: SandboxHandle) -> None:
    context = context_for(sandbox)
    (source,) = build_maintenance_sources(context)
    assert isinstance(source, MaintenanceSource)
    assert (source.name, source.kind, source.signal_ids) == (
        "maintenance (alb)",
        SignalKind.MAINTENANCE,
        ("maintenance",),
    )
    schedule = source.schedule
    assert (schedule.interval_seconds, schedule.timeout_seconds) == (2.0, 3.0)
    assert schedule.stale_after_seconds == 3 * 2.0 + 3.0
    assert sum(isinstance(s, MaintenanceSource) for s in build_sources(context)) == 1


# --- reading the sandbox -----------------------------------------------------------------------


async def test_the_reading_follows_maintenance_on_and_off(sandbox: SandboxHandle) -> None:
    context = context_for(sandbox)
    (source,) = build_maintenance_sources(context)
    assert isinstance(source, MaintenanceSource)
    section = context.config.maintenance
    assert section is not None
    writer = MaintenanceWriter(section, context.aws, context.environ)

    off = await poll(source)
    assert (off.status, off.detail) == (Status.OK, "off: front door answers 200")
    assert dict(off.values) == {
        "on": False,
        "probe_status": 200,
        "rule_present": False,
        "backend": "alb",
    }
    assert (off.kind, off.observed_at, off.stale_after_seconds) == (
        SignalKind.MAINTENANCE,
        T0,
        9.0,
    )

    writer.switch(True)
    on = await poll(source)
    assert (on.status, on.detail) == (Status.OK, "ON: front door answers 503")
    assert (on.values["on"], on.values["probe_status"], on.values["rule_present"]) == (
        True,
        503,
        True,
    )

    writer.switch(False)
    assert (await poll(source)).values["on"] is False


async def test_a_front_door_nobody_answers_is_unknown_with_the_reason(
    sandbox: SandboxHandle,
) -> None:
    webhook = {"on_url": "http://127.0.0.1:9/on", "off_url": "http://127.0.0.1:9/off"}
    probe_url = f"http://127.0.0.1:{free_port()}/"
    section = MaintenanceSection.model_validate({"probe_url": probe_url, "webhook": webhook})
    config = load_config(sandbox.config_path).model_copy(update={"maintenance": section})
    (source,) = build_maintenance_sources(context_for(sandbox, config))
    assert isinstance(source, MaintenanceSource)
    reading = await poll(source)
    assert reading.status is Status.UNKNOWN
    assert reading.detail == f"probe {probe_url} failed: connection refused"
    assert dict(reading.values) == {
        "on": None,
        "probe_status": None,
        "rule_present": None,
        "backend": "webhook",
    }


# --- what the traffic panel shows --------------------------------------------------------------

# Recorded with `cockpit check --json` on `cockpit sandbox up`, maintenance switched on by the
# ALB writer; the others changed from it as named.
RECORDED_ON: dict[str, Any] = {
    "signal": "maintenance",
    "kind": "maintenance",
    "status": "ok",
    "observed_at": T0.isoformat(),
    "values": {"on": True, "probe_status": 503, "rule_present": True, "backend": "alb"},
    "detail": "ON: front door answers 503",
    "stale_after_seconds": 9.0,
}


def recorded(**changes: Any) -> Reading:
    values = changes.pop("values", {})
    data = {**RECORDED_ON, **changes}
    data["values"] = {**RECORDED_ON["values"], **values}
    return reading_from_json(data)


OFF = recorded(
    values={"on": False, "probe_status": 200, "rule_present": False},
    detail="off: front door answers 200",
)
DISAGREE = recorded(
    status="unknown",
    values={"on": None, "probe_status": 200},
    detail="fixed-response rule at priority 1 is in place but the front door answers 200 "
    "(maintenance answers 503)",
)
FAILED_POLL = recorded(
    status="unknown", values={"on": None, "error": "timeout after 3 s"}, detail="timeout after 3 s"
)

LINE_CASES = [
    (recorded(), 2, "maintenance ON — front door answers 503 (2s ago)"),
    (OFF, 2, "maintenance off — front door answers 200 (2s ago)"),
    (
        DISAGREE,
        2,
        "maintenance UNKNOWN: fixed-response rule at priority 1 is in place but the front door "
        "answers 200 (maintenance answers 503)",
    ),
    (FAILED_POLL, 2, "maintenance UNKNOWN: timeout after 3 s"),
    (recorded(), 45, "maintenance UNKNOWN: reading STALE, 45s old"),
]


@pytest.mark.parametrize(("reading", "age", "line"), LINE_CASES)
def test_the_maintenance_line(reading: Reading, age: float, line: str) -> None:
    assert maintenance_line(reading, T0 + timedelta(seconds=age)).plain == line


TRAFFIC = reading_from_json(
    {
        "signal": "traffic",
        "kind": "traffic",
        "status": "ok",
        "observed_at": T0.isoformat(),
        "values": {
            "weights": {"old": 100.0, "new": 0.0},
            "raw_weights": {"old": 100, "new": 0},
            "backend": "route53",
            "steps": [0, 5, 10, 25, 50, 75, 100],
            "step_index": 0,
            "next_step_percent": 5,
            "previous_step_percent": None,
            "ttl_seconds": 30,
            "maintenance_rule": None,
        },
        "detail": "old 100 % / new 0 % (step 1 of 7: 0 %)",
        "stale_after_seconds": 8.0,
    }
)


class ScreenHost(App[None]):
    """The cockpit screen alone, so a view can be handed to it as the app would."""

    def on_mount(self) -> None:
        self.push_screen(
            CockpitScreen(cutover_name="test", mode="LIVE", operator="a@b", journal_path="j")
        )


def drawn(panel: TrafficPanel) -> list[str]:
    console = Console(width=76, file=io.StringIO(), record=True, color_system=None)
    console.print(panel.render())
    return [
        line.rstrip() for line in without_gutter(console.export_text()).rstrip("\n").split("\n")
    ]


async def test_the_screen_hands_the_maintenance_reading_to_the_traffic_panel() -> None:
    now = T0 + timedelta(seconds=2)
    async with ScreenHost().run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, CockpitScreen)
        screen.show(CockpitView(now=now, readings=(recorded(), TRAFFIC)))
        await pilot.pause()
        panel = screen.query_one(TrafficPanel)
        assert panel.maintenance == recorded()
        panel.show_end()
        await pilot.pause()
        lines = drawn(panel)
        assert lines[0].startswith("▲ ")
        assert lines[-2:] == ["2s ago", "maintenance ON — front door answers 503 (2s ago)"]

        screen.show(CockpitView(now=now, readings=(TRAFFIC,)))
        await pilot.pause()
        assert panel.maintenance is None
        assert not any("maintenance ON" in line for line in drawn(panel))


class PanelHost(App[None]):
    def __init__(self, panel: TrafficPanel) -> None:
        super().__init__()
        self.panel = panel

    def compose(self) -> ComposeResult:
        yield self.panel


async def test_without_traffic_readings_the_maintenance_line_still_shows() -> None:
    panel = TrafficPanel()
    async with PanelHost(panel).run_test(size=(80, 24)) as pilot:
        panel.now = T0 + timedelta(seconds=2)
        panel.maintenance = OFF
        await pilot.pause()
        assert drawn(panel) == [
            "waiting for the first reading…",
            "maintenance off — front door answers 200 (2s ago)",
        ]
        panel.configured = False
        await pilot.pause()
        assert drawn(panel)[0] == "not configured"
