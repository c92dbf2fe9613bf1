"""One live record on the sandbox: rollback sees every live change, whichever process made it.

Dry-run and read-only sessions in between, a process killed mid-action, two processes at once,
a change made behind the cockpit's back, and an action backend that cannot be read.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from cockpit.actions.model import ActionId
from cockpit.commands.check import run_check
from cockpit.commands.note import run_note
from cockpit.config import load_config, read_config_text
from cockpit.journal.opening import open_session_journal
from cockpit.journal.reader import journal_header
from cockpit.review.report import build_report
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sandbox.shared import free_port
from tests.actions.support import (
    Act,
    action_records,
    journal_records,
    sandbox_environ,
    wait_until,
    write_config,
)
from tests.actions.test_act_sandbox import (
    front_door_status,
    mutating_requests_since,
    route53_weights,
)
from tests.sandbox.test_sandbox import upsert_weights

BASELINE = {"old": 100, "new": 0}
FIRST_STEP = {"old": 95, "new": 5}
STALL_MS = 30_000


def record_config(sandbox: SandboxHandle, folder: Path) -> Path:
    """The sandbox config for tests of the record, not of the error guard.

    Earlier tests leave 5xx from the new side in the stand-ins' 60 s windows; these tests step
    weights whatever the new side's error rate, which has tests of its own.
    """
    return write_config(sandbox, folder, guards={"weight_max_new_error_ratio": 1.0})


def live_journals(folder: Path) -> list[Path]:
    journals = sorted((folder / "journal").glob("*.jsonl"))
    return [path for path in journals if (journal_header(path) or {}).get("mode") == "live"]


def start_act(sandbox: SandboxHandle, config: Path, action: ActionId) -> subprocess.Popen[str]:
    """`cockpit act ACTION --yes` in a process of its own, which the test may kill by its PID."""
    return subprocess.Popen(
        [sys.executable, "-m", "cockpit", "act", action.value, "--yes", "-c", str(config)],
        env=sandbox_environ(sandbox),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def kill_weight_up_after_executed(sandbox: SandboxHandle, config: Path, folder: Path) -> None:
    """A `cockpit act weight-up` SIGKILLed once its change is made, before its read-back ends.

    The stand-in stalls reads after the change, so the kill lands between `executed` and the
    end every time; reads are back to normal afterwards.
    """
    sandbox.client.inject("aws-stall-after-write", ms=STALL_MS)
    process = start_act(sandbox, config, ActionId.WEIGHT_UP)
    try:
        wait_until(lambda: "executed" in phases(folder, ActionId.WEIGHT_UP), "executed", 90)
    except AssertionError as error:
        process.send_signal(signal.SIGKILL)
        said = process.communicate(timeout=30)[0]
        raise AssertionError(f"{error}; the act said:\n{said}") from None
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    sandbox.client.inject("aws-normal")


def phases(folder: Path, action: ActionId) -> list[str]:
    return [
        str(r.data["phase"])
        for r in journal_records(folder)
        if r.kind == "action" and r.data.get("action") == action.value
    ]


def test_dry_run_and_read_only_sessions_in_between_do_not_make_rollback_forget(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    config = record_config(sandbox, tmp_path)
    act = Act(sandbox, config)
    assert act(ActionId.WEIGHT_UP, yes=True) == 0, act.text
    assert act(ActionId.ROLLBACK, yes=True, dry_run=True) == 0, act.text
    assert "DRY RUN" in act.text and route53_weights(sandbox) == FIRST_STEP
    settings = load_config(config)
    watcher = open_session_journal(
        settings,
        config_text=read_config_text(config),
        mode="read-only",
        environ=sandbox_environ(sandbox),
    )
    watcher.close()
    note = "dry run looked right, rolling back for real"
    said: list[str] = []
    environ = sandbox_environ(sandbox)
    assert run_note(config, note, journal_dir=None, environ=environ, say=said.append) == 0

    assert act(ActionId.ROLLBACK, yes=True) == 0, act.text

    assert route53_weights(sandbox) == BASELINE
    [live] = live_journals(tmp_path)
    assert len(list((tmp_path / "journal").glob("*.jsonl"))) == 3
    records = [r for r in journal_records(tmp_path) if r.kind == "note"]
    assert [r.data["text"] for r in records] == [note]
    assert str(live) in said[-1]


def test_a_process_killed_after_executed_leaves_an_unknown_outcome_that_rollback_undoes(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    config = record_config(sandbox, tmp_path)
    kill_weight_up_after_executed(sandbox, config, tmp_path)
    assert route53_weights(sandbox) == FIRST_STEP
    assert "completed" not in phases(tmp_path, ActionId.WEIGHT_UP)

    checked = run_check(load_config(config), sandbox_environ(sandbox))
    assert [end for end in checked.loose_ends if "weight-up" in end and "UNKNOWN" in end]
    assert checked.exit_code >= 1

    act = Act(sandbox, config)
    assert act(ActionId.ROLLBACK, yes=True) == 0, act.text
    assert "OUTCOME UNKNOWN" in act.text and "old 95 % / new 5 %" in act.text
    assert route53_weights(sandbox) == BASELINE
    completed = action_records(tmp_path, ActionId.WEIGHT_UP, "completed")
    assert [c["outcome"] for c in completed] == ["unknown"]
    assert completed[0]["inverse"]["target"]["after"] == BASELINE

    [live] = live_journals(tmp_path)
    report = build_report(live)
    weight_up = [a for a in report["actions"] if a["action"] == "weight-up"]  # type: ignore[union-attr,index]
    assert [a["outcome"] for a in weight_up] == ["unknown"]  # type: ignore[index]
    assert "OUTCOME UNKNOWN" in str(weight_up[0]["message"])  # type: ignore[index]


def test_two_acts_started_together_on_an_empty_folder_run_one_action(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    config = record_config(sandbox, tmp_path)
    # The winner holds the cutover for the seconds its read-back is stalled (under the 5 s timeout).
    sandbox.client.inject("aws-stall-after-write", ms=3_000)
    first = start_act(sandbox, config, ActionId.WEIGHT_UP)
    second = start_act(sandbox, config, ActionId.WEIGHT_UP)
    outputs = [process.communicate(timeout=120)[0] for process in (first, second)]
    codes = sorted(process.returncode for process in (first, second))
    sandbox.client.inject("aws-normal")

    assert codes == [0, 1], outputs
    assert any("being run live by another cockpit process" in text for text in outputs)
    assert route53_weights(sandbox) == FIRST_STEP
    assert phases(tmp_path, ActionId.WEIGHT_UP).count("started") == 1
    assert len(list((tmp_path / "journal").glob("*.jsonl"))) == 1


def test_a_weight_change_made_outside_the_cockpit_is_an_event_a_record_and_a_report_line(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    config = record_config(sandbox, tmp_path)
    act = Act(sandbox, config)
    assert act(ActionId.WEIGHT_UP, yes=True) == 0, act.text
    upsert_weights(sandbox, 0, 100)

    assert act(ActionId.ROLLBACK, yes=True) == 0, act.text

    said = "changed outside the cockpit: weights old 95 % / new 5 % → old 0 % / new 100 %"
    assert said in act.text
    assert "old 0 % / new 100 % → old 100 % / new 0 %" in act.text
    assert route53_weights(sandbox) == BASELINE
    drifts = [r.data for r in journal_records(tmp_path) if r.kind == "drift"]
    assert [d["after"] for d in drifts] == [{"old": 0, "new": 100}]
    [live] = live_journals(tmp_path)
    timeline: Any = build_report(live)["timeline"]
    assert any(said in entry["text"] for entry in timeline if entry["kind"] == "drift")


def test_maintenance_on_is_blocked_while_the_aws_stand_in_cannot_be_reached(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    config = record_config(sandbox, tmp_path)
    settings = load_config(config)
    assert settings.maintenance is not None and settings.maintenance.alb is not None
    document = _toml(config)
    document["aws"]["endpoint_url"] = f"http://127.0.0.1:{free_port()}"
    config.write_text(tomli_w.dumps(document))
    before = sandbox.client.requests()

    act = Act(sandbox, config)
    assert act(ActionId.MAINTENANCE_ON, yes=True) == 1

    assert "the ALB listener's rules cannot be read" in act.text
    refused = action_records(tmp_path, ActionId.MAINTENANCE_ON, "refused")[-1]
    reasons = [g["reason"] for g in refused["guards"] if not g["passed"]]
    assert any("the ALB listener's rules cannot be read" in str(r) for r in reasons)
    assert not action_records(tmp_path, ActionId.MAINTENANCE_ON, "started")
    assert front_door_status(sandbox) == 200
    assert mutating_requests_since(sandbox, before) == []


def _toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def test_the_lock_file_names_the_process_that_holds_it(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    config = record_config(sandbox, tmp_path)
    settings = load_config(config)
    holder = open_session_journal(
        settings, config_text=read_config_text(config), mode="live", environ=os.environ
    )
    try:
        act = Act(sandbox, config)
        assert act(ActionId.WEIGHT_UP, yes=True) == 1
        assert f"pid {os.getpid()}" in act.text
    finally:
        holder.close()
    assert route53_weights(sandbox) == BASELINE
