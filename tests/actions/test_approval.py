"""The two-person rule, headless: a promotion waits for a second operator's approval of its exact
plan, refuses the requester's own, another plan's and an expired one, and records both names.

The replica is faked at the backend boundary; the approvals folder, its files and their owners
are real. Where a second person must own a file, the test runs as root and gives it away.
"""

from __future__ import annotations

import grp
import os
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.actions.approval import (
    APPROVAL_SUFFIX,
    DIRECTORY_MODE,
    FILE_MODE,
    REQUEST_SUFFIX,
    approval_path,
    plan_digest,
    read_approval,
    read_request,
    request_path,
)
from cockpit.actions.confirmation import OVERRIDE_WORD, Confirmation
from cockpit.actions.model import ActionId, Plan
from cockpit.actions.registry import ACTIONS
from cockpit.actions.runner import AwaitingApproval
from cockpit.config import ACTION_IDS, ONE_WAY_DOORS, ApprovalSection
from cockpit.review.report import build_report, render_markdown
from tests.actions.approval_support import (
    EXPIRES_MINUTES,
    NOBODY,
    OPERATOR,
    REPLICA,
    bench,
    running_as_root,
)

needs_root = pytest.mark.skipif(
    not running_as_root(), reason="only root can give a file to another user (os.chown)"
)


def test_the_config_names_the_registry_actions_and_defaults_to_the_one_way_doors() -> None:
    assert tuple(spec.action_id.value for spec in ACTIONS) == ACTION_IDS
    assert tuple(spec.action_id.value for spec in ACTIONS if spec.one_way) == ONE_WAY_DOORS
    assert ApprovalSection().actions == ("promote",)


def test_the_digest_binds_the_exact_plan() -> None:
    promote = Plan(ActionId.PROMOTE, "Promote db-1", (), (), target={"name": "db-1"})
    other_replica = replace(promote, target={"name": "db-2"})
    fifty = Plan(ActionId.WEIGHT_UP, "50/50", (), (), target={"old": 50, "new": 50})
    other_weights = replace(fifty, target={"old": 25, "new": 75})
    assert plan_digest(promote) == plan_digest(replace(promote))
    assert plan_digest(promote) != plan_digest(other_replica)
    assert plan_digest(fifty) != plan_digest(other_weights)
    assert plan_digest(fifty) != plan_digest(replace(fifty, action_id=ActionId.WEIGHT_DOWN))


async def test_the_promotion_waits_for_an_approval_and_runs_with_both_names(
    tmp_path: Path,
) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    request_file = request_path(bench_.approvals, waiting.prepared.run_id)
    assert read_request(request_file).digest == plan_digest(waiting.prepared.plan)

    for _ in range(3):
        check = await bench_.runner.check_approval(waiting)
        assert check.approval is None and check.problem is None and not check.expired
    assert bench_.replica.promotions == 0
    assert bench_.phases("approval-requested") and not bench_.phases("started")

    bench_.approve(waiting, "lag 0 B, maintenance on, app stopped")
    check = await bench_.runner.check_approval(waiting)
    assert check.approval is not None, check.problem
    outcome = await bench_.runner.run(waiting.prepared, waiting.approved(check.approval))

    assert outcome.result == "succeeded", outcome.message
    assert bench_.replica.promotions == 1
    approved = bench_.phases("approved")[-1]
    assert approved["requester"] == OPERATOR.name
    assert approved["approver"] == bench_.me.name
    assert approved["digest"] == plan_digest(waiting.prepared.plan)
    assert approved["reason"] == "lag 0 B, maintenance on, app stopped"
    assert bench_.phases("rechecked"), "guards are checked again just before running"
    assert not request_file.exists()
    assert not approval_path(bench_.approvals, waiting.prepared.run_id).exists()


