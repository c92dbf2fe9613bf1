"""Verifying a journal: its hash chain, end record and anchors, and reading it checked."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cockpit.journal.anchors import (
    AnchorCheck,
    AnchorSource,
    anchored_seqs,
    check_anchors,
    read_anchor_file,
    sidecar_path,
)
from cockpit.journal.chain import (
    END_KIND,
    GENESIS,
    HEADER_KIND,
    RESUME_KIND,
    JournalError,
    line_digest,
)
from cockpit.journal.lock import is_locked
from cockpit.journal.reader import (
    BadLine,
    JournalRecord,
    RawLine,
    TruncatedTail,
    UnreadableLine,
    describe_os_error,
    open_journal,
    parse_chained_record,
    raw_lines,
    tail_of,
)
from cockpit.jsonvalue import JsonValue


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of checking a journal's hash chain, naming the first bad line if any.

    still_running: no end record (or a cut-off last line) while a process holds the writer's
    lock, which is a session being written, not a cut. anchor_check: how the journal compared
    with the anchors found for it.
    """

    intact: bool
    lines_checked: int
    first_bad_line: int | None
    problem: str | None
    truncated: TruncatedTail | None
    header: dict[str, JsonValue] | None
    ended_cleanly: bool = False
    still_running: bool = False
    anchor_check: AnchorCheck | None = None
    header_digest: str | None = None

    def summary(self) -> list[str]:
        """The outcome as lines a person reads at the end of `cockpit verify`."""
        lines = [self._verdict()]
        if self.intact and self.still_running:
            lines.append(
                "session still running: a cockpit process is writing this journal now, so it "
                "has no end record yet"
            )
        elif self.intact:
            lines.append("session closed cleanly")
        tail = self.truncated
        if self.intact and tail is not None:
            lines.append(
                f"last line {tail.line_number} is still being written "
                f"({tail.length} bytes so far) and was not checked"
            )
        elif tail is not None and self.first_bad_line != tail.line_number:
            lines.append(f"last line {tail.line_number} is cut off ({tail.length} bytes)")
        if self.anchor_check is not None:
            lines.extend(self.anchor_check.summary())
        return lines

    def _verdict(self) -> str:
        """The one-line verdict: intact, broken (at a line), or not verifiable at all."""
        if self.intact:
            return f"intact: {self.lines_checked} lines, chain unbroken"
        if self.first_bad_line is not None:
            return f"BROKEN at line {self.first_bad_line}: {self.problem}"
        if self.lines_checked > 0:
            return f"BROKEN: {self.problem}"
        return f"NOT VERIFIED: {self.problem}"


def verify_journal(path: Path, *, anchor_files: Sequence[Path] = ()) -> Verification:
    """Checks every line's structure, seq and hash link, the end record and the anchors.

    Anchors come from the sidecar beside the journal and from `anchor_files`. A journal
    without an end record, or with a cut-off last line, is broken unless a writer holds it
    now. Never raises for a bad journal or anchor file.
    """
    sources = _anchor_sources(path, anchor_files)
    chain = ChainCheck(anchored_seqs(sources))
    try:
        with open_journal(path) as stream:
            verification = _verify_lines(raw_lines(stream, path), chain)
    except OSError as error:
        return _unverifiable(f"cannot read {path}: {describe_os_error(error)}")
    verification = _compare_anchors(path, verification, chain, sources)
    return _judge_ending(path, verification)


def _anchor_sources(path: Path, anchor_files: Sequence[Path]) -> list[AnchorSource]:
    """The anchors of the sidecar beside the journal, if there is one, then of each file given."""
    sidecar = sidecar_path(path)
    found = [read_anchor_file(sidecar, is_sidecar=True)] if sidecar.exists() else []
    return found + [read_anchor_file(anchor_file) for anchor_file in anchor_files]


def _compare_anchors(
    path: Path, verification: Verification, chain: ChainCheck, sources: list[AnchorSource]
) -> Verification:
    """The verification with the anchors compared; a mismatch breaks it."""
    if not verification.intact or chain.header_digest is None:
        return verification
    anchor_check = check_anchors(
        sources,
        header_digest=chain.header_digest,
        journal_name=path.name,
        heads=chain.anchored_heads,
        last_seq=chain.expected_seq - 1,
    )
    if anchor_check.problem is None:
        return replace(verification, anchor_check=anchor_check)
    return replace(
        verification,
        intact=False,
        first_bad_line=anchor_check.bad_line_number,
        problem=anchor_check.problem,
        anchor_check=anchor_check,
    )


