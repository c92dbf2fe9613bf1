"""The session journal: header, private file, hash chain, tamper detection, tolerant reading."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cockpit
import cockpit.journal.reader as journal_reader
from cockpit.journal.chain import FORMAT_VERSION, GENESIS, JournalBusy, JournalError, session_header
from cockpit.journal.lock import is_locked
from cockpit.journal.reader import read_journal
from cockpit.journal.verify import verify_journal
from cockpit.journal.writer import STRUCTURAL_KINDS, JournalWriter, latest_journal
from cockpit.jsonvalue import JsonValue
from cockpit.redact import Redactor, redactor_for
from cockpit.visible import visible, visible_json

START = datetime(2026, 11, 22, 1, 2, 3, 123456, tzinfo=UTC)
RECORD_COUNT = 10


def frozen_clock(moment: datetime = START) -> Callable[[], datetime]:
    """A clock that always says `moment`."""
    return lambda: moment


def stepping_clock(step: timedelta = timedelta(seconds=1)) -> Callable[[], datetime]:
    """A clock that starts at START and moves on by `step` at every call."""
    ticks = iter(range(1_000_000))
    return lambda: START + step * next(ticks)


def make_header(**overrides: JsonValue) -> dict[str, JsonValue]:
    """A session header as the CLI would build it, with fixed environment."""
    header = session_header(
        cutover_name="night-cutover",
        config_digest="sha256:abc",
        mode="live",
        environ={"USER": "alice"},
        started_at=START,
    )
    return {**header, **overrides}


def create_writer(
    directory: Path,
    *,
    redactor: Redactor | None = None,
    clock: Callable[[], datetime] | None = None,
    name_hint: str = "night cutover",
    **anchor_options: bool,
) -> JournalWriter:
    """A writer with test defaults; `anchor_options` go to JournalWriter.create."""
    return JournalWriter.create(
        directory,
        header=make_header(),
        redactor=redactor or Redactor(),
        clock=clock or stepping_clock(),
        name_hint=name_hint,
        **anchor_options,
    )


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A closed journal: header, RECORD_COUNT readings and the end record; line n has seq n - 1."""
    with create_writer(tmp_path / "journals") as writer:
        for index in range(RECORD_COUNT):
            writer.append("reading", {"source": "dns", "value": f"value-{index}", "n": index})
    return writer.path


def lines_of(path: Path) -> list[bytes]:
    """The file's lines, newlines included."""
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, lines: list[bytes]) -> None:
    """Replaces the file's contents with `lines`."""
    path.write_bytes(b"".join(lines))


# --- header ---------------------------------------------------------------------------------


def test_session_header_has_every_field() -> None:
    header = session_header(
        cutover_name="night-cutover",
        config_digest="sha256:abc",
        mode="dry-run",
        environ={"USER": "alice", "SSH_CLIENT": "203.0.113.7 52144 22"},
        started_at=START,
    )

    assert header == {
        "format_version": FORMAT_VERSION,
        "cockpit_version": cockpit.__version__,
        "cutover": "night-cutover",
        "config_digest": "sha256:abc",
        "mode": "dry-run",
        "operator": header["operator"],
        "ssh_client": "203.0.113.7",
        "started_at": "2026-11-22T01:02:03.123456Z",
        "pid": os.getpid(),
    }
    assert list(header) == [
        "format_version",
        "cockpit_version",
        "cutover",
        "config_digest",
        "mode",
        "operator",
        "ssh_client",
        "started_at",
        "pid",
    ]


def test_operator_is_user_at_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "jump-1")

    header = session_header(
        cutover_name="c",
        config_digest="d",
        mode="live",
        environ={"USER": "alice"},
        started_at=START,
    )

    assert header["operator"] == "alice@jump-1"


def test_operator_falls_back_to_logname_then_the_system(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "jump-1")
    monkeypatch.setattr("getpass.getuser", lambda: "from-system")

    def operator(environ: dict[str, str]) -> JsonValue:
        header = session_header(
            cutover_name="c", config_digest="d", mode="live", environ=environ, started_at=START
        )
        return header["operator"]

    assert operator({"LOGNAME": "bob"}) == "bob@jump-1"
    assert operator({}) == "from-system@jump-1"


