"""The cockpit's record of a session: readings that changed, keyframes, and the screen as plain
text at every action and on the operator's key, all in the journal."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from pathlib import Path

import pytest

from cockpit.actions.model import ActionId
from cockpit.app import CockpitApp
from cockpit.clock import system_clock
from cockpit.commands.launch import compose_app
from cockpit.config import load_config
from cockpit.journal.chain import session_header
from cockpit.journal.reader import read_journal
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.model import Status
from cockpit.redact import Redactor
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.actions.support import Act, sandbox_environ, write_config
from tests.actions.test_act_sandbox import front_door_status
from tests.actions.test_app_actions import (
    SIZE,
    cockpit,
    confirm,
    confirm_screen,
    guards_pass,
    key_clock,
    settle_until,
)
from tests.key_timing import press_alone
from tests.ui.test_journal_failure import FullDiskJournal


def records_of(path: Path, kind: str) -> list[dict[str, object]]:
    return [record.data for record in read_journal(path)[0] if record.kind == kind]


async def test_each_action_and_the_c_key_leave_the_screen_as_text_in_the_journal(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(pilot, lambda: guards_pass(app, ActionId.MAINTENANCE_ON), "guards")
            await press_alone(pilot, key_clock(app), "m")
            await settle_until(pilot, lambda: confirm_screen(app) is not None, "confirm screen")
            await settle_until(
                pilot, lambda: bool(records_of(journal.path, "screen")), "planned screen"
            )
            await confirm(pilot, app)
            await settle_until(pilot, lambda: front_door_status(sandbox) == 503, "maintenance")
            await settle_until(
                pilot, lambda: len(records_of(journal.path, "screen")) >= 2, "completed screen"
            )
            await press_alone(pilot, key_clock(app), "c")
    finally:
        journal.close()
    screens = records_of(journal.path, "screen")
    planned, completed, operator = screens[0], screens[1], screens[-1]
    assert (planned["action"], planned["phase"]) == ("maintenance-on", "planned")
    assert "CreateRule" in str(planned["text"]) and "ctrl+y = run it" in str(planned["text"])
    assert (completed["action"], completed["phase"]) == ("maintenance-on", "completed")
    assert completed["run"] == planned["run"]
    assert "LIVE" in str(completed["text"])
    assert operator["reason"] == "operator" and (operator["width"], operator["height"]) == SIZE
    assert len(str(operator["text"]).splitlines()) <= SIZE[1]


async def test_readings_are_journaled_on_first_sight_and_on_change(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(
                pilot, lambda: app.session.state.latest("traffic") is not None, "poll"
            )
            # A lag spike in an earlier test can leave a stale replay_lag for a while.
            await settle_until(pilot, lambda: replication_is(app, Status.OK), "caught up")
            sandbox.client.inject("lag-spike")
            await settle_until(
                pilot,
                lambda: any(
                    r["signal"] == "replication" and r["status"] != "ok"
                    for r in records_of(journal.path, "reading")
                ),
                "the lag recorded",
            )
    finally:
        journal.close()
    readings = records_of(journal.path, "reading")
    signals = {reading["signal"] for reading in readings}
    assert {"replication", "traffic", "maintenance", "errors:access_log:old"} <= signals
    replication = [r for r in readings if r["signal"] == "replication"]
    statuses = [r["status"] for r in replication]
    assert "ok" in statuses and statuses[-1] != "ok"
    assert statuses.index("ok") < len(statuses) - 1


def replication_is(app: CockpitApp, status: Status) -> bool:
    reading = app.session.state.latest("replication")
    return reading is not None and reading.status is status


async def test_an_action_whose_record_cannot_be_written_does_not_run(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Fail closed: the plan's record fails on a full disk (faked at JournalWriter.append)."""
    config = load_config(write_config(sandbox, tmp_path))
    header = session_header(
        cutover_name=config.cutover.name,
        config_digest="x",
        mode="live",
        environ={},
        started_at=system_clock(),
    )
    journal = FullDiskJournal.create(tmp_path / "journal", header=header, redactor=Redactor())
    app = compose_app(config, journal, "live", sandbox_environ(sandbox))
    async with app.run_test(size=SIZE) as pilot:
        await settle_until(pilot, lambda: guards_pass(app, ActionId.MAINTENANCE_ON), "guards")
        await pilot.press("m")
        await settle_until(
            pilot, lambda: any("stopped" in text for text in notice_texts(app)), "the failure"
        )
        assert confirm_screen(app) is None and app.is_running
    assert front_door_status(sandbox) == 200
    assert any("No space left on device" in text for text in notice_texts(app))


def notice_texts(app: CockpitApp) -> list[str]:
    return [str(notice.message) for notice in app._notifications]


def test_act_refuses_to_run_unrecorded_and_says_so(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full disk is faked at JournalWriter.append, as in the cockpit test above."""
    append = JournalWriter.append

    def append_until_the_disk_fills(
        writer: JournalWriter, kind: str, data: Mapping[str, JsonValue], *, sync: bool = False
    ) -> int:
        if kind in ("header", "resume"):
            return append(writer, kind, data, sync=sync)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(JournalWriter, "append", append_until_the_disk_fills)
    act = Act(sandbox, write_config(sandbox, tmp_path))
    assert act(ActionId.MAINTENANCE_ON, yes=True) == 1
    assert "cannot be written (No space left on device" in act.text
    assert "Traceback" not in act.text
    assert front_door_status(sandbox) == 200
