"""Tamper evidence: an edited end record, a cut journal and a re-chained forgery all fail verify."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.commands.cli import main
from cockpit.config import parse_config
from cockpit.journal import anchors as journal_anchor
from cockpit.journal.anchors import (
    MAX_ANCHOR_FILE_BYTES,
    Anchor,
    read_anchor_file,
    sidecar_path,
)
from cockpit.journal.opening import open_session_journal
from cockpit.journal.verify import verify_journal
from cockpit.journal.writer import JournalWriter
from cockpit.redact import Redactor
from tests import test_journal as journal_tests

START = datetime(2026, 11, 22, 1, 0, 0, tzinfo=UTC)
READINGS = 20
SYSLOG_LINE = re.compile(r"anchor journal=\S+\.jsonl id=[0-9a-f]{16} seq=\d+ head=[0-9a-f]{64}")


def scripted_clock(*seconds: float) -> Callable[[], datetime]:
    """A clock that answers START plus each of `seconds` in turn, then keeps the last."""
    moments: Iterator[float] = iter(seconds)
    last = [0.0]

    def now() -> datetime:
        last[0] = next(moments, last[0])
        return START + timedelta(seconds=last[0])

    return now


def create_writer(
    directory: Path, clock: Callable[[], datetime] | None = None, **options: bool
) -> JournalWriter:
    return journal_tests.create_writer(directory, clock=clock, name_hint="night", **options)


def write_session(writer: JournalWriter) -> None:
    """Readings with an action and a note among them, as a short night looks."""
    for index in range(READINGS):
        writer.append("reading", {"signal": "dns", "value": f"value-{index}"})
        if index == 5:
            writer.append("action", {"action": "weight-up", "phase": "started"})
        if index == 12:
            writer.append("note", {"text": "dns looks settled"})


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A closed journal with its sidecar anchors beside it."""
    with create_writer(tmp_path / "journal") as writer:
        write_session(writer)
    return writer.path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def digest(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def rechain(path: Path, edit: Callable[[dict[str, object]], None]) -> None:
    """Rewrites the journal as a careful forger would: edit records, then recompute every hash."""
    prev = "0" * 64
    out: list[bytes] = []
    for line in lines_of(path):
        record = json.loads(line)
        edit(record)
        record["prev"] = prev
        if record["kind"] == "end":
            record["data"]["last"] = prev
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
        out.append(text + b"\n")
        prev = digest(text)
    path.write_bytes(b"".join(out))


def change_value(record: dict[str, object]) -> None:
    data = record["data"]
    if isinstance(data, dict) and data.get("value") == "value-3":
        data["value"] = "value-X"


def replace_end_data(path: Path, **changes: object) -> None:
    """Rewrites the end record's data; nothing after it needs its hash, so only it changes."""
    lines = lines_of(path)
    record = json.loads(lines[-1])
    record["data"].update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del record["data"][key]
    lines[-1] = json.dumps(record, separators=(",", ":")).encode() + b"\n"
    path.write_bytes(b"".join(lines))


def syslog_file(journal: Path, destination: Path) -> Path:
    """The sidecar's anchors as journalctl would print them, with unrelated lines around them."""
    lines = ["Nov 22 01:00:00 host sshd[99]: Accepted publickey for alice"]
    for anchor in read_anchor_file(sidecar_path(journal)).anchors:
        lines.append(f"Nov 22 01:00:01 host cutover-cockpit[4242]: {anchor.syslog_text()}")
    lines.append("Nov 22 01:00:02 host CRON[7]: (root) CMD (true)")
    destination.write_text("\n".join(lines) + "\n")
    return destination


def summary_text(path: Path, *anchor_files: Path) -> str:
    return "\n".join(verify_journal(path, anchor_files=anchor_files).summary())


# --- intact journals --------------------------------------------------------------------------


def test_intact_closed_journal_passes_with_its_anchors(journal: Path) -> None:
    verification = verify_journal(journal)

    assert verification.intact
    assert verification.ended_cleanly
    assert verification.anchor_check is not None
    assert verification.anchor_check.anchors_checked == 4
    assert "anchors: 4 checked (4 from the sidecar" in summary_text(journal)


def test_journal_being_written_passes_as_still_running(tmp_path: Path) -> None:
    with create_writer(tmp_path) as writer:
        write_session(writer)
        verification = verify_journal(writer.path)
        with writer.path.open("ab") as stream:
            stream.write(b'{"seq":99,"t":"2026')
        with_partial_line = verify_journal(writer.path)

    assert verification.intact
    assert verification.still_running
    assert not verification.ended_cleanly
    assert "session still running" in "\n".join(verification.summary())
    assert with_partial_line.intact
    assert with_partial_line.still_running


def test_resumed_and_closed_journal_passes(journal: Path) -> None:
    with JournalWriter.resume(
        journal, data={"pid": 2}, redactor=Redactor(), clock=journal_tests.stepping_clock()
    ) as writer:
        writer.append("note", {"text": "back after the SSH drop"})

    verification = verify_journal(journal)

    assert verification.intact, verification.summary()
    assert verification.ended_cleanly
    assert verification.anchor_check is not None
    assert verification.anchor_check.anchors_checked == 7


def test_journal_resumed_after_a_crash_passes_once_closed(tmp_path: Path) -> None:
    with create_writer(tmp_path) as writer:
        write_session(writer)
        crashed = writer.path.read_bytes(), sidecar_path(writer.path).read_bytes()
    writer.path.write_bytes(crashed[0])
    sidecar_path(writer.path).write_bytes(crashed[1])
    assert not verify_journal(writer.path).intact

    JournalWriter.resume(
        writer.path, data={}, redactor=Redactor(), clock=journal_tests.stepping_clock()
    ).close()

    assert verify_journal(writer.path).intact


# --- the end record ---------------------------------------------------------------------------


def test_end_record_covers_count_and_last_hash(journal: Path) -> None:
    lines = lines_of(journal)
    end = json.loads(lines[-1])

    assert end["data"] == {"records": len(lines) - 1, "last": digest(lines[-2])}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"records": 3}, "the end record says 3 records but 23 lines come before it"),
        ({"last": "f" * 64}, "the end record's last hash is not the hash of the line before"),
        ({"last": None}, 'does not give the last line\'s hash ("last")'),
    ],
)
def test_edited_end_record_fails(journal: Path, changes: dict[str, object], words: str) -> None:
    sidecar_path(journal).unlink()
    replace_end_data(journal, **changes)

    verification = verify_journal(journal)

    assert not verification.intact
    assert verification.first_bad_line == 24
    assert words in verification.summary()[0]