async def test_a_confirmed_promotion_never_runs_without_an_approval(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    prepared = await bench_.prepare()
    outcome = await bench_.runner.run(prepared, Confirmation(typed_word=REPLICA))
    assert outcome.result == "cancelled"
    assert "needs a second operator" in outcome.message
    assert bench_.replica.promotions == 0


async def test_an_approval_from_the_requesting_user_is_refused(tmp_path: Path) -> None:
    bench_ = bench(tmp_path, identity=None)
    waiting = await bench_.request()
    path = bench_.approve(waiting)

    check = await bench_.runner.check_approval(waiting)
    assert check.approval is None
    assert check.problem is not None and "who asked for it" in check.problem
    outcome = await bench_.runner.run(waiting.prepared, waiting.approved(read_approval(path)))
    assert outcome.result == "cancelled" and "a second person" in outcome.message
    assert bench_.replica.promotions == 0
    assert "who asked for it" in str(bench_.phases("approval-refused")[-1]["why"])


async def test_an_approval_of_another_plan_does_not_count(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    other = replace(waiting.prepared.plan, target={"name": "shop-db-other"})
    path = bench_.approve(waiting)
    bench_.write(replace(read_approval(path), digest=plan_digest(other)))

    check = await bench_.runner.check_approval(waiting)
    assert check.approval is None
    assert check.problem is not None and "another plan" in check.problem
    outcome = await bench_.runner.run(waiting.prepared, waiting.approved(read_approval(path)))
    assert outcome.result == "cancelled" and bench_.replica.promotions == 0


async def test_an_approval_for_another_run_does_not_count(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    given = read_approval(bench_.approve(waiting))
    outcome = await bench_.runner.run(
        waiting.prepared, waiting.approved(replace(given, run_id="1-2-3"))
    )
    assert outcome.result == "cancelled" and "for promote run 1-2-3" in outcome.message
    assert "cockpit approve --run" in outcome.message
    assert bench_.replica.promotions == 0


async def test_an_expired_request_counts_no_approval(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    path = bench_.approve(waiting)
    bench_.clock.advance(EXPIRES_MINUTES * 60 + 1)

    check = await bench_.runner.check_approval(waiting)
    assert check.expired and check.approval is None
    outcome = await bench_.runner.run(waiting.prepared, waiting.approved(read_approval(path)))
    assert outcome.result == "cancelled" and "expired" in outcome.message
    assert bench_.replica.promotions == 0


async def test_an_approval_given_after_the_request_expired_does_not_count(
    tmp_path: Path,
) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    given = read_approval(bench_.approve(waiting))
    bench_.write(replace(given, approved_at=waiting.request.expires_at + timedelta(seconds=1)))
    check = await bench_.runner.check_approval(waiting)
    assert check.approval is None and check.problem is not None
    assert "after the request expired" in check.problem


async def test_expiry_while_waiting_is_journaled_and_ends_the_press(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    bench_.clock.advance(EXPIRES_MINUTES * 60)
    check = await bench_.runner.check_approval(waiting)
    assert check.expired and check.problem is not None
    outcome = bench_.runner.withdraw(waiting, check.problem, expired=True)
    assert outcome.result == "cancelled"
    assert bench_.phases("approval-expired")
    assert not request_path(bench_.approvals, waiting.prepared.run_id).exists()


async def test_withdrawing_takes_the_request_back_and_is_journaled(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    bench_.runner.withdraw(waiting, "operator changed their mind")
    assert bench_.phases("approval-withdrawn")[-1]["why"] == "operator changed their mind"
    assert bench_.phases("completed")[-1]["outcome"] == "cancelled"
    assert list(bench_.approvals.iterdir()) == []


async def test_break_glass_runs_without_a_second_operator_and_says_so(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    wrong = await bench_.runner.run(
        waiting.prepared, waiting.broken_glass("override", "nobody else awake")
    )
    assert wrong.result == "cancelled" and bench_.replica.promotions == 0

    again = await bench_.request()
    glass = again.broken_glass(OVERRIDE_WORD, "nobody else awake; incident bridge agreed")
    outcome = await bench_.runner.run(again.prepared, glass)
    assert outcome.result == "succeeded", outcome.message
    record = bench_.phases("break-glass")[-1]
    assert record["reason"] == "nobody else awake; incident bridge agreed"
    assert record["requester"] == OPERATOR.name
    markdown = render_markdown(build_report(bench_.journal.path))
    assert "**BREAK-GLASS:** nobody else awake; incident bridge agreed" in markdown


async def test_the_report_names_approver_requester_digest_and_reason(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    bench_.approve(waiting, "checked the lag myself")
    check = await bench_.runner.check_approval(waiting)
    assert check.approval is not None
    await bench_.runner.run(waiting.prepared, waiting.approved(check.approval))
    bench_.journal.close()

    document = build_report(bench_.journal.path)
    actions = document["actions"]
    assert isinstance(actions, list)
    promoted = [a for a in actions if isinstance(a, dict) and a["action"] == "promote"][-1]
    approval = promoted["approval"]
    assert isinstance(approval, dict)
    assert {key: approval[key] for key in ("kind", "requester", "approver", "reason")} == {
        "kind": "approved",
        "requester": OPERATOR.name,
        "approver": bench_.me.name,
        "reason": "checked the lag myself",
    }
    assert approval["digest"] == plan_digest(waiting.prepared.plan)
    markdown = render_markdown(document)
    assert f"**Approved** by {bench_.me.name} (requested by {OPERATOR.name})" in markdown, markdown
    assert plan_digest(waiting.prepared.plan) in markdown
    assert "checked the lag myself" in markdown


async def test_a_dry_run_waits_for_the_approval_too(tmp_path: Path) -> None:
    bench_ = bench(tmp_path, mode="dry-run")
    waiting = await bench_.request()
    assert read_request(request_path(bench_.approvals, waiting.prepared.run_id)).dry_run
    refused = await bench_.runner.run(waiting.prepared, waiting.confirmation)
    assert refused.result == "cancelled"

    waiting = await bench_.request()
    bench_.approve(waiting)
    check = await bench_.runner.check_approval(waiting)
    assert check.approval is not None
    outcome = await bench_.runner.run(waiting.prepared, waiting.approved(check.approval))
    assert outcome.result == "dry-run"
    assert bench_.phases("approved")


async def test_an_action_not_named_in_the_config_needs_no_second_person(tmp_path: Path) -> None:
    bench_ = bench(tmp_path, actions=("weight-up",))
    prepared = await bench_.prepare()
    assert not bench_.runner.needs_second_person(prepared)
    outcome = await bench_.runner.run(prepared, Confirmation(typed_word=REPLICA))
    assert outcome.result == "succeeded", outcome.message


async def test_the_folder_and_its_files_are_the_groups_alone(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    bench_.approve(waiting)
    folder = bench_.approvals.stat()
    assert stat.S_IMODE(folder.st_mode) == DIRECTORY_MODE
    for path in bench_.approvals.iterdir():
        assert path.name.endswith((REQUEST_SUFFIX, APPROVAL_SUFFIX)), path.name
        assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE


async def test_a_folder_the_group_cannot_reach_is_said_before_anyone_waits(
    tmp_path: Path,
) -> None:
    group = grp.getgrgid(os.getegid()).gr_name
    bench_ = bench(tmp_path, group=group)
    bench_.config.journal_dir.chmod(0o700)
    prepared = await bench_.prepare()
    waiting = await bench_.runner.request_approval(prepared, Confirmation(typed_word=REPLICA))
    assert isinstance(waiting, AwaitingApproval) and waiting.unshared is not None
    assert f"members of {group} cannot reach {bench_.approvals}" in waiting.unshared
    assert f"chmod g+x {bench_.config.journal_dir}" in waiting.unshared

    assert bench_.approvals.stat().st_gid == os.getegid()


async def test_an_approval_file_that_names_someone_else_does_not_count(tmp_path: Path) -> None:
    """Whoever writes the file owns it: naming another user in it proves nothing."""
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    bench_.approve_as(waiting, NOBODY, "trust me")
    check = await bench_.runner.check_approval(waiting)
    assert check.approval is None and check.problem is not None
    assert f"belongs to {bench_.me.name}" in check.problem
    assert "names nobody (uid 65534)" in check.problem


@needs_root
async def test_a_folder_anyone_may_write_is_not_used_and_break_glass_is_offered(
    tmp_path: Path,
) -> None:
    bench_ = bench(tmp_path)
    folder = bench_.approvals
    folder.mkdir(parents=True)
    os.chown(folder, NOBODY.uid, -1)
    folder.chmod(0o777)
    prepared = await bench_.prepare()
    waiting = await bench_.runner.request_approval(prepared, Confirmation(typed_word=REPLICA))
    assert isinstance(waiting, AwaitingApproval)
    assert waiting.unshared is not None and "may be written by anyone" in waiting.unshared
    assert bench_.phases("approval-unavailable")
    assert "break glass" in waiting.words()
    assert list(folder.iterdir()) == []


@needs_root
async def test_an_approval_file_owned_by_another_user_counts(tmp_path: Path) -> None:
    bench_ = bench(tmp_path, identity=None)
    waiting = await bench_.request()
    path = bench_.approve_as(waiting, NOBODY, "second pair of eyes")
    os.chown(path, NOBODY.uid, -1)

    check = await bench_.runner.check_approval(waiting)
    assert check.approval is not None, check.problem
    outcome = await bench_.runner.run(waiting.prepared, waiting.approved(check.approval))
    assert outcome.result == "succeeded", outcome.message
    approved = bench_.phases("approved")[-1]
    assert (approved["requester"], approved["approver"]) == (bench_.me.name, "nobody")
    assert approved["approver_uid"] == NOBODY.uid


@needs_root
async def test_an_approval_owned_by_someone_other_than_its_approver_does_not_count(
    tmp_path: Path,
) -> None:
    bench_ = bench(tmp_path, identity=None)
    waiting = await bench_.request()
    path = bench_.approve_as(waiting, NOBODY, "second pair of eyes")
    os.chown(path, 1, -1)
    check = await bench_.runner.check_approval(waiting)
    assert check.approval is None and check.problem is not None
    assert "belongs to" in check.problem and "names nobody" in check.problem

    os.chown(path, os.geteuid(), -1)
    check = await bench_.runner.check_approval(waiting)
    assert check.problem is not None and "who asked for it" in check.problem
