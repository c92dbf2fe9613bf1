"""The world line on the DNS panel, at 80x24: drawn under its record, apart from the resolvers.

The world readings are made by the source's own functions from the recorded Globalping and
RIPE Atlas payloads (tests/fixtures/world_dns/, built from the services' published API shapes).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.clock import FrozenClock
from cockpit.config import config_from_data
from cockpit.model import Reading, SignalKind
from cockpit.session.view import configured_kinds
from cockpit.sources.dns_world import Pacing
from cockpit.sources.dns_world_values import BudgetValues
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import drawn_text, make_app, panel
from tests.ui.test_dns_traffic_panels import after, drawn, lines_of, recorded
from tests.world_dns_samples import RECORD, world_reading
from widgets.dns_panel import DnsPanel


async def world_drawn(
    dns: tuple[Reading, ...],
    world: tuple[Reading, ...],
    now: datetime,
    panel_height: int | None = None,
) -> tuple[str, DnsPanel]:
    dns_panel = DnsPanel()
    dns_panel.world = world
    shown, _ = await drawn(dns_panel, dns, now, panel_height=panel_height)
    return shown.text, dns_panel


async def test_the_world_line_sits_under_its_record_apart_from_the_resolvers() -> None:
    reading = recorded("dns_propagating_three_of_four")
    world = world_reading("globalping_finished_mixed", reading.observed_at)
    text, dns_panel = await world_drawn((reading,), (world,), after(reading, 2))
    lines = lines_of(text)
    assert lines[0].startswith("WARN app.cutover.test A  75 % converged (3/4)")
    first_world = next(i for i, line in enumerate(lines) if "world (Globalping)" in line)
    assert any("cache-1" in line for line in lines[:first_world])
    assert lines[first_world] == "  WARN world (Globalping)  50 % new (3/6 probes)"
    assert lines[first_world + 1].startswith("    slowest: NA 0 %, OC 0 %, SA 0 %  old gone by ")
    assert "TTL ≤ 300 s" in text
    assert "244/250" not in text  # no budget heard yet: nothing shown, never 0
    assert lines[-1] == "2s ago"
    assert all(len(line) <= 76 for line in lines)
    assert dns_panel.has_class("-warn")
    assert dns_panel.border_title == "DNS · WARN · 2s"


async def test_world_ok_stays_out_of_the_resolvers_status() -> None:
    reading = recorded("dns_not_switched")
    world = world_reading("globalping_finished_new", reading.observed_at)
    text, dns_panel = await world_drawn((reading,), (world,), after(reading, 2))
    assert "OK world (Globalping)  100 % new (6/6 probes)  no old answers" in text
    assert dns_panel.border_title == "DNS · OK · 2s"


async def test_stopped_without_results_says_why_and_never_zero_percent() -> None:
    reading = recorded("dns_not_switched")
    stopped = Pacing(
        "stopped",
        reading.observed_at + timedelta(hours=1),
        "out of credits: You do not have enough credit to schedule this measurement.; "
        "stopped measuring until 01:55:43Z (1h 0m)",
    )
    world = world_reading(None, reading.observed_at, service="atlas", pacing=stopped)
    text, _ = await world_drawn((reading,), (world,), after(reading, 2))
    assert "UNKNOWN world (RIPE Atlas)  no measurement yet" in text
    assert "    stopped: out of credits: You do not have enough credit to schedule" in text
    assert "0 %" not in text.split("world (RIPE Atlas)")[1]


async def test_a_slowed_pace_and_the_budget_are_shown() -> None:
    reading = recorded("dns_not_switched")
    at = reading.observed_at
    slowed = Pacing("slowed", at + timedelta(minutes=15), "slowed down: ...")
    budget = BudgetValues("tests", 40, 250, at + timedelta(minutes=30), None, 6)
    world = world_reading("globalping_finished_new", at, pacing=slowed, budget=budget)
    text, _ = await world_drawn((reading,), (world,), after(reading, 2))
    assert "WARN world (Globalping)" in text
    assert "slowed to save budget, next 01:10:43Z" in text
    assert "40/250 tests left" in text


async def test_many_records_keep_one_world_row_each() -> None:
    base = recorded("dns_propagating_three_of_four")
    names = [f"r{i}.cutover.test" for i in range(6)]
    dns = tuple(replace(base, signal_id=f"dns:{name}") for name in names)
    world = tuple(
        world_reading("globalping_finished_mixed", base.observed_at, record_name=name)
        for name in names
    )
    text, _ = await world_drawn(dns, world, after(base, 2), panel_height=20)
    lines = lines_of(text)
    world_lines = [line for line in lines if "world (Globalping)" in line]
    assert world_lines
    assert all(line.startswith("  WARN world (Globalping)  50 % new") for line in world_lines)
    assert all(len(line) <= 76 for line in lines)


async def test_the_cockpit_feeds_world_readings_to_the_dns_panel_at_80x24() -> None:
    readings = recorded_readings()
    dns = next(r for r in readings if r.kind is SignalKind.DNS)
    record = dns.signal_id.removeprefix("dns:")
    world = world_reading("globalping_finished_mixed", dns.observed_at, record_name=record)
    clock = FrozenClock(moment_after(readings))
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.receive_readings([*readings, world])
        await pilot.pause()
        await pilot.press("3")
        await pilot.pause()
        dns_panel = panel(app, "dns")
        assert isinstance(dns_panel, DnsPanel)
        assert dns_panel.world == (world,)
        assert "world (Globalping)  50 % new (3/6 probes)" in drawn_text(dns_panel)
        assert world not in dns_panel.readings


def test_the_overview_has_a_world_line_only_when_a_service_is_configured(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "cutover": {"name": "world"},
        "dns": {
            "resolvers": ["127.0.0.1"],
            "records": [{"name": RECORD, "expect": "198.51.100.20", "old": "192.0.2.10"}],
        },
    }
    plain = config_from_data(data, source="t", base_dir=tmp_path)
    assert SignalKind.WORLD_DNS not in configured_kinds(plain)
    data["dns"]["globalping"] = {}
    measured = config_from_data(data, source="t", base_dir=tmp_path)
    assert SignalKind.WORLD_DNS in configured_kinds(measured)