def _judge_ending(path: Path, verification: Verification) -> Verification:
    """Breaks an intact chain that lacks its end or ends mid-line, unless it is being written."""
    if not verification.intact:
        return verification
    if verification.ended_cleanly and verification.truncated is None:
        return verification
    if is_locked(path):
        return replace(verification, still_running=True)
    tail = verification.truncated
    if tail is None:
        return replace(verification, intact=False, problem=_no_end_problem(verification))
    return replace(
        verification,
        intact=False,
        first_bad_line=tail.line_number,
        problem=(
            f"the last line is cut off ({tail.length} bytes with no newline) and no process "
            "is writing the journal: the file was cut (truncated) here, or the cockpit crashed "
            "in the middle of a write; whatever came after it is gone"
        ),
    )


def _no_end_problem(verification: Verification) -> str:
    """Explains a journal that stops without an end record while nobody writes it."""
    last_line = verification.lines_checked
    return (
        f"the journal stops at line {last_line} without an end record and no process is "
        "writing it: lines were deleted from its end, or the cockpit crashed or was killed "
        "before closing it"
    )


def _unverifiable(problem: str, truncated: TruncatedTail | None = None) -> Verification:
    """A verification that could not start, such as a missing file or no header."""
    return Verification(False, 0, None, problem, truncated, None)


class ChainCheck:
    """Follows the chain line by line, remembering what the next line must record.

    The digests of `watched_seqs` are kept, so anchors can be compared after the walk.
    """

    def __init__(self, watched_seqs: frozenset[int] = frozenset()) -> None:
        self.lines_checked = 0
        self.expected_seq = 0
        self.prev_digest = GENESIS
        self.header: dict[str, JsonValue] | None = None
        self.header_digest: str | None = None
        self.last_kind: str | None = None
        self.watched_seqs = watched_seqs
        self.anchored_heads: dict[int, tuple[int, str]] = {}

    def problem_with(self, record: JournalRecord, prev: str) -> str | None:
        """Why this record does not continue the chain, or None if it does."""
        if self.lines_checked == 0:
            return _header_problem(record, prev)
        if record.seq != self.expected_seq:
            return _seq_problem(record.seq, self.expected_seq)
        if prev != self.prev_digest:
            previous = record.line_number - 1
            return (
                f"prev hash does not match line {previous} (line {previous} edited, "
                "or a line removed, inserted or reordered)"
            )
        if self.last_kind == END_KIND and record.kind != RESUME_KIND:
            return (
                f"a {record.kind!r} record follows the end record, but a closed session only "
                "continues with a resume record: the line was added after the session closed"
            )
        if record.kind == END_KIND:
            return _end_problem(record.data, prev, self.lines_checked)
        return None

    def accept(self, record: JournalRecord, content: bytes) -> None:
        """Moves past a good line."""
        digest = line_digest(content)
        if self.lines_checked == 0:
            self.header = record.data
            self.header_digest = digest
        if record.seq in self.watched_seqs:
            self.anchored_heads[record.seq] = (record.line_number, digest)
        self.lines_checked += 1
        self.last_kind = record.kind
        self.expected_seq = record.seq + 1
        self.prev_digest = digest

    def broken(self, line_number: int, problem: str) -> Verification:
        """The verdict for a chain that breaks at `line_number`."""
        return Verification(False, self.lines_checked, line_number, problem, None, self.header)

    def finished(self, truncated: TruncatedTail | None) -> Verification:
        """The chain's verdict after the last line: intact, unless there was no header at all.

        Whether the journal was closed is judged by verify_journal, which can see its lock.
        """
        if self.lines_checked == 0 and truncated is not None:
            return _unverifiable("no complete header: the only line is cut mid-write", truncated)
        if self.lines_checked == 0:
            return _unverifiable("empty journal: no header")
        ended = self.last_kind == END_KIND
        return Verification(
            True,
            self.lines_checked,
            None,
            None,
            truncated,
            self.header,
            ended,
            header_digest=self.header_digest,
        )