def test_edited_end_record_also_fails_its_anchor(journal: Path) -> None:
    replace_end_data(journal, records=3)

    assert not verify_journal(journal).intact


def test_record_after_the_end_record_fails(journal: Path) -> None:
    sidecar_path(journal).unlink()
    rechain(journal, lambda record: None)
    lines = lines_of(journal)
    extra = {"seq": 24, "t": "2026-11-22T02:00:00.000000Z", "kind": "note"}
    extra |= {"prev": digest(lines[-1]), "data": {"text": "added later"}}
    journal.write_bytes(b"".join(lines) + json.dumps(extra, separators=(",", ":")).encode())

    verification = verify_journal(journal)

    assert not verification.intact
    assert "follows the end record" in verification.summary()[0]


# --- cuts -----------------------------------------------------------------------------------


def test_cut_in_the_middle_fails(journal: Path) -> None:
    os.truncate(journal, journal.stat().st_size // 2)

    verification = verify_journal(journal)

    assert not verification.intact
    assert "records are missing (the journal was cut)" in verification.summary()[0]


def test_cut_in_the_middle_fails_without_anchors(journal: Path) -> None:
    sidecar_path(journal).unlink()
    content = journal.read_bytes()
    middle = len(content) // 2
    cut_mid_line = content.rindex(b"\n", 0, middle) + 10
    journal.write_bytes(content[:cut_mid_line])

    verification = verify_journal(journal)

    assert not verification.intact
    assert verification.truncated is not None
    assert verification.first_bad_line == verification.truncated.line_number
    assert "the file was cut (truncated) here, or the cockpit crashed" in verification.summary()[0]


def test_deleted_last_lines_fail(journal: Path) -> None:
    lines = lines_of(journal)
    journal.write_bytes(b"".join(lines[:-3]))

    verification = verify_journal(journal)

    assert not verification.intact
    assert verification.summary()[0] == (
        f"BROKEN: the sidecar {journal.name}.anchors records seq 23 but the journal ends at "
        "seq 20: 3 records are missing (the journal was cut)"
    )


def test_deleted_last_lines_fail_without_anchors(journal: Path) -> None:
    sidecar_path(journal).unlink()
    journal.write_bytes(b"".join(lines_of(journal)[:-3]))

    verification = verify_journal(journal)

    assert not verification.intact
    assert verification.summary()[0] == (
        "BROKEN: the journal stops at line 21 without an end record and no process is writing "
        "it: lines were deleted from its end, or the cockpit crashed or was killed before "
        "closing it"
    )


# --- re-chained forgeries -------------------------------------------------------------------


def test_rechained_forgery_passes_the_chain_alone(journal: Path) -> None:
    sidecar_path(journal).unlink()
    rechain(journal, change_value)

    verification = verify_journal(journal)

    assert verification.intact
    assert "the chain alone cannot detect a journal rewritten" in summary_text(journal)


def test_rechained_forgery_fails_against_the_sidecar(journal: Path) -> None:
    rechain(journal, change_value)

    verification = verify_journal(journal)

    assert not verification.intact
    assert verification.first_bad_line == 8
    assert "line 8 (seq 7) is not the line anchored in the sidecar" in verification.summary()[0]


def test_rechained_forgery_fails_against_syslog_anchors(journal: Path, tmp_path: Path) -> None:
    anchors = syslog_file(journal, tmp_path / "anchors.txt")
    sidecar_path(journal).unlink()
    rechain(journal, change_value)

    verification = verify_journal(journal, anchor_files=[anchors])

    assert not verification.intact
    assert f"is not the line anchored in anchor file {anchors}" in verification.summary()[0]


def test_forged_header_fails_against_anchors_naming_the_journal(
    journal: Path, tmp_path: Path
) -> None:
    anchors = syslog_file(journal, tmp_path / "anchors.txt")
    sidecar_path(journal).unlink()

    def change_operator(record: dict[str, object]) -> None:
        data = record["data"]
        if record["kind"] == "header" and isinstance(data, dict):
            data["operator"] = "mallory@host"

    rechain(journal, change_operator)

    verification = verify_journal(journal, anchor_files=[anchors])

    assert not verification.intact
    assert "the header line was rewritten" in verification.summary()[0]


def test_anchors_of_other_journals_are_not_counted(journal: Path, tmp_path: Path) -> None:
    other = Anchor("other.jsonl", "0123456789abcdef", 3, "a" * 64)
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(f"host cutover-cockpit[1]: {other.syslog_text()}\n")

    verification = verify_journal(journal, anchor_files=[anchors])

    assert verification.intact
    assert "anchors: 4 checked (4 from the sidecar" in verification.summary()[2]


# --- writing anchors ------------------------------------------------------------------------


def test_anchors_at_header_action_note_end_and_every_minute(
    tmp_path: Path, syslog_sent: list[str]
) -> None:
    clock = scripted_clock(0, 0, 10, 20, 30, 85, 90, 100, 110)
    writer = create_writer(tmp_path, clock)
    writer.append("reading", {"n": 1})
    writer.append("action", {"phase": "planned"})
    writer.append("reading", {"n": 2})
    writer.append("reading", {"n": 3})
    writer.append("note", {"text": "ok"})
    writer.append("reading", {"n": 4})
    writer.close()

    anchors = read_anchor_file(sidecar_path(writer.path)).anchors
    lines = lines_of(writer.path)

    assert [anchor.seq for anchor in anchors] == [0, 2, 4, 5, 7]
    assert [anchor.head for anchor in anchors] == [digest(lines[a.seq]) for a in anchors]
    assert {anchor.journal_id for anchor in anchors} == {digest(lines[0])[:16]}
    assert syslog_sent == []


def test_sidecar_is_private(journal: Path) -> None:
    assert stat.S_IMODE(sidecar_path(journal).stat().st_mode) == 0o600


def test_syslog_anchor_line(tmp_path: Path, syslog_sent: list[str]) -> None:
    with create_writer(tmp_path, anchor_syslog=True, anchor_sidecar=False) as writer:
        writer.append("note", {"text": "hello"})

    assert not sidecar_path(writer.path).exists()
    assert len(syslog_sent) == 3
    assert all(SYSLOG_LINE.fullmatch(line) for line in syslog_sent)
    assert syslog_sent[1].startswith(f"anchor journal={writer.path.name} id=")
    assert syslog_sent[1].endswith(f" seq=1 head={digest(lines_of(writer.path)[1])}")


def test_session_from_config_sends_anchors_to_syslog(
    tmp_path: Path, syslog_sent: list[str]
) -> None:
    text = f'[cutover]\nname = "shop"\n[journal]\ndir = "{tmp_path}"\n'
    config = parse_config(text, source="t.toml", base_dir=tmp_path)
    with open_session_journal(
        config,
        config_text=text,
        mode="dry-run",
        environ={"USER": "a"},
        clock=journal_tests.stepping_clock(),
    ):
        pass

    assert [line.split(" seq=")[1][:1] for line in syslog_sent] == ["0", "1"]


def test_config_can_turn_syslog_anchors_off(tmp_path: Path, syslog_sent: list[str]) -> None:
    text = f'[cutover]\nname = "shop"\n[journal]\ndir = "{tmp_path}"\nanchor_syslog = false\n'
    config = parse_config(text, source="t.toml", base_dir=tmp_path)
    with open_session_journal(
        config,
        config_text=text,
        mode="dry-run",
        environ={"USER": "a"},
        clock=journal_tests.stepping_clock(),
    ) as writer:
        pass

    assert syslog_sent == []
    assert len(read_anchor_file(sidecar_path(writer.path)).anchors) == 2


def test_unwritable_sidecar_is_noted_and_the_journal_goes_on(tmp_path: Path) -> None:
    stem = f"{journal_tests.START:%Y%m%dT%H%M%SZ}-night-{os.getpid()}"
    (tmp_path / f"{stem}.jsonl.anchors").mkdir()
    with create_writer(tmp_path) as writer:
        write_session(writer)

    assert writer.anchor_problem is not None
    assert "cannot write the anchor file" in writer.anchor_problem
    verification = verify_journal(writer.path)
    assert verification.intact
    assert f"{writer.path.name}.anchors not read: " in "\n".join(verification.summary())


def test_syslog_channel_swallows_failures_and_never_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    attempted: list[str] = []

    def blocking_syslog(priority: int, message: str) -> None:
        attempted.append(message)
        release.wait()
        raise OSError("no log daemon")

    monkeypatch.setattr(journal_anchor.syslog, "openlog", lambda *args: None)
    monkeypatch.setattr(journal_anchor.syslog, "syslog", blocking_syslog)
    channel = journal_anchor._SyslogChannel()

    for index in range(5):
        channel.send(f"anchor {index}")
    channel.flush(0)
    release.set()
    channel.flush(30)

    assert attempted == [f"anchor {index}" for index in range(5)]


# --- bad anchor files -----------------------------------------------------------------------


def test_malformed_anchor_lines_are_counted_not_fatal(journal: Path, tmp_path: Path) -> None:
    anchors = syslog_file(journal, tmp_path / "anchors.txt")
    with anchors.open("a") as stream:
        stream.write("host cutover-cockpit[1]: anchor journal=x id=zz seq=1\n")
        stream.write('{"journal": "x", "id": 5}\n')
        stream.write("{not json\n")
        stream.write("[1, 2] is not about anchors\n")

    verification = verify_journal(journal, anchor_files=[anchors])

    assert verification.intact
    assert f"anchor file {anchors}: 3 malformed anchor line(s) skipped" in verification.summary()


def test_binary_anchor_file_does_not_crash(journal: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 100)

    assert verify_journal(journal, anchor_files=[garbage]).intact


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "huge"])
def test_unreadable_anchor_file_is_refused(journal: Path, tmp_path: Path, kind: str) -> None:
    anchors = tmp_path / "anchors"
    if kind == "directory":
        anchors.mkdir()
    elif kind == "fifo":
        os.mkfifo(anchors)
    elif kind == "huge":
        anchors.touch()
        os.truncate(anchors, MAX_ANCHOR_FILE_BYTES + 1)

    verification = verify_journal(journal, anchor_files=[anchors])

    assert verification.intact
    assert any(f"anchor file {anchors} not read" in line for line in verification.summary())


# --- command line ---------------------------------------------------------------------------


def test_cli_verify_exit_codes(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anchors = syslog_file(journal, tmp_path / "anchors.txt")
    assert main(["verify", str(journal), "--anchors", str(anchors)]) == 0
    assert "anchors: 8 checked" in capsys.readouterr().out

    sidecar_path(journal).unlink()
    rechain(journal, change_value)
    assert main(["verify", str(journal)]) == 0
    assert main(["verify", str(journal), "--anchors", str(anchors)]) == 1
    assert "BROKEN at line 8" in capsys.readouterr().err


def test_cli_verify_fails_on_a_cut_journal(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal.write_bytes(b"".join(lines_of(journal)[:-1]))

    assert main(["verify", str(journal)]) == 1
    assert "1 record is missing" in capsys.readouterr().err
