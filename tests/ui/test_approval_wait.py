"""The confirm dialog of a two-person action at 80x24: the typed name asks a second operator,
the plan stays up with "waiting for a second operator", the action runs once an approval file
appears, escape withdraws, OVERRIDE and a reason break the glass, and a lapsed request ends.

The replica is faked at the backend boundary; the approvals folder and the journal are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.widgets import Static

from cockpit.actions.approval import (
    ApprovalCheck,
    approval_of,
    current_person,
    read_request,
    write_approval,
)
from cockpit.actions.runner import ActionRunner, AwaitingApproval
from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.config import Config
from cockpit.journal.writer import JournalWriter
from screens.approval_wait import ApprovalWaitScreen
from screens.confirm_action import SECOND_PERSON_BANNER
from tests.actions.approval_support import (
    EXPIRES_MINUTES,
    OPERATOR,
    REPLICA,
    FakeReplica,
    approval_config,
    phases,
    promotion_runners,
)
from tests.actions.test_app_actions import settled_dialog
from tests.key_timing import KeyClock, until
from tests.test_guards import GOOD, NOW

SIZE = (80, 24)


@dataclass
class Cockpit:
    """The cockpit with a live runner over the fake replica, and what the test looks at."""

    app: CockpitApp
    config: Config
    replica: FakeReplica
    journal: JournalWriter
    clock: FrozenClock
    looks: list[ApprovalCheck]

    @property
    def runner(self) -> ActionRunner:
        assert self.app.session.runner is not None
        return self.app.session.runner

    def request_files(self) -> list[Path]:
        return sorted(self.config.approvals_dir.glob("*.request.json"))

    def approve(self, reason: str) -> None:
        """This process, as the second person, approves what the request file holds."""
        (path,) = self.request_files()
        request = read_request(path)
        given = approval_of(request, current_person(), reason, self.clock())
        write_approval(self.config.approvals_dir, given)


@pytest.fixture
def cockpit(tmp_path: Path) -> Iterator[Cockpit]:
    config = approval_config(tmp_path)
    clock = FrozenClock(NOW)
    replica = FakeReplica()
    from tests.test_journal import create_writer

    journal = create_writer(config.journal_dir, clock=clock)
    app = CockpitApp(
        config=config,
        sources=[],
        clock=clock,
        journal=journal,
        operator="alice@bastion",
        poll=False,
        actions=promotion_runners(config, replica, journal, clock, identity=OPERATOR),
        key_clock=KeyClock(),
    )
    yield Cockpit(app, config, replica, journal, clock, [])
    journal.close()


def count_looks(cockpit: Cockpit) -> None:
    """Every look the cockpit takes at the approvals folder is kept for the test."""
    runner = cockpit.runner
    look = runner.check_approval

    async def counted(waiting: AwaitingApproval) -> ApprovalCheck:
        check = await look(waiting)
        cockpit.looks.append(check)
        return check

    runner.check_approval = counted  # type: ignore[method-assign]


def waiting_screen(app: CockpitApp) -> ApprovalWaitScreen | None:
    return app.screen if isinstance(app.screen, ApprovalWaitScreen) else None


async def typed_name_asks_a_second_operator(cockpit: Cockpit, pilot: object) -> None:
    """P, the settled dialog with its two-person banner, the name typed and ctrl+y."""
    app = cockpit.app
    app.receive_readings(list(GOOD.values()))
    count_looks(cockpit)
    app.action_press("promote")
    dialog = await settled_dialog(app)
    assert SECOND_PERSON_BANNER in str(dialog.query_one("#banner", Static).render())
    assert "ctrl+y = ask a second operator" in str(dialog.query_one("#keys", Static).render())
    await pilot.press(*REPLICA, "enter", "ctrl+y")  # type: ignore[attr-defined]
    await until(lambda: waiting_screen(app) is not None, "the wait for a second operator")


async def test_it_waits_for_a_second_operator_then_runs_once_approved(cockpit: Cockpit) -> None:
    app = cockpit.app
    async with app.run_test(size=SIZE) as pilot:
        await typed_name_asks_a_second_operator(cockpit, pilot)
        screen = waiting_screen(app)
        assert screen is not None
        waiting = str(screen.query_one("#waiting", Static).render())
        assert waiting == (
            "waiting for a second operator: run `cockpit approve` as another user "
            "(expires 01:45:00Z)"
        )
        assert "replica shop-db-new" in str(screen.query_one("#summary", Static).render())
        assert len(cockpit.request_files()) == 1

        await until(lambda: len(cockpit.looks) >= 2, "two looks at the approvals folder")
        assert cockpit.replica.promotions == 0 and waiting_screen(app) is screen
        assert not phases(cockpit.journal, "started")

        cockpit.approve("lag 0 B, maintenance on")
        await until(lambda: cockpit.replica.promotions == 1, "the promotion once approved")
        await until(lambda: waiting_screen(app) is None, "the wait to close")
        await until(lambda: bool(phases(cockpit.journal, "completed")), "the outcome")
    approved = phases(cockpit.journal, "approved")[-1]
    assert (approved["requester"], approved["approver"]) == (OPERATOR.name, current_person().name)
    assert approved["reason"] == "lag 0 B, maintenance on"
    assert phases(cockpit.journal, "completed")[-1]["outcome"] == "succeeded"
    assert cockpit.request_files() == []


async def test_escape_withdraws_the_request(cockpit: Cockpit) -> None:
    app = cockpit.app
    async with app.run_test(size=SIZE) as pilot:
        await typed_name_asks_a_second_operator(cockpit, pilot)
        await pilot.press("escape")
        await until(lambda: bool(phases(cockpit.journal, "approval-withdrawn")), "withdrawn")
        assert waiting_screen(app) is None
    assert phases(cockpit.journal, "completed")[-1]["outcome"] == "cancelled"
    assert cockpit.request_files() == [] and cockpit.replica.promotions == 0


async def test_override_and_a_reason_break_the_glass(cockpit: Cockpit) -> None:
    app = cockpit.app
    async with app.run_test(size=SIZE) as pilot:
        await typed_name_asks_a_second_operator(cockpit, pilot)
        await pilot.press("ctrl+y")
        screen = waiting_screen(app)
        assert screen is not None and cockpit.replica.promotions == 0
        assert "OVERRIDE" in str(screen.query_one("#problem", Static).render())
        await pilot.press(*"OVERRIDE", "enter", *"nobody else on call", "enter", "ctrl+y")
        await until(lambda: cockpit.replica.promotions == 1, "the promotion, glass broken")
        await until(lambda: bool(phases(cockpit.journal, "completed")), "the outcome")
    assert phases(cockpit.journal, "break-glass")[-1]["reason"] == "nobody else on call"
    assert not phases(cockpit.journal, "approved")


async def test_a_request_nobody_approved_in_time_ends_the_wait(cockpit: Cockpit) -> None:
    app = cockpit.app
    async with app.run_test(size=SIZE) as pilot:
        await typed_name_asks_a_second_operator(cockpit, pilot)
        cockpit.clock.advance(EXPIRES_MINUTES * 60)
        await until(lambda: bool(phases(cockpit.journal, "approval-expired")), "expiry")
        assert waiting_screen(app) is None
    assert cockpit.replica.promotions == 0 and cockpit.request_files() == []


async def test_an_approval_that_does_not_count_is_said_and_the_wait_goes_on(
    cockpit: Cockpit,
) -> None:
    app = cockpit.app
    async with app.run_test(size=SIZE) as pilot:
        await typed_name_asks_a_second_operator(cockpit, pilot)
        (path,) = cockpit.request_files()
        request = read_request(path)
        forged = approval_of(request, OPERATOR, "approving myself", cockpit.clock())
        write_approval(cockpit.config.approvals_dir, forged)
        screen = waiting_screen(app)
        assert screen is not None
        problem = screen.query_one("#problem", Static)
        await until(lambda: "who asked for it" in str(problem.render()), "the refusal shown")
        assert waiting_screen(app) is screen and cockpit.replica.promotions == 0