def _verify_lines(lines: Iterable[RawLine], chain: ChainCheck | None = None) -> Verification:
    """Walks the lines until the first break, treating a cut-off last line as a tail."""
    chain = chain or ChainCheck()
    for line in lines:
        try:
            record, prev = parse_chained_record(line)
        except UnreadableLine as problem:
            if not line.terminated:
                return chain.finished(tail_of(line))
            return chain.broken(line.line_number, f"line {problem}")
        except BadLine as problem:
            return chain.broken(line.line_number, f"line {problem}")
        problem_text = chain.problem_with(record, prev)
        if problem_text is not None:
            return chain.broken(line.line_number, problem_text)
        chain.accept(record, line.content)
    return chain.finished(None)


def _end_problem(data: dict[str, JsonValue], prev: str, lines_before: int) -> str | None:
    """Why an end record does not match the lines before it, or None when it does."""
    records = data.get("records")
    if records != lines_before or isinstance(records, bool):
        return (
            f"the end record says {records!r} records but {lines_before} lines come before it: "
            "the end record was edited, or lines were removed or added before it"
        )
    last = data.get("last")
    if last is None:
        return (
            'the end record does not give the last line\'s hash ("last"): it was edited, or '
            "written by a cockpit too old to cover it"
        )
    if last != prev:
        return (
            "the end record's last hash is not the hash of the line before it: "
            "the end record was edited"
        )
    return None


def _header_problem(record: JournalRecord, prev: str) -> str | None:
    """Why the first line is not a proper session header, or None."""
    if record.kind != HEADER_KIND or record.seq != 0:
        return (
            f"the first line is not the session header (kind {record.kind!r}, seq {record.seq}): "
            "the header was removed or lines were reordered"
        )
    if prev != GENESIS:
        return (
            "the header's prev is not the genesis hash (header edited or lines removed before it)"
        )
    return None


def _seq_problem(found_seq: int, expected_seq: int) -> str:
    """Explains a seq that does not follow the previous line's."""
    if found_seq > expected_seq:
        gap = found_seq - expected_seq
        return (
            f"seq is {found_seq} where {expected_seq} was expected "
            f"({gap} line(s) removed before it, or lines reordered)"
        )
    return (
        f"seq is {found_seq} where {expected_seq} was expected "
        "(a line inserted or duplicated, or lines reordered)"
    )


# --- reading and verifying in one pass -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckedRead:
    """A journal read and verified in one pass: the records up to any damaged line, the verdict.

    damaged_line: the first line that is not a record (other than a cut-off last line); reading
    stopped there and `damage` says why.
    """

    records: list[JournalRecord]
    truncated: TruncatedTail | None
    verification: Verification
    damaged_line: int | None = None
    damage: str | None = None


def read_checked(path: Path) -> CheckedRead:
    """Every well-formed record before any damaged line, with the hash chain's verdict.

    For reports: read_journal plus verify_journal would parse every line twice, and a damaged
    line in the middle still leaves the records before it to show. JournalError only when the
    file cannot be read.
    """
    sources = _anchor_sources(path, ())
    chain = ChainCheck(anchored_seqs(sources))
    try:
        with open_journal(path) as stream:
            checked = _read_checked_lines(raw_lines(stream, path), chain)
    except OSError as error:
        raise JournalError(f"cannot read journal {path}: {describe_os_error(error)}") from error
    verification = _compare_anchors(path, checked.verification, chain, sources)
    return replace(checked, verification=_judge_ending(path, verification))


def _read_checked_lines(lines: Iterable[RawLine], chain: ChainCheck) -> CheckedRead:
    records: list[JournalRecord] = []
    broken: Verification | None = None
    for line in lines:
        try:
            record, prev = parse_chained_record(line)
        except BadLine as problem:
            if isinstance(problem, UnreadableLine) and not line.terminated:
                tail = tail_of(line)
                return CheckedRead(records, tail, broken or chain.finished(tail))
            verdict = broken or chain.broken(line.line_number, f"line {problem}")
            damage = f"line {line.line_number} {problem}"
            return CheckedRead(records, None, verdict, line.line_number, damage)
        records.append(record)
        if broken is not None:
            continue
        problem_text = chain.problem_with(record, prev)
        if problem_text is None:
            chain.accept(record, line.content)
        else:
            broken = chain.broken(line.line_number, problem_text)
    return CheckedRead(records, None, broken or chain.finished(None))
