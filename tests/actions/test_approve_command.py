"""`cockpit approve`: the second operator sees the same plan, guards and facts, is refused when
they asked for it themselves, types APPROVE and a reason, and the operator's runner then counts
it. A real second user is played by root switching to another account; hostile files in the
folder never crash the command nor reach the terminal raw."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import pytest

from cockpit.actions.approval import (
    MAX_FILE_BYTES,
    approval_path,
    digest_of,
    request_path,
)
from cockpit.actions.confirmation import Confirmation
from cockpit.actions.runner import AwaitingApproval
from cockpit.clock import system_clock
from cockpit.commands.approve import (
    EXIT_APPROVED,
    EXIT_CANNOT_RUN,
    EXIT_NOT_APPROVED,
    run_approve,
)
from tests.actions.approval_support import (
    ESCAPES,
    OPERATOR,
    REPLICA,
    Bench,
    bench,
    no_raw_control,
    running_as_root,
)
from tests.test_guards import NOW

ROOT = Path(__file__).resolve().parents[2]
SECOND_USER = "postgres"


class Terminal:
    """`cockpit approve` in this process: scripted answers, every line it said."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.lines: list[str] = []

    def ask(self, prompt: str) -> str:
        self.lines.append(prompt)
        if not self.answers:
            raise EOFError
        return self.answers.pop(0)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def approve(bench_: Bench, terminal: Terminal, run_id: str | None = None) -> int:
    config_path = bench_.config.journal_dir.parent / "cockpit.toml"
    return run_approve(
        config_path,
        run_id=run_id,
        ask=terminal.ask,
        say=terminal.lines.append,
        clock=bench_.clock,
    )


