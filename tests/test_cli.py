"""The command line as a user meets it: a real subprocess, real exit codes, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit import __version__
from cockpit.clock import FrozenClock
from cockpit.config import parse_config
from cockpit.journal.opening import open_session_journal
from cockpit.journal.reader import read_journal
from tests.samples import SIX_PROBLEMS, SIX_PROBLEMS_REPORTED

ROOT = Path(__file__).resolve().parent.parent

SUBCOMMANDS = [
    ["run"],
    ["demo"],
    ["check"],
    ["act"],
    ["note"],
    ["replay"],
    ["report"],
    ["verify"],
    ["config"],
    ["config", "validate"],
    ["sandbox"],
    ["sandbox", "up"],
    ["sandbox", "down"],
    ["sandbox", "status"],
    ["sandbox", "inject"],
    ["integrity"],
    ["approve"],
]


def cockpit(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_version() -> None:
    result = cockpit("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"cockpit {__version__}"


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_help_on_every_subcommand(words: list[str]) -> None:
    result = cockpit(*words, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: cockpit {' '.join(words)}")


def test_help_lists_every_command() -> None:
    result = cockpit("--help")
    commands = ("run", "demo", "check", "act", "approve", "replay", "report", "verify", "config")
    for command in commands:
        assert f"\n    {command} " in result.stdout


def test_act_knows_the_action_ids() -> None:
    result = cockpit("act", "--help")
    for action in ("maintenance-on", "maintenance-off", "promote", "weight-up", "weight-down"):
        assert action in result.stdout
    bad = cockpit("act", "promote-now")
    assert bad.returncode == 3
    assert "invalid choice: 'promote-now'" in bad.stderr


@pytest.mark.parametrize("command", ["replay", "report", "verify"])
def test_a_missing_journal_is_named_without_a_traceback(command: str, tmp_path: Path) -> None:
    result = cockpit(command, tmp_path / "nope.jsonl")
    assert result.returncode == 3
    assert "nope.jsonl" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_a_note_from_the_shell_lands_in_the_session_journal(tmp_path: Path) -> None:
    config = tmp_path / "cockpit.toml"
    text = (ROOT / "config.example.toml").read_text()
    config.write_text(text.replace('dir = "journal"', f'dir = "{tmp_path / "journal"}"', 1))
    result = cockpit("note", "DNS", "answers", "new", "at", "cache-2", "-c", config)
    assert result.returncode == 0, result.stderr + result.stdout
    again = cockpit("note", "rolled forward again", "-c", config)
    assert again.returncode == 0, again.stderr
    journals = list((tmp_path / "journal").glob("*.jsonl"))
    assert len(journals) == 1
    notes = [r.data for r in read_journal(journals[0])[0] if r.kind == "note"]
    assert [note["text"] for note in notes] == [
        "DNS answers new at cache-2",
        "rolled forward again",
    ]
    assert all("@" in str(note["operator"]) for note in notes)
    empty = cockpit("note", "  ", "-c", config)
    assert empty.returncode == 3 and "empty" in empty.stdout


def test_approve_with_a_bad_config_cannot_run_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text('[cutover]\nname = "shop"\n[approval]\nexpires_minutes = -1\n')
    result = cockpit("approve", "-c", path)
    assert result.returncode == 3
    assert "approval.expires_minutes: must be greater than 0" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    path.write_text('[cutover]\nname = "shop"\n[approval]\n')
    nothing = cockpit("approve", "-c", path)
    assert nothing.returncode == 1 and "nothing to approve" in nothing.stdout


def test_act_break_glass_needs_a_reason(tmp_path: Path) -> None:
    result = cockpit("act", "promote", "-c", tmp_path / "none.toml", "--break-glass", " ")
    assert result.returncode == 3
    assert "--break-glass needs a reason" in result.stderr


def test_validate_example_config() -> None:
    result = cockpit("config", "validate", "config.example.toml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("config.example.toml: ok (cutover, journal, aws,")


def test_validate_reports_all_six_problems_with_key_paths(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(SIX_PROBLEMS)
    result = cockpit("config", "validate", path)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.splitlines() == [
        f"{path}: 6 problems",
        *[f"  {problem}" for problem in SIX_PROBLEMS_REPORTED],
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[cutover\n", "not valid TOML"),
        (b"\xff\xfe[cutover]", "not UTF-8 text"),
    ],
)
def test_validate_unparseable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    result = cockpit("config", "validate", path)
    assert result.returncode == 3
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_missing_file(tmp_path: Path) -> None:
    result = cockpit("config", "validate", tmp_path / "nope.toml")
    assert result.returncode == 3
    assert "no such file" in result.stderr


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    text = '[cutover]\nname = "cli test"\n'
    config = parse_config(text, source="t", base_dir=tmp_path)
    clock = FrozenClock(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    writer = open_session_journal(
        config, config_text=text, mode="dry-run", environ={"USER": "bob"}, clock=clock
    )
    with writer:
        for index in range(5):
            writer.append("note", {"text": f"note {index}"})
    return writer.path


def test_verify_intact(journal: Path) -> None:
    result = cockpit("verify", journal)
    assert result.returncode == 0
    assert "intact: 7 lines, chain unbroken" in result.stdout
    assert "session closed cleanly" in result.stdout


def test_verify_names_the_edited_line(journal: Path) -> None:
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b"note 2", b"note X")
    journal.write_bytes(b"".join(lines))
    result = cockpit("verify", journal)
    assert result.returncode == 1
    assert "BROKEN at line 5: prev hash does not match line 4" in result.stderr


def test_verify_fails_on_a_truncated_tail(journal: Path) -> None:
    data = journal.read_bytes()
    journal.write_bytes(data[:-10])
    result = cockpit("verify", journal)
    assert result.returncode == 1
    assert "but the journal ends at seq 5: 1 record is missing" in result.stderr
    assert "last line 7 is cut off" in result.stderr


def test_verify_missing_journal(tmp_path: Path) -> None:
    result = cockpit("verify", tmp_path / "nope.jsonl")
    assert result.returncode == 3
    assert "NOT VERIFIED: cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_act_accepts_exactly_the_actions_the_registry_declares() -> None:
    from cockpit.actions.registry import ACTIONS
    from cockpit.commands.cli import ACTION_IDS

    assert sorted(ACTION_IDS) == sorted(spec.action_id.value for spec in ACTIONS)


def test_the_sandbox_names_its_extra_when_it_is_not_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Stands for an install without the extra (CI also proves it on a real one: the wheel in
    a fresh virtualenv, see scripts/check-package)."""
    import importlib.util

    from cockpit.sandbox import lifecycle
    from cockpit.sandbox.shared import SandboxError

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "moto" else real_find_spec(name, *rest),
    )
    with pytest.raises(SandboxError, match=r"pipx install --force 'cutover-cockpit\[sandbox\]'"):
        lifecycle.start_sandbox(tmp_path / "sandbox")
    assert not (tmp_path / "sandbox").exists(), "nothing started, nothing left behind"


