"""The cockpit screen driven by recorded readings and a frozen clock (no sources polling).

Every panel's states are shown: ok, warn and critical from the recorded sandbox readings,
unknown from a failed poll, stale by moving the clock past the readings' limits.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.config import Config, load_config, parse_config
from cockpit.model import Reading, SignalKind, Status
from screens.cockpit_screen import PANELS, CockpitScreen
from screens.help_screen import HelpScreen
from tests.ui.samples import failed, moment_after, recorded_readings
from widgets.header_bar import HeaderBar
from widgets.panel import SignalPanel
from widgets.status_strip import StatusStrip

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def sandbox_like_config() -> Config:
    return load_config(EXAMPLE)


def make_app(clock: FrozenClock, config: Config | None = None) -> CockpitApp:
    return CockpitApp(
        config=config or sandbox_like_config(),
        sources=[],
        clock=clock,
        mode="DRY-RUN",
        operator="alice@bastion",
        poll=False,
    )


def panel(app: CockpitApp, panel_id: str) -> SignalPanel:
    return app.cockpit.query_one(f"#{panel_id}", SignalPanel)


def drawn_text(widget: SignalPanel) -> str:
    """What the panel draws, as plain text."""
    from rich.console import Console

    console = Console(width=160, record=True, file=io.StringIO())
    console.print(widget.render())
    return console.export_text()


def strip_text(app: CockpitApp) -> str:
    return str(app.cockpit.query_one(StatusStrip).render())


async def test_every_panel_shows_its_recorded_status() -> None:
    readings = recorded_readings()
    clock = FrozenClock(moment_after(readings))
    app = make_app(clock)
    async with app.run_test(size=(160, 48)) as pilot:
        app.receive_readings(list(readings))
        await pilot.pause()
        titles = {p.id: str(p.border_title) for p in app.cockpit.query(SignalPanel)}
        assert titles["replication"].startswith("REPLICATION · WARN")
        assert titles["errors"].startswith("ERROR RATES · CRIT")
        assert titles["dns"].startswith("DNS · WARN")
        assert titles["targets"].startswith("TARGETS · OK")
        assert titles["traffic"].startswith("TRAFFIC · OK")
        strip = strip_text(app)
        for word in ("1 REPL WARN", "2 TGT OK", "3 DNS WARN", "4 ERR CRIT", "5 TRAF OK"):
            assert word in strip


async def test_a_failed_poll_shows_unknown_never_ok() -> None:
    readings = recorded_readings()
    clock = FrozenClock(moment_after(readings))
    app = make_app(clock)
    async with app.run_test(size=(160, 48)) as pilot:
        app.receive_readings(list(readings))
        clock.advance(2)
        reason = "authentication failed (check the password env var, PGPASSWORD or ~/.pgpass)"
        app.receive_readings([failed("replication", SignalKind.REPLICATION, clock(), reason)])
        await pilot.pause()
        replication = panel(app, "replication")
        assert str(replication.border_title).startswith("REPLICATION · UNKNOWN")
        assert replication.has_class("-unknown")
        assert "1 REPL UNKNOWN" in strip_text(app)


async def test_old_data_turns_stale() -> None:
    readings = recorded_readings()
    clock = FrozenClock(moment_after(readings))
    app = make_app(clock)
    async with app.run_test(size=(160, 48)) as pilot:
        app.receive_readings(list(readings))
        await pilot.pause()
        assert "STALE" not in strip_text(app)
        clock.advance(600)
        app.refresh_view()
        await pilot.pause()
        for panel_id in ("replication", "targets", "dns", "errors", "traffic"):
            assert " · STALE · " in str(panel(app, panel_id).border_title)
            assert panel(app, panel_id).has_class("-stale")
        assert "1 REPL STALE" in strip_text(app)


async def test_waiting_and_not_configured_are_distinct() -> None:
    config = parse_config("[cutover]\nname = 'bare'\n", source="t", base_dir=Path("/tmp"))
    clock = FrozenClock(moment_after(recorded_readings()))
    app = make_app(clock, config)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert str(panel(app, "dns").render()).strip() == "not configured"
        assert " · OFF" in str(panel(app, "dns").border_title)
    app = make_app(clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert str(panel(app, "dns").render()).strip() == "waiting for the first reading…"


async def test_header_spells_out_mode_and_names_the_cutover() -> None:
    readings = recorded_readings()
    clock = FrozenClock(moment_after(readings))
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        header = str(app.cockpit.query_one(HeaderBar).render())
        assert "DRY-RUN" in header
        assert "shop: datacenter -> AWS" in header
        assert clock().strftime("%H:%M:%SZ") in header
        assert "alice@bastion" in header


async def test_80x24_shows_one_panel_and_every_status() -> None:
    readings = recorded_readings()
    clock = FrozenClock(moment_after(readings))
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.receive_readings(list(readings))
        await pilot.pause()
        assert app.cockpit.has_class("-compact")
        assert app.cockpit.query_one("#overview").display
        assert not app.cockpit.query_one("#panels").display
        await pilot.press("1")
        shown = [p.id for p in app.cockpit.query("#panels > *") if p.display]
        assert shown == ["replication"]
        assert not app.cockpit.query_one("#overview").display
        strip = strip_text(app)
        assert all(f"{spec.key} {spec.short_name} " in strip for spec in PANELS)
        await pilot.press("3")
        shown = [p.id for p in app.cockpit.query("#panels > *") if p.display]
        assert shown == ["dns"]
        await pilot.press("tab")
        shown = [p.id for p in app.cockpit.query("#panels > *") if p.display]
        assert shown == ["errors"]


async def test_resizing_reflows_between_compact_and_grid() -> None:
    clock = FrozenClock(moment_after(recorded_readings()))
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.cockpit.has_class("-compact")
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert not app.cockpit.has_class("-compact")
        assert all(p.display for p in app.cockpit.query("#panels > *"))


async def test_help_lists_every_key() -> None:
    clock = FrozenClock(moment_after(recorded_readings()))
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        listed = {key for key, _ in app.screen.keys}
        assert {"q", "?", "Tab", "Ctrl+P", f"{PANELS[0].key}–{PANELS[-1].key}"} <= listed
        assert all(description for _, description in app.screen.keys)
        await pilot.press("escape")
        assert isinstance(app.screen, CockpitScreen)


async def test_command_palette_has_a_command_per_panel() -> None:
    clock = FrozenClock(moment_after(recorded_readings()))
    app = make_app(clock)
    async with app.run_test(size=(80, 24)):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Keys" in titles
        assert all(f"Panel: {spec.short_name}" in titles for spec in PANELS)


async def test_quit_asks_while_an_action_is_in_flight() -> None:
    clock = FrozenClock(moment_after(recorded_readings()))
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.session.in_flight.append("promote")
        await pilot.press("q")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmQuitScreen"
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen)
        assert app.is_running


async def test_quit_without_anything_in_flight_exits() -> None:
    clock = FrozenClock(moment_after(recorded_readings()))
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running


async def test_status_changes_reach_the_event_log() -> None:
    readings = recorded_readings()
    clock = FrozenClock(moment_after(readings))
    app = make_app(clock)
    async with app.run_test(size=(160, 48)) as pilot:
        app.receive_readings(list(readings))
        clock.advance(1)
        caught_up = Reading(
            "replication",
            SignalKind.REPLICATION,
            Status.OK,
            clock(),
            {"replay_lag_bytes": 0, "in_recovery": True},
            "caught up",
            5.0,
        )
        app.receive_readings([caught_up])
        await pilot.pause()
        texts = [event.text for event in app.session.event_log.latest(50)]
        assert any("replication" in t and "warn" in t and "ok" in t for t in texts)


def test_readings_are_fresh_at_the_frozen_moment() -> None:
    readings = recorded_readings()
    now = moment_after(readings)
    assert all(r.status_at(now) is r.status for r in readings)
    assert all(r.is_stale(now + timedelta(seconds=600)) for r in readings)


async def test_sources_are_built_after_the_first_frame_and_polled() -> None:
    from tests.test_poller import ScriptedSource

    clock = FrozenClock(moment_after(recorded_readings()))
    built: list[bool] = []

    def sources() -> list[ScriptedSource]:
        built.append(app.cockpit.is_ready)
        return [ScriptedSource(interval=0.05)]

    app = CockpitApp(config=sandbox_like_config(), sources=sources, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(50):
            await pilot.pause(0.05)
            if app.session.state.latest("scripted:a") is not None:
                break
        assert built == [True]
        reading = app.session.state.latest("scripted:a")
        assert reading is not None and reading.detail == "fine"


async def test_secrets_never_reach_the_state_or_the_screen() -> None:
    from cockpit.redact import redactor_for

    clock = FrozenClock(moment_after(recorded_readings()))
    app = CockpitApp(
        config=sandbox_like_config(),
        sources=[],
        clock=clock,
        poll=False,
        redactor=redactor_for(["hunter2"]),
    )
    leaky = Reading(
        "replication",
        SignalKind.REPLICATION,
        Status.UNKNOWN,
        clock(),
        {"error": "connect to host=db password=hunter2 failed", "targets": [{"id": "hunter2"}]},
        "connect to postgresql://cutover:hunter2@db/shop failed",
        5.0,
    )
    async with app.run_test(size=(160, 48)) as pilot:
        app.receive_readings([leaky])
        await pilot.pause()
        held = app.session.state.latest("replication")
        assert held is not None
        assert "hunter2" not in repr(held)
        assert held.detail == "connect to postgresql://cutover:***@db/shop failed"
        drawn = drawn_text(app.cockpit.query_one("#replication", SignalPanel))
        assert "connect to postgresql://cutover:***@db/shop failed" in drawn
        assert "hunter2" not in drawn
