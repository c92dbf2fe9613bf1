"""A second operator approves from the follow view in their own terminal (key A).

The operator's runner (fake replica, real approvals folder and journal, from approval_support)
writes the request; the follow view shows it, takes APPROVE and a reason, and writes an approval
the runner counts. A view served to browsers cannot approve, and nobody approves their own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cockpit.actions.approval import current_person, request_path
from screens.approve_request import ApproveRequestScreen
from screens.replay_app import ReplayApp
from tests.actions.approval_support import OPERATOR, bench, running_as_root


def follow_view(journal: Path, approvals: Path | None, clock: object) -> ReplayApp:
    return ReplayApp(journal, follow=True, clock=clock, approvals_dir=approvals)  # type: ignore[arg-type]


@pytest.mark.skipif(not running_as_root(), reason="only root can give a file to another user")
async def test_a_follower_reads_the_plan_and_approves_it(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    # The request stands for another user's: their file (root gives it away).
    os.chown(request_path(bench_.approvals, waiting.prepared.run_id), OPERATOR.uid, -1)
    app = follow_view(bench_.journal.path, bench_.approvals, bench_.clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("A")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ApproveRequestScreen)
        shown = "\n".join(screen._lines)
        assert "ONE-WAY DOOR" in shown and waiting.prepared.run_id in shown
        assert f"asked by {OPERATOR.name}" in shown
        await pilot.press(*"approve", "enter", *"lag 0", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ApproveRequestScreen), "lowercase does not approve"
        assert "in capitals" in str(app.screen.query_one("#problem").render())
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("A")
        await pilot.pause()
        await pilot.press(*"APPROVE", "enter", *"lag 0, writes stopped", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, ApproveRequestScreen)

    check = await bench_.runner.check_approval(waiting)
    assert check.approval is not None, check.problem
    assert check.approval.approver.name == current_person().name
    assert check.approval.reason == "lag 0, writes stopped"


async def test_a_served_view_cannot_approve(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    await bench_.request()
    app = follow_view(bench_.journal.path, None, bench_.clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("A")
        await pilot.pause()
        assert not isinstance(app.screen, ApproveRequestScreen)
    assert not [p for p in bench_.approvals.iterdir() if "approval" in p.name]


async def test_nobody_approves_their_own_request(tmp_path: Path) -> None:
    bench_ = bench(tmp_path, identity=None)
    await bench_.request()
    app = follow_view(bench_.journal.path, bench_.approvals, bench_.clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("A")
        await pilot.pause()
        assert not isinstance(app.screen, ApproveRequestScreen)
    assert not [p for p in bench_.approvals.iterdir() if "approval" in p.name]
