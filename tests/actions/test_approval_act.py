"""`cockpit act promote` under the two-person rule, against the sandbox's real replica: the typed
name asks a second operator and the replica stays a replica until an approval that counts
arrives; Ctrl-C withdraws (or breaks the glass), and a request nobody approved lapses.

The wait between looks at the approvals folder is the test's own: it plays the second operator
(or the operator's Ctrl-C) there instead of sleeping.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from cockpit.actions.approval import (
    approval_of,
    read_request,
    write_approval,
)
from cockpit.actions.model import ActionId
from cockpit.clock import system_clock
from cockpit.commands.act import ActRequest, run_act
from cockpit.config import load_config
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.actions.approval_support import (
    NOBODY,
    running_as_root,
)
from tests.actions.support import Act, action_records, sandbox_environ, write_config
from tests.actions.test_act_sandbox import REPLICA, postgres

Pause = Callable[[float], Awaitable[None]]


class ShiftedClock:
    """The real clock, moved ahead when the test says so (a request can lapse at once)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return system_clock() + self.offset


def approval_config(sandbox: SandboxHandle, folder: Path, **approval: Any) -> Path:
    """The sandbox config with maintenance already on, and promotion under [approval]."""
    path = write_config(sandbox, folder, guards={"promote_quiet_seconds": 0.0})
    path.write_text(path.read_text() + "\n" + tomli_w.dumps({"approval": approval}))
    act = Act(sandbox, path)
    assert act(ActionId.MAINTENANCE_ON, yes=True) == 0, act.text
    return path


def promote(
    sandbox: SandboxHandle,
    path: Path,
    pause: Pause,
    *answers: str,
    clock: Callable[[], datetime] = system_clock,
    **options: Any,
) -> tuple[int, str]:
    """`cockpit act promote` with scripted answers and the test's own waits."""
    replies = list(answers)
    said: list[str] = []
    request = ActRequest(ActionId.PROMOTE, path, confirm_name=REPLICA, **options)
    code = run_act(
        request,
        sandbox_environ(sandbox),
        ask=lambda prompt: replies.pop(0),
        say=said.append,
        clock=clock,
        pause=pause,
    )
    return code, "\n".join(said)


def approvals(path: Path) -> Path:
    return load_config(path).approvals_dir


async def ctrl_c(seconds: float) -> None:
    raise KeyboardInterrupt


def phase(folder: Path, name: str) -> dict[str, Any]:
    return action_records(folder, ActionId.PROMOTE, name)[-1]


@pytest.mark.skipif(
    not running_as_root(), reason="only root can give the approval file to another user"
)
def test_the_promotion_waits_and_runs_once_a_second_user_approves(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    path = approval_config(sandbox, tmp_path)
    promoted_while_waiting: list[object] = []

    async def second_operator(seconds: float) -> None:
        promoted_while_waiting.append(postgres(sandbox)["promoted"])
        if len(promoted_while_waiting) == 2:
            (request_file,) = approvals(path).glob("*.request.json")
            request = read_request(request_file)
            given = approval_of(request, NOBODY, "lag 0 B, maintenance on", system_clock())
            os.chown(write_approval(approvals(path), given), NOBODY.uid, -1)

    code, text = promote(sandbox, path, second_operator)
    assert code == 0, text
    assert promoted_while_waiting == [False, False]
    assert postgres(sandbox)["promoted"] is True
    assert f"run `cockpit approve -c {path}` as another user (expires " in text
    assert "approved by nobody (uid 65534): lag 0 B, maintenance on" in text
    approved = phase(tmp_path, "approved")
    assert (approved["requester"], approved["approver"]) == ("root", "nobody")
    assert phase(tmp_path, "verified")["ok"] is True
    assert list(approvals(path).iterdir()) == []


def test_ctrl_c_withdraws_the_request(sandbox: SandboxHandle, tmp_path: Path) -> None:
    path = approval_config(sandbox, tmp_path)
    code, text = promote(sandbox, path, ctrl_c, "")
    assert code == 1, text
    assert "withdrawn with Ctrl-C" in text
    assert phase(tmp_path, "approval-withdrawn")["why"].startswith("withdrawn with Ctrl-C")
    assert postgres(sandbox)["promoted"] is False
    assert list(approvals(path).iterdir()) == []


def test_ctrl_c_then_override_and_a_reason_break_the_glass(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    path = approval_config(sandbox, tmp_path)
    code, text = promote(sandbox, path, ctrl_c, "OVERRIDE", "second operator unreachable")
    assert code == 0, text
    assert postgres(sandbox)["promoted"] is True
    assert phase(tmp_path, "break-glass")["reason"] == "second operator unreachable"
    assert phase(tmp_path, "approval-requested")["requester"]


def test_break_glass_from_the_command_line_still_needs_override_typed(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    path = approval_config(sandbox, tmp_path)
    reason = "nobody else on the bridge"
    code, text = promote(sandbox, path, ctrl_c, "override", break_glass_reason=reason)
    assert code == 1 and "not broken glass" in text
    assert postgres(sandbox)["promoted"] is False

    code, text = promote(sandbox, path, ctrl_c, "OVERRIDE", break_glass_reason=reason)
    assert code == 0, text
    assert postgres(sandbox)["promoted"] is True
    record = phase(tmp_path, "break-glass")
    assert record["reason"] == reason and record["requested"] is False


def test_a_request_nobody_approved_in_time_ends_with_a_clear_message(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    path = approval_config(sandbox, tmp_path, expires_minutes=5)
    clock = ShiftedClock()

    async def time_passes(seconds: float) -> None:
        clock.offset += timedelta(minutes=5)

    code, text = promote(sandbox, path, time_passes, clock=clock)
    assert code == 1, text
    assert "no second operator approved before" in text
    assert "run `cockpit act` again to ask anew" in text
    assert phase(tmp_path, "approval-expired")
    assert postgres(sandbox)["promoted"] is False


def test_a_request_nobody_can_be_asked_for_offers_only_the_break_glass(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    path = approval_config(sandbox, tmp_path, group="no-such-cutover-group")
    code, text = promote(sandbox, path, ctrl_c, "")
    assert code == 1, text
    assert "'no-such-cutover-group' is not a group on this host" in text
    assert "cancelled: nobody could be asked" in text
    assert "nobody could be asked" in phase(tmp_path, "approval-withdrawn")["why"]
    assert phase(tmp_path, "approval-unavailable")
    assert postgres(sandbox)["promoted"] is False