@pytest.mark.parametrize(
    "args",
    [["check", "--bogus"], ["check", "--count", "2"], ["check", "--watch", "0"], ["nope"]],
)
def test_wrong_arguments_exit_3_could_not_run_not_2_critical(args: list[str]) -> None:
    result = cockpit(*args)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr


def test_check_help_documents_the_exit_codes_and_the_json_words() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "check", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    text = " ".join(result.stdout.split())
    assert "0 OK; 1 WARN, UNKNOWN or STALE" in text and "2 CRIT; 3 could not run" in text
    assert "status is ok, warn, critical, unknown or stale" in text


def completions(line: str, cwd: Path) -> list[str]:
    """What the shell would offer for `line`, asked the way argcomplete's shell code asks."""
    out = cwd / "completions.out"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\v",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
    }
    subprocess.run([sys.executable, "-m", "cockpit"], cwd=cwd, env=env, timeout=60, check=False)
    return sorted(part.strip() for part in out.read_text().split("\v") if part.strip())


def test_the_shell_completes_commands_actions_options_and_journals(tmp_path: Path) -> None:
    (tmp_path / "journal").mkdir()
    (tmp_path / "journal" / "20261204T010000Z-shop-1.jsonl").write_text("{}\n")
    (tmp_path / "journal" / "notes.txt").write_text("not a journal\n")
    assert completions("cockpit rep", tmp_path) == ["replay", "report"]
    actions = {"maintenance-on", "maintenance-off", "promote", "weight-up", "weight-down"}
    assert actions | {"rollback"} <= set(completions("cockpit act ", tmp_path))
    assert completions("cockpit act weight-", tmp_path) == ["weight-down", "weight-up"]
    assert completions("cockpit check --wa", tmp_path) == ["--watch"]
    assert completions("cockpit verify journal/", tmp_path) == [
        "journal/20261204T010000Z-shop-1.jsonl"
    ]


def test_completion_prints_the_shell_code_to_load() -> None:
    result = cockpit("completion", "bash")
    assert result.returncode == 0
    assert "complete " in result.stdout and "cockpit" in result.stdout
