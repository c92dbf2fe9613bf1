"""The night's record end to end: a sandbox session driven through `cockpit act` and `cockpit
note`, then `cockpit report` in Markdown and JSON, which must tell the same story in order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cockpit.actions.model import ActionId
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.actions.support import Act, sandbox_environ, wait_until, write_config
from tests.actions.test_act_sandbox import REPLICA, postgres, ready, route53_weights

NOTE = "lag back to 0 B at the primary, promoting now"


def cockpit(environ: dict[str, str], *words: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *map(str, words)],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=120,
    )


def drive_the_night(sandbox: SandboxHandle, folder: Path) -> Path:
    """Maintenance on, catch-up, promotion, two steps, a note, rollback: every step via the CLI."""
    # The quiet-primary guard has tests of its own; background WAL would make this one flaky.
    config = write_config(sandbox, folder, guards={"promote_quiet_seconds": 0.0})
    act = Act(sandbox, config)
    sandbox.client.inject("lag-spike")
    wait_until(lambda: int(postgres(sandbox)["replay_lag_bytes"] or 0) > 0, "replication lag")
    assert act(ActionId.MAINTENANCE_ON, yes=True) == 0, act.text
    assert act(ActionId.PROMOTE, confirm_name=REPLICA) == 1, act.text
    sandbox.client.inject("catch-up")
    wait_until(lambda: postgres(sandbox)["replay_lag_bytes"] == 0, "catch-up")
    environ = sandbox_environ(sandbox)
    noted = cockpit(environ, "note", NOTE, "-c", config)
    assert noted.returncode == 0, noted.stderr + noted.stdout
    assert act(ActionId.PROMOTE, confirm_name=REPLICA) == 0, act.text
    assert act(ActionId.MAINTENANCE_OFF, yes=True) == 0, act.text
    for step in ("first", "second"):
        wait_until(lambda: ready(sandbox, config, ActionId.WEIGHT_UP), f"{step} step ready", 90)
        assert act(ActionId.WEIGHT_UP, yes=True) == 0, act.text
    assert route53_weights(sandbox)["new"] == 10
    assert act(ActionId.ROLLBACK, yes=True) == 1, act.text
    assert "split-brain" in act.text
    reason = "the old app servers write to the promoted replica now"
    assert act(ActionId.ROLLBACK, "OVERRIDE", yes=True, override_reason=reason) == 0, act.text
    journals = list((folder / "journal").glob("*.jsonl"))
    assert len(journals) == 1
    return journals[0]


EXPECTED_ORDER = [
    ("maintenance-on", "succeeded"),
    ("promote", "refused"),
    ("promote", "succeeded"),
    ("maintenance-off", "succeeded"),
    ("weight-up", "succeeded"),
    ("weight-up", "succeeded"),
    ("rollback", "refused"),
    ("rollback", "succeeded"),
]


def test_the_report_tells_the_night_in_order_in_markdown_and_json(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    journal = drive_the_night(sandbox, tmp_path)
    environ = sandbox_environ(sandbox)
    markdown_file, json_file = tmp_path / "night.md", tmp_path / "night.json"
    as_markdown = cockpit(environ, "report", journal, "-o", markdown_file)
    as_json = cockpit(environ, "report", journal, "--format", "json", "-o", json_file)
    assert as_markdown.returncode == 0, as_markdown.stderr
    assert as_json.returncode == 0, as_json.stderr
    markdown = markdown_file.read_text()
    document = json.loads(json_file.read_text())

    actions = document["actions"]
    assert [(a["action"], a["outcome"]) for a in actions] == EXPECTED_ORDER
    assert_markdown_lists_actions_in_order(markdown, actions)
    for action in actions:
        assert_action_detail(markdown, action)
    promotion = actions[2]
    lag = [
        fact for guard in promotion["guards"] for fact in guard["facts"] if "lag" in fact["label"]
    ]
    assert lag and lag[0]["value"] == "0 B"
    refused = actions[1]
    assert any(not guard["passed"] for guard in refused["guards"])
    notes = document["notes"]
    assert [note["text"] for note in notes] == [NOTE]
    assert NOTE in markdown
    assert document["integrity"]["intact"] is True
    assert "PROMOTED" in markdown or "promoted" in markdown
    assert environ["COCKPIT_SANDBOX_PGPASSWORD"] not in markdown + json_file.read_text()


def assert_markdown_lists_actions_in_order(markdown: str, actions: list[dict[str, Any]]) -> None:
    """Each action's heading appears in the Markdown, in the JSON's order."""
    position = 0
    for action in actions:
        found = markdown.find(action["action"], position)
        assert found >= 0, f"{action['action']} missing after offset {position}"
        position = found + 1


def assert_action_detail(markdown: str, action: dict[str, Any]) -> None:
    """Guard values, outcome and the screen text of one action are all in the Markdown."""
    for guard in action["guards"]:
        assert guard["title"] in markdown
        for fact in guard["facts"]:
            assert f"{fact['label']}: {fact['value']}" in markdown
    assert action["outcome"].upper() in markdown.upper()
    screens = action["screens"]
    assert screens, f"{action['action']} has no screen recorded"
    for screen in screens:
        for line in screen["text"].splitlines()[:5]:
            assert line in markdown
