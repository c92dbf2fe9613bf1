"""Files in the approvals folder are outside text: whatever is there, reading it never crashes,
never follows a link or blocks on a pipe, and nothing from it reaches a terminal raw."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.actions.approval import (
    APPROVAL_FORMAT,
    MAX_FILE_BYTES,
    REQUEST_FORMAT,
    ApprovalRequest,
    NotAnApproval,
    Person,
    RequestSpec,
    approval_of,
    approval_path,
    check_approval,
    digest_of,
    new_request,
    pending_requests,
    plan_digest,
    read_approval,
    read_request,
    request_path,
    write_approval,
    write_request,
)
from cockpit.actions.model import ActionId, Change, Plan
from cockpit.redact import redactor_for, remember_secrets
from cockpit.rules.verdicts import GuardFact, GuardResult
from tests.actions.approval_support import ESCAPES, OPERATOR, no_raw_control
from tests.test_guards import NOW

RUN = "4242-1790000000-1"
PLAN = Plan(
    ActionId.PROMOTE,
    "Promote shop-db-new to primary — ONE-WAY DOOR",
    (Change("shop-db-new", "read replica (in recovery)", "writable primary"),),
    ("SELECT pg_promote(wait => true)",),
    target={"name": "shop-db-new"},
    one_way=True,
)
GUARD = GuardResult(
    "replication-caught-up", "Replica caught up", None, (GuardFact("byte lag", "0 B", None, 1.0),)
)


def a_request(run_id: str = RUN, requester: Person = OPERATOR) -> ApprovalRequest:
    spec = RequestSpec(run_id, "Promote replica", "shop", requester, "alice@bastion", 15)
    return new_request(spec, PLAN, (GUARD,), NOW)


def raw_request(**changes: object) -> dict[str, object]:
    """A request document as JSON, with some fields replaced (the digest made to match)."""
    document: dict[str, object] = {**a_request().to_json(), **changes}
    plan = document["plan"]
    assert isinstance(plan, dict)
    document["digest"] = digest_of(str(document["action"]), plan)
    return document


def test_a_request_and_an_approval_read_back_as_written(tmp_path: Path) -> None:
    request = a_request()
    path = write_request(tmp_path, request)
    assert read_request(path) == replace(request, owner_uid=os.geteuid())
    approval = approval_of(request, Person("bob", 1001), "  looks right  ", NOW)
    back = read_approval(write_approval(tmp_path, approval))
    assert back == replace(approval, reason="looks right", owner_uid=os.geteuid())


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "it is not JSON"),
        (b"\xff\xfe binary", "it is not UTF-8 text"),
        (b"[1, 2]", "not an object"),
        (b'{"format": "something else", "version": 1}', "is not a cutover-cockpit-approval"),
        (b"[" * 100_000 + b"]" * 100_000, "it is not JSON"),
        (b'{"format": "cutover-cockpit-approval-request", "version": 1, "run": NaN}', "not JSON"),
    ],
)
def test_a_malformed_request_is_not_one_and_says_why(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = request_path(tmp_path, RUN)
    path.write_bytes(content)
    with pytest.raises(NotAnApproval, match=why):
        read_request(path)


def test_a_huge_file_is_not_read_past_its_cap(tmp_path: Path) -> None:
    path = request_path(tmp_path, RUN)
    path.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(NotAnApproval, match="larger than 1 MiB"):
        read_request(path)


def test_a_deeply_nested_request_is_not_one(tmp_path: Path) -> None:
    plan: object = "leaf"
    for _ in range(40):
        plan = {"more": plan}
    document = raw_request(plan=plan)
    request_path(tmp_path, RUN).write_text(json.dumps(document))
    with pytest.raises(NotAnApproval, match="nests deeper"):
        read_request(request_path(tmp_path, RUN))


def test_a_link_and_a_pipe_are_refused_without_blocking(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text(json.dumps(raw_request()))
    request_path(tmp_path, RUN).symlink_to(real)
    with pytest.raises(NotAnApproval, match="symbolic link"):
        read_request(request_path(tmp_path, RUN))
    os.mkfifo(approval_path(tmp_path, RUN))
    with pytest.raises(NotAnApproval, match="named pipe"):
        read_approval(approval_path(tmp_path, RUN))


def test_a_request_whose_plan_was_altered_is_not_one(tmp_path: Path) -> None:
    document = a_request().to_json()
    document["plan"] = {**PLAN.to_json(), "target": {"name": "another-replica"}}
    request_path(tmp_path, RUN).write_text(json.dumps(document))
    with pytest.raises(NotAnApproval, match="does not match its digest"):
        read_request(request_path(tmp_path, RUN))


def test_a_request_filed_under_another_run_is_not_one(tmp_path: Path) -> None:
    request_path(tmp_path, "1-2-3").write_text(json.dumps(raw_request()))
    with pytest.raises(NotAnApproval, match=r"is filed as 1-2-3\.request\.json"):
        read_request(request_path(tmp_path, "1-2-3"))


def test_escapes_in_a_request_are_spelled_out_wherever_it_is_shown(tmp_path: Path) -> None:
    plan = {
        **PLAN.to_json(),
        "summary": f"Promote {ESCAPES}",
        "changes": [{"resource": ESCAPES, "before": ESCAPES, "after": "x" * 5000}],
        "calls": [ESCAPES],
        "notes": [ESCAPES],
    }
    guard = {**GUARD.to_json(), "title": ESCAPES, "facts": [{"label": ESCAPES, "value": ESCAPES}]}
    document = raw_request(
        plan=plan,
        guards=[guard],
        title=ESCAPES,
        cutover=ESCAPES,
        operator=ESCAPES,
        requester={"name": ESCAPES, "uid": 7},
    )
    request_path(tmp_path, RUN).write_text(json.dumps(document))
    request = read_request(request_path(tmp_path, RUN))
    shown_plan, guards = request.shown_plan(), request.shown_guards()
    texts = [
        request.title,
        request.cutover,
        request.operator,
        request.requester.name,
        shown_plan.summary,
        *(change.sentence() for change in shown_plan.changes),
        *shown_plan.calls,
        *shown_plan.notes,
        *(guard.title for guard in guards),
        *(f"{fact.label} {fact.value}" for guard in guards for fact in guard.facts),
    ]
    assert all(no_raw_control(text) for text in texts), texts
    assert "\\x1b" in request.title
    assert max(len(change.after) for change in shown_plan.changes) <= 500


def test_the_folder_listing_skips_what_is_not_a_pending_request(tmp_path: Path) -> None:
    write_request(tmp_path, a_request())
    write_request(tmp_path, replace(a_request("9-9-9"), expires_at=NOW - timedelta(seconds=1)))
    (tmp_path / f"{ESCAPES}.request.json").write_text("{")
    (tmp_path / "2-2-2.request.json").write_bytes(b"\x00" * (MAX_FILE_BYTES + 10))
    (tmp_path / "notes.txt").write_text("not ours")

    pending = pending_requests(tmp_path, NOW)
    assert [request.run_id for request in pending.requests] == [RUN]
    assert pending.expired == 1
    assert len(pending.skipped) == 2
    assert all(no_raw_control(note) for note in pending.skipped), pending.skipped


def test_a_missing_folder_has_nothing_pending(tmp_path: Path) -> None:
    assert pending_requests(tmp_path / "absent", NOW).requests == ()


@pytest.mark.parametrize(
    "content",
    [
        b"{",
        b"\x1b[2J" * 10,
        b" " * (MAX_FILE_BYTES + 1),
        json.dumps({"format": APPROVAL_FORMAT, "version": 1, "run": RUN}).encode(),
        json.dumps({"format": REQUEST_FORMAT, "version": 1}).encode(),
    ],
)
def test_a_hostile_approval_file_is_a_reason_for_the_operator_not_a_crash(
    tmp_path: Path, content: bytes
) -> None:
    approval_path(tmp_path, RUN).write_bytes(content)
    check = check_approval(tmp_path, a_request(), NOW)
    assert check.approval is None and not check.expired
    assert check.problem is not None and "is not an approval" in check.problem
    assert no_raw_control(check.problem)


def test_escapes_in_an_approval_are_spelled_out(tmp_path: Path) -> None:
    approval = approval_of(a_request(), Person(ESCAPES, 1001), ESCAPES, NOW)
    back = read_approval(write_approval(tmp_path, approval))
    assert no_raw_control(back.reason) and no_raw_control(back.approver.name)


def test_a_secret_the_config_names_never_leaves_in_a_request(tmp_path: Path) -> None:
    secret = "hunter2-not-for-the-group"
    remember_secrets(redactor_for([secret]))
    leaky = replace(PLAN, calls=(f"psql 'host=db password={secret}'", f"token {secret}"))
    spec = RequestSpec(RUN, "Promote replica", "shop", OPERATOR, "alice@bastion", 15)
    request = new_request(spec, leaky, (GUARD,), NOW)
    text = write_request(tmp_path, request).read_text()
    assert secret not in text
    assert read_request(request_path(tmp_path, RUN)).digest == plan_digest(leaky)