def cockpit_approve(
    as_user: tuple[str, ...], typed: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """`cockpit approve ARGS` as a real command (started through `as_user`), `typed` on stdin."""
    return subprocess.run(
        [*as_user, sys.executable, "-m", "cockpit", "approve", *args],
        input=typed,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


async def test_nothing_pending_says_so(tmp_path: Path) -> None:
    terminal = Terminal()
    assert approve(bench(tmp_path), terminal) == EXIT_NOT_APPROVED
    assert "nothing to approve: no pending request" in terminal.text


def test_a_config_without_approval_or_with_problems_cannot_run(tmp_path: Path) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text('[cutover]\nname = "shop"\n')
    terminal = Terminal()
    assert run_approve(path, say=terminal.lines.append) == EXIT_CANNOT_RUN
    assert "has no [approval] section" in terminal.text
    path.write_text('[cutover]\nname = "shop"\n[approval]\nactions = ["promote-now"]\n')
    assert run_approve(path, say=terminal.lines.append) == EXIT_CANNOT_RUN
    assert "approval.actions[0]: 'promote-now' is not an action" in terminal.text
    assert run_approve(path, run_id="../x", say=terminal.lines.append) == EXIT_CANNOT_RUN


async def test_the_requester_is_shown_the_plan_and_refused(tmp_path: Path) -> None:
    bench_ = bench(tmp_path, identity=None)
    waiting = await bench_.request()
    terminal = Terminal("APPROVE", "looks fine to me")
    assert approve(bench_, terminal) == EXIT_NOT_APPROVED
    text = terminal.text
    assert "Promote PostgreSQL replica shop-db-new" in text
    assert "guard ok      Replication caught up (byte lag 0 B)" in text
    assert "byte lag: 0 B (1s ago)" in text
    assert f"plan digest {waiting.request.digest}" in text
    assert f"you ({bench_.me.words()}) asked for this approval" in text
    assert "type APPROVE" not in text
    assert not approval_path(bench_.approvals, waiting.prepared.run_id).exists()


async def test_a_request_its_named_requester_does_not_own_is_refused(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    await bench_.request()
    terminal = Terminal("APPROVE", "ok")
    assert approve(bench_, terminal) == EXIT_NOT_APPROVED
    assert f"belongs to {bench_.me.name}" in terminal.text
    assert f"names {OPERATOR.words()}" in terminal.text


async def test_several_requests_need_run_to_choose(tmp_path: Path) -> None:
    bench_ = bench(tmp_path, identity=None)
    first, second = await bench_.request(), await bench_.request()
    terminal = Terminal()
    assert approve(bench_, terminal) == EXIT_NOT_APPROVED
    assert "2 requests are pending: choose one with --run RUN_ID" in terminal.text
    assert first.prepared.run_id in terminal.text and second.prepared.run_id in terminal.text
    chosen = Terminal()
    assert approve(bench_, chosen, run_id=second.prepared.run_id) == EXIT_NOT_APPROVED
    assert f"run {second.prepared.run_id}, plan digest" in chosen.text
    missing = Terminal()
    assert approve(bench_, missing, run_id="1-1-1") == EXIT_NOT_APPROVED
    assert "no pending request for run 1-1-1" in missing.text


def hostile_request(bench_: Bench, run_id: str) -> None:
    """A request whose every string carries terminal escapes, its digest made to match."""
    path = request_path(bench_.approvals, run_id)
    document = json.loads(path.read_text())
    document["plan"]["summary"] = f"Promote {ESCAPES}"
    document["plan"]["calls"] = [ESCAPES * 50]
    document["title"] = document["cutover"] = document["operator"] = ESCAPES
    document["requester"]["name"] = ESCAPES
    document["guards"][0]["facts"] = [{"label": ESCAPES, "value": ESCAPES}]
    document["digest"] = digest_of(document["action"], document["plan"])
    path.write_text(json.dumps(document))


async def test_hostile_files_never_crash_approve_nor_reach_the_terminal(tmp_path: Path) -> None:
    bench_ = bench(tmp_path)
    waiting = await bench_.request()
    hostile_request(bench_, waiting.prepared.run_id)
    (bench_.approvals / "1-1-1.request.json").write_text("{" * 10)
    (bench_.approvals / "2-2-2.request.json").write_bytes(b"[" * (MAX_FILE_BYTES + 1))
    (bench_.approvals / f"{ESCAPES}.request.json").write_text("{}")
    terminal = Terminal("APPROVE", "ok")
    assert approve(bench_, terminal) == EXIT_NOT_APPROVED
    assert no_raw_control(terminal.text), terminal.text
    assert "\\x1b]0;owned" in terminal.text
    assert terminal.text.count("ignored:") == 3
    assert "not approved" in terminal.text

    process = cockpit_approve((), "APPROVE\nok\n", "-c", str(tmp_path / "cockpit.toml"))
    assert process.returncode == EXIT_NOT_APPROVED, process.stderr
    assert "Traceback" not in process.stderr and "internal error" not in process.stderr
    assert no_raw_control(process.stdout + process.stderr)


# --- a real second user ---------------------------------------------------------------------


def second_user() -> pwd.struct_passwd:
    if not running_as_root():
        pytest.skip("needs root to act as a second user (setuid in a child process)")
    try:
        return pwd.getpwnam(SECOND_USER)
    except KeyError:
        pytest.skip(f"no {SECOND_USER} user here to play the second operator")


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder both users can reach (pytest's own are private to root), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="cockpit-approval-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def shared_bench(folder: Path, user: pwd.struct_passwd) -> Bench:
    """The operator (root) with an approvals folder outside the journals, in the user's group."""
    group = grp.getgrgid(user.pw_gid).gr_name
    bench_ = bench(folder, identity=None, group=group, dir=str(folder / "approvals"))
    (folder / "cockpit.toml").chmod(0o644)
    return bench_


def as_user(user: pwd.struct_passwd, work: Callable[[TextIO], int]) -> tuple[int, str]:
    """Runs `work` in a child process that has become `user`; its exit code and output."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.close(reading)
            output = os.fdopen(writing, "w")
            try:
                os.setgroups([user.pw_gid])
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
                code = work(output)
            except BaseException as error:
                print(f"the child failed: {error!r}", file=output)
            output.flush()
        finally:
            os._exit(code)
    os.close(writing)
    with os.fdopen(reading) as output:
        text = output.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


async def test_a_second_user_approves_and_the_promotion_runs_with_both_names(
    shared_folder: Path,
) -> None:
    user = second_user()
    bench_ = shared_bench(shared_folder, user)
    waiting = await bench_.request()
    run_id = waiting.prepared.run_id

    def approve_as_second_user(output: TextIO) -> int:
        answers = iter(["APPROVE", "lag 0 B and writes stopped: checked"])
        return run_approve(
            shared_folder / "cockpit.toml",
            run_id=run_id,
            ask=lambda prompt: next(answers),
            say=lambda line: print(line, file=output),
            clock=lambda: NOW,
        )

    code, output = as_user(user, approve_as_second_user)
    assert code == EXIT_APPROVED, output
    assert f"as {user.pw_name} (uid {user.pw_uid})" in output
    assert approval_path(bench_.approvals, run_id).stat().st_uid == user.pw_uid

    check = await bench_.runner.check_approval(waiting)
    assert check.approval is not None, check.problem
    outcome = await bench_.runner.run(waiting.prepared, waiting.approved(check.approval))
    assert outcome.result == "succeeded", outcome.message
    approved = bench_.phases("approved")[-1]
    assert (approved["requester"], approved["approver"]) == ("root", user.pw_name)
    assert approved["reason"] == "lag 0 B and writes stopped: checked"


def can_run_the_checkout(user: str) -> str | None:
    """None when `user` can start this interpreter on this checkout; else why not."""
    probe = subprocess.run(
        ["runuser", "-u", user, "--", sys.executable, "-c", "import cockpit.commands.approve"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    if probe.returncode == 0:
        return None
    last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
    return f"{user} cannot run {sys.executable} on {ROOT}: {last}"


async def test_cockpit_approve_run_by_another_user_end_to_end(shared_folder: Path) -> None:
    user = second_user()
    if shutil.which("runuser") is None:
        pytest.skip("no runuser here to start a command as another user")
    why_not = can_run_the_checkout(user.pw_name)
    if why_not is not None:
        pytest.skip(why_not)
    bench_ = shared_bench(shared_folder, user)
    prepared = await bench_.prepare()
    bench_.clock.now = system_clock()
    waiting = await bench_.runner.request_approval(prepared, Confirmation(typed_word=REPLICA))
    assert isinstance(waiting, AwaitingApproval), waiting
    process = cockpit_approve(
        ("runuser", "-u", user.pw_name, "--"),
        "APPROVE\nsecond pair of eyes\n",
        *("-c", str(shared_folder / "cockpit.toml"), "--run", waiting.prepared.run_id),
    )
    assert process.returncode == EXIT_APPROVED, process.stdout + process.stderr
    check = await bench_.runner.check_approval(waiting)
    assert check.approval is not None, check.problem
    assert check.approval.approver.name == user.pw_name
    assert check.approval.reason == "second pair of eyes"