def test_operator_is_unknown_when_the_system_cannot_say(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_user() -> str:
        raise KeyError("getpwuid(): uid not found: 4242")

    monkeypatch.setattr("socket.gethostname", lambda: "jump-1")
    monkeypatch.setattr("getpass.getuser", no_user)

    header = session_header(
        cutover_name="c", config_digest="d", mode="live", environ={}, started_at=START
    )

    assert header["operator"] == "unknown@jump-1"


@pytest.mark.parametrize(
    ("environ", "expected_client"),
    [
        ({"SSH_CLIENT": "203.0.113.7 52144 22"}, "203.0.113.7"),
        ({"SSH_CONNECTION": "198.51.100.9 40000 192.0.2.1 22"}, "198.51.100.9"),
        (
            {"SSH_CLIENT": "203.0.113.7 52144 22", "SSH_CONNECTION": "198.51.100.9 1 192.0.2.1 22"},
            "203.0.113.7",
        ),
        ({"SSH_CLIENT": "", "SSH_CONNECTION": "2001:db8::1 40000 2001:db8::2 22"}, "2001:db8::1"),
        ({}, None),
    ],
)
def test_ssh_client_comes_from_the_environment(
    environ: dict[str, str], expected_client: str | None
) -> None:
    header = session_header(
        cutover_name="c", config_digest="d", mode="live", environ=environ, started_at=START
    )

    assert header["ssh_client"] == expected_client


# --- the file -------------------------------------------------------------------------------


def test_journal_is_owner_only_even_with_an_open_umask(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "journals"
    previous_umask = os.umask(0)
    try:
        with create_writer(directory) as writer:
            path = writer.path
    finally:
        os.umask(previous_umask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "deep").stat().st_mode) == 0o700


def test_file_name_is_start_time_slug_and_pid(tmp_path: Path) -> None:
    with create_writer(tmp_path, clock=frozen_clock(), name_hint="Night Cutover: prod/EU!") as w:
        name = w.path.name

    assert name == f"20261122T010203Z-night-cutover-prod-eu-{os.getpid()}.jsonl"


def test_file_name_uses_utc_even_for_a_clock_in_another_zone(tmp_path: Path) -> None:
    paris_time = START.astimezone(timezone(timedelta(hours=1)))

    with create_writer(tmp_path, clock=frozen_clock(paris_time), name_hint="") as writer:
        name = writer.path.name

    assert re.fullmatch(rf"20261122T010203Z-session-{os.getpid()}\.jsonl", name)


def test_a_taken_name_gets_a_numbered_suffix(tmp_path: Path) -> None:
    names = []
    for _ in range(3):
        with create_writer(tmp_path, clock=frozen_clock(), name_hint="x") as writer:
            names.append(writer.path.name)

    stem = f"20261122T010203Z-x-{os.getpid()}"
    assert names == [f"{stem}.jsonl", f"{stem}-2.jsonl", f"{stem}-3.jsonl"]


def test_lines_are_compact_ordered_and_chained(journal: Path) -> None:
    raw_lines = journal.read_bytes().split(b"\n")

    assert raw_lines[-1] == b""
    previous_digest = GENESIS
    for seq, raw in enumerate(raw_lines[:-1]):
        record = json.loads(raw)
        assert list(record) == ["seq", "t", "kind", "prev", "data"]
        assert record["seq"] == seq
        assert record["prev"] == previous_digest
        expected_bytes = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        assert raw == expected_bytes.encode()
        previous_digest = hashlib.sha256(raw).hexdigest()


def test_header_line_carries_the_header(journal: Path) -> None:
    first = json.loads(lines_of(journal)[0])

    assert first["kind"] == "header"
    assert first["seq"] == 0
    assert first["prev"] == GENESIS
    assert first["data"] == make_header()


def test_non_ascii_text_is_stored_as_utf8(tmp_path: Path) -> None:
    with create_writer(tmp_path) as writer:
        writer.append("note", {"text": "bascule à 01:00 — ok ✓"})

    assert "bascule à 01:00 — ok ✓".encode() in writer.path.read_bytes()


# --- appending ------------------------------------------------------------------------------


def test_append_returns_consecutive_seqs(tmp_path: Path) -> None:
    with create_writer(tmp_path) as writer:
        seqs = [writer.append("note", {"i": index}) for index in range(3)]

    assert seqs == [1, 2, 3]


def test_frozen_clock_gives_deterministic_times(tmp_path: Path) -> None:
    with create_writer(tmp_path, clock=frozen_clock()) as writer:
        writer.append("note", {"text": "a"})
        writer.append("note", {"text": "b"})

    times = [json.loads(line)["t"] for line in lines_of(writer.path)]
    assert times == ["2026-11-22T01:02:03.123456Z"] * 4
    records, _ = read_journal(writer.path)
    assert [record.t for record in records] == [START] * 4
    assert records[-1].kind == "end"


def test_naive_clock_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        create_writer(tmp_path, clock=frozen_clock(START.replace(tzinfo=None)))

    assert list(tmp_path.iterdir()) == []


def test_sync_append_fsyncs_after_writing_and_plain_append_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync
    sizes_at_fsync: list[int] = []

    def recording_fsync(fd: int) -> None:
        sizes_at_fsync.append(os.fstat(fd).st_size)
        real_fsync(fd)

    writer = create_writer(tmp_path)
    monkeypatch.setattr(os, "fsync", recording_fsync)

    writer.append("reading", {"value": 1})
    calls_after_plain_append = len(sizes_at_fsync)
    writer.append("action", {"phase": "started"}, sync=True)

    assert calls_after_plain_append == 0
    assert sizes_at_fsync == [writer.path.stat().st_size]
    writer.close()


def test_nan_and_infinity_are_refused_without_breaking_the_chain(tmp_path: Path) -> None:
    with create_writer(tmp_path) as writer:
        writer.append("reading", {"value": 1})
        with pytest.raises(ValueError):
            writer.append("reading", {"value": float("nan")})
        with pytest.raises(ValueError):
            writer.append("reading", {"values": [float("inf")]})
        next_seq = writer.append("reading", {"value": 2})

    assert next_seq == 2
    assert verify_journal(writer.path).intact
    assert len(lines_of(writer.path)) == 4


def test_lone_surrogates_are_written_spelled_out(tmp_path: Path) -> None:
    with create_writer(tmp_path) as writer:
        writer.append("reading", {"file": "report-\udcff.txt"})

    records, _ = read_journal(writer.path)
    assert records[1].data == {"file": "report-\\udcff.txt"}
    assert verify_journal(writer.path).intact


def test_append_after_close_is_refused(tmp_path: Path) -> None:
    writer = create_writer(tmp_path)
    writer.close()
    writer.close()

    with pytest.raises(ValueError, match="closed"):
        writer.append("note", {})


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    redactor = redactor_for(["hunter2"])
    with JournalWriter.create(
        tmp_path,
        header=make_header(note="password hunter2"),
        redactor=redactor,
        clock=frozen_clock(),
    ) as writer:
        writer.append(
            "action",
            {
                "dsn": "postgresql://app:hunter2@db/app",
                "nested": [{"hunter2": ["x", "before hunter2 after"]}, [["hunter2"]]],
                "key-hunter2": {"deeper": "hunter2hunter2"},
            },
        )

    content = writer.path.read_bytes()
    assert b"hunter2" not in content
    records, _ = read_journal(writer.path)
    assert records[1].data["dsn"] == "postgresql://app:***@db/app"
    assert records[1].data["nested"] == [{"***": ["x", "before *** after"]}, [["***"]]]
    assert records[1].data["key-***"] == {"deeper": "******"}


def test_concurrent_appends_keep_the_chain(tmp_path: Path) -> None:
    writer = create_writer(tmp_path, clock=frozen_clock())
    seqs_by_thread: list[list[int]] = [[] for _ in range(4)]

    def append_many(thread_index: int) -> None:
        for index in range(200):
            seq = writer.append("reading", {"thread": thread_index, "i": index})
            seqs_by_thread[thread_index].append(seq)

    threads = [threading.Thread(target=append_many, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()

    verification = verify_journal(writer.path)
    records, tail = read_journal(writer.path)
    assert verification.intact
    assert verification.lines_checked == 802
    assert tail is None
    assert [record.seq for record in records] == list(range(802))
    assert sorted(seq for seqs in seqs_by_thread for seq in seqs) == list(range(1, 801))


# --- reading and verifying ------------------------------------------------------------------


def test_intact_journal_verifies(journal: Path) -> None:
    verification = verify_journal(journal)

    assert verification.intact
    assert verification.lines_checked == RECORD_COUNT + 2
    assert verification.first_bad_line is None
    assert verification.problem is None
    assert verification.truncated is None
    assert verification.header == make_header()
    assert verification.ended_cleanly
    assert verification.summary() == [
        "intact: 12 lines, chain unbroken",
        "session closed cleanly",
        f"anchors: 2 checked (2 from the sidecar {journal.name}.anchors), all match",
    ]


def test_read_journal_returns_every_record(journal: Path) -> None:
    records, tail = read_journal(journal)

    assert tail is None
    assert [record.line_number for record in records] == list(range(1, 13))
    assert [record.seq for record in records] == list(range(12))
    assert [r.kind for r in records] == ["header", *["reading"] * RECORD_COUNT, "end"]
    last_digest = hashlib.sha256(lines_of(journal)[-2].rstrip(b"\n")).hexdigest()
    assert records[-1].data == {"records": RECORD_COUNT + 1, "last": last_digest}
    assert records[5].data == {"source": "dns", "value": "value-4", "n": 4}
    assert records[5].raw.encode() == lines_of(journal)[5].rstrip(b"\n")
    assert records[2].t - records[1].t == timedelta(seconds=1)


def _edit_value_in_line_5(lines: list[bytes]) -> None:
    lines[4] = lines[4].replace(b"value-3", b"value-X")


def _break_json_in_line_5(lines: list[bytes]) -> None:
    lines[4] = lines[4].replace(b'"value":', b'"value"')


def _delete_line_4(lines: list[bytes]) -> None:
    del lines[3]


def _insert_copy_of_line_3_after_line_6(lines: list[bytes]) -> None:
    lines.insert(6, lines[2])


def _duplicate_line_3(lines: list[bytes]) -> None:
    lines.insert(3, lines[2])


def _swap_lines_3_and_4(lines: list[bytes]) -> None:
    lines[2], lines[3] = lines[3], lines[2]


def _delete_header(lines: list[bytes]) -> None:
    del lines[0]


def _garbage_in_line_5(lines: list[bytes]) -> None:
    lines[4] = b"\xff\xfe\x00\x9c garbage\n"


def _blank_line_5(lines: list[bytes]) -> None:
    lines[4] = b"\n"


def _edit_header_prev(lines: list[bytes]) -> None:
    lines[0] = lines[0].replace(GENESIS.encode(), b"1" * 64)


def _renumber_line_5(lines: list[bytes]) -> None:
    lines[4] = lines[4].replace(b'"seq":4,', b'"seq":"4",')


@pytest.mark.parametrize(
    ("tamper", "first_bad_line", "problem_pattern"),
    [
        (_edit_value_in_line_5, 6, r"prev hash does not match line 5 \(line 5 edited"),
        (_break_json_in_line_5, 5, r"not valid JSON"),
        (_delete_line_4, 4, r"seq is 4 where 3 was expected \(1 line\(s\) removed"),
        (
            _insert_copy_of_line_3_after_line_6,
            7,
            r"seq is 2 where 6 was expected \(a line inserted",
        ),
        (_duplicate_line_3, 4, r"seq is 2 where 3 was expected"),
        (_swap_lines_3_and_4, 3, r"seq is 3 where 2 was expected .*reordered"),
        (_delete_header, 1, r"first line is not the session header \(kind 'reading', seq 1\)"),
        (_garbage_in_line_5, 5, r"not UTF-8 text"),
        (_blank_line_5, 5, r"not valid JSON"),
        (_edit_header_prev, 1, r"genesis"),
        (_renumber_line_5, 5, r"seq '4'"),
    ],
)
def test_tampering_names_the_first_bad_line(
    journal: Path,
    tamper: Callable[[list[bytes]], None],
    first_bad_line: int,
    problem_pattern: str,
) -> None:
    lines = lines_of(journal)
    tamper(lines)
    rewrite(journal, lines)

    verification = verify_journal(journal)

    assert not verification.intact
    assert verification.first_bad_line == first_bad_line
    assert verification.problem is not None
    assert re.search(problem_pattern, verification.problem)
    assert verification.lines_checked == first_bad_line - 1
    assert verification.summary()[0].startswith(f"BROKEN at line {first_bad_line}: ")


def test_tampering_a_copy_leaves_the_original_intact(journal: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl"
    shutil.copyfile(journal, copy)
    lines = lines_of(copy)
    _edit_value_in_line_5(lines)
    rewrite(copy, lines)

    assert not verify_journal(copy).intact
    assert verify_journal(journal).intact


def test_truncated_last_line_breaks_verify_but_not_reading(journal: Path) -> None:
    complete_lines = lines_of(journal)[:-1]
    complete_size = sum(len(line) for line in complete_lines)
    full_size = journal.stat().st_size
    os.truncate(journal, full_size - 5)
    (journal.parent / f"{journal.name}.anchors").unlink()

    verification = verify_journal(journal)
    records, tail = read_journal(journal)

    assert not verification.intact
    assert not verification.ended_cleanly
    assert verification.lines_checked == RECORD_COUNT + 1
    assert verification.truncated is not None
    assert verification.truncated.line_number == RECORD_COUNT + 2
    assert verification.truncated.byte_offset == complete_size
    assert verification.truncated.length == full_size - 5 - complete_size
    assert verification.first_bad_line == RECORD_COUNT + 2
    assert verification.summary() == [
        f"BROKEN at line 12: the last line is cut off ({full_size - 5 - complete_size} bytes "
        "with no newline) and no process is writing the journal: the file was cut (truncated) "
        "here, or the cockpit crashed in the middle of a write; whatever came after it is gone",
        "no anchors for this journal were found: the chain alone cannot detect a journal "
        "rewritten with every hash recomputed",
    ]
    assert [record.seq for record in records] == list(range(RECORD_COUNT + 1))
    assert tail == verification.truncated


def test_cut_inside_a_multibyte_character_is_a_truncated_tail(tmp_path: Path) -> None:
    with create_writer(tmp_path) as writer:
        writer.append("note", {"text": "ok"})
        writer.append("note", {"text": "✓✓✓✓"})
    content = writer.path.read_bytes()
    writer.path.write_bytes(content[: content.index("✓".encode()) + 1])

    verification = verify_journal(writer.path)

    assert not verification.intact
    assert verification.truncated is not None
    assert verification.truncated.line_number == 3


def test_last_line_without_newline_that_chains_is_accepted(journal: Path) -> None:
    os.truncate(journal, journal.stat().st_size - 1)

    verification = verify_journal(journal)
    records, tail = read_journal(journal)

    assert verification.intact
    assert verification.lines_checked == RECORD_COUNT + 2
    assert verification.truncated is None
    assert len(records) == RECORD_COUNT + 2
    assert tail is None


def test_bad_last_line_with_a_newline_is_a_failure(journal: Path) -> None:
    with journal.open("ab") as stream:
        stream.write(b'{"seq":12,"t":\n')

    verification = verify_journal(journal)

    assert not verification.intact
    assert verification.first_bad_line == RECORD_COUNT + 3


def test_corrupt_middle_line_makes_read_journal_raise(journal: Path) -> None:
    lines = lines_of(journal)
    _break_json_in_line_5(lines)
    rewrite(journal, lines)

    with pytest.raises(JournalError) as raised:
        read_journal(journal)

    message = str(raised.value)
    assert str(journal) in message
    assert "line 5" in message
    assert "not valid JSON" in message
    assert f"cockpit verify {journal}" in message


def test_read_journal_raises_for_a_malformed_record(journal: Path) -> None:
    lines = lines_of(journal)
    lines[2] = b'{"seq":2,"t":"yesterday","kind":"x","prev":"' + b"0" * 64 + b'","data":{}}\n'
    rewrite(journal, lines)

    with pytest.raises(JournalError, match=r"line 3: has t 'yesterday'"):
        read_journal(journal)


def test_read_journal_reports_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"cannot read journal .*No such file"):
        read_journal(tmp_path / "missing.jsonl")


def test_empty_journal_is_not_intact(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")

    verification = verify_journal(path)

    assert not verification.intact
    assert verification.problem == "empty journal: no header"
    assert verification.summary() == ["NOT VERIFIED: empty journal: no header"]
    assert read_journal(path) == ([], None)


def test_journal_with_only_a_cut_header_is_not_intact(journal: Path) -> None:
    os.truncate(journal, 20)

    verification = verify_journal(journal)

    assert not verification.intact
    assert verification.truncated is not None
    assert verification.problem is not None
    assert "no complete header" in verification.problem


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    verification = verify_journal(tmp_path / "missing.jsonl")

    assert not verification.intact
    assert verification.problem is not None
    assert "No such file" in verification.problem


def test_directory_is_reported_not_raised(tmp_path: Path) -> None:
    verification = verify_journal(tmp_path)

    assert not verification.intact
    assert verification.problem is not None
    assert "directory" in verification.problem.lower()


def test_permission_denied_is_reported_not_raised(
    journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(journal_reader, "open_regular_file", refuse)

    verification = verify_journal(journal)

    assert not verification.intact
    assert verification.problem == f"cannot read {journal}: Permission denied"


def test_journal_modules_are_headless() -> None:
    probe = (
        "import sys, cockpit.journal.writer, cockpit.journal.follow; "
        "print('textual' in sys.modules, 'rich' in sys.modules)"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["False", "False"]


# --- round trip property --------------------------------------------------------------------

json_scalars = (
    st.text()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=12,
)
json_payloads = st.dictionaries(st.text(), json_values, max_size=5)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payloads=st.lists(json_payloads, min_size=1, max_size=5),
    kind=st.text(min_size=1).filter(lambda kind: kind not in STRUCTURAL_KINDS),
)
def test_payloads_read_back_as_written(
    tmp_path: Path, payloads: list[dict[str, JsonValue]], kind: str
) -> None:
    redactor = Redactor()
    directory = tmp_path / "property"
    shutil.rmtree(directory, ignore_errors=True)
    with create_writer(directory, redactor=redactor) as writer:
        for payload in payloads:
            writer.append(kind, payload)

    records, tail = read_journal(writer.path)

    assert tail is None
    written = [visible_json(redactor.scrub(p)) for p in payloads]
    assert [record.data for record in records[1:-1]] == written
    assert all(record.kind == visible(kind) for record in records[1:-1])
    assert verify_journal(writer.path).intact


@pytest.mark.parametrize("kind", sorted(STRUCTURAL_KINDS))
def test_only_the_writer_writes_the_journals_structure(tmp_path: Path, kind: str) -> None:
    """An 'end' from elsewhere would make a sound journal read as ended, or as broken."""
    with create_writer(tmp_path) as writer:
        with pytest.raises(ValueError, match="only by the journal writer"):
            writer.append(kind, {})
        writer.append("note", {"text": "still here"})
    assert verify_journal(writer.path).intact
    kinds = [record.kind for record in read_journal(writer.path)[0]]
    assert kinds == ["header", "note", "end"]


# --- continuing a session -------------------------------------------------------------------


def test_a_resumed_journal_continues_the_chain_and_verifies(journal: Path) -> None:
    with JournalWriter.resume(
        journal, data={"operator": "bob@bastion"}, redactor=Redactor(), clock=stepping_clock()
    ) as writer:
        writer.append("note", {"text": "back after the SSH drop"})
    verification = verify_journal(journal)
    assert verification.intact and verification.ended_cleanly
    records, _ = read_journal(journal)
    kinds = [record.kind for record in records]
    assert kinds[-4:] == ["end", "resume", "note", "end"]
    assert [record.seq for record in records] == list(range(len(records)))


def test_a_journal_being_written_cannot_be_resumed_by_another_writer(tmp_path: Path) -> None:
    writer = create_writer(tmp_path)
    try:
        assert is_locked(writer.path)
        with pytest.raises(JournalBusy, match="another cockpit process"):
            JournalWriter.resume(writer.path, data={}, redactor=Redactor())
    finally:
        writer.close()
    assert not is_locked(writer.path)


def test_a_damaged_or_cut_journal_is_not_continued(journal: Path) -> None:
    lines = lines_of(journal)
    rewrite(journal, [*lines, b'{"seq": 99, "t": "cut'])
    with pytest.raises(JournalError, match="cut mid-write"):
        JournalWriter.resume(journal, data={}, redactor=Redactor())
    rewrite(journal, [lines[0], lines[2], *lines[3:]])
    with pytest.raises(JournalError, match="cannot be continued"):
        JournalWriter.resume(journal, data={}, redactor=Redactor())
    assert lines_of(journal) == [lines[0], lines[2], *lines[3:]]


def test_the_newest_journal_of_the_cutover_is_found(tmp_path: Path) -> None:
    first = create_writer(tmp_path, name_hint="night cutover")
    first.close()
    other = create_writer(tmp_path, name_hint="another night")
    other.close()
    assert latest_journal(tmp_path, "night cutover") == first.path
    assert latest_journal(tmp_path / "missing", "night cutover") is None
