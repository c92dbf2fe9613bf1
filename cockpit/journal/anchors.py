"""Anchors: the journal's chain head, copied to a second place so a rewrite or a cut shows.

A forger who recomputes every `prev` leaves a chain that checks out on its own; only a copy
of the head kept somewhere else (the sidecar file, syslog forwarded to another host) can
tell that the journal now holds other lines, or fewer.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import stat
import syslog
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cockpit.untrusted_files import NotARegularFile, TooLarge, read_regular_file

ANCHOR_INTERVAL = timedelta(seconds=60)
ANCHORED_KINDS = frozenset({"header", "resume", "action", "note", "end"})
SIDECAR_SUFFIX = ".anchors"
SYSLOG_IDENT = "cutover-cockpit"
JOURNAL_ID_LENGTH = 16
MAX_ANCHOR_FILE_BYTES = 64 * 1024 * 1024

_SIDECAR_MODE = 0o600
_SYSLOG_QUEUE_LIMIT = 10_000
_SYSLOG_FLUSH_SECONDS = 1.0
_ANCHOR_PATTERN = re.compile(
    r"anchor journal=(?P<journal>\S+) id=(?P<id>[0-9a-f]{16}) "
    r"seq=(?P<seq>\d+) head=(?P<head>[0-9a-f]{64})(?![0-9a-f])"
)
_HEX_PATTERN = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, slots=True)
class Anchor:
    """The chain head at one line: which journal, which seq, and that line's digest."""

    journal_name: str
    journal_id: str
    seq: int
    head: str

    def syslog_text(self) -> str:
        """The anchor as one syslog message, the form `journalctl -t cutover-cockpit` shows."""
        return (
            f"anchor journal={self.journal_name} id={self.journal_id} "
            f"seq={self.seq} head={self.head}"
        )

    def sidecar_line(self) -> bytes:
        """The anchor as one JSON line of the sidecar file, newline included."""
        document = {
            "journal": self.journal_name,
            "id": self.journal_id,
            "seq": self.seq,
            "head": self.head,
        }
        return json.dumps(document, separators=(",", ":")).encode("utf-8") + b"\n"


def sidecar_path(journal_path: Path) -> Path:
    """Where a journal's anchors are kept beside it: `<journal name>.anchors`."""
    return journal_path.with_name(journal_path.name + SIDECAR_SUFFIX)


def journal_id(header_digest: str) -> str:
    """The short id anchors name a journal by: the start of its header line's digest."""
    return header_digest[:JOURNAL_ID_LENGTH]


# --- sending --------------------------------------------------------------------------------


class AnchorSender:
    """Decides when the writer's chain head is anchored and sends it; never raises.

    Anchored: the header, resume, action, note and end records, and the next record once
    ANCHOR_INTERVAL has passed since the last anchor.
    """

    def __init__(
        self, journal_path: Path, *, header_digest: str | None, sidecar: bool, syslog: bool
    ) -> None:
        self._journal_path = journal_path
        self._journal_id = journal_id(header_digest) if header_digest else None
        self._sidecar = sidecar
        self._syslog = syslog
        self._sidecar_fd: int | None = None
        self._last_anchor_at: datetime | None = None
        self.problem: str | None = None

    def appended(self, seq: int, kind: str, digest: str, written_at: datetime) -> None:
        """Anchors the line just written when its kind or the time since the last anchor asks."""
        if self._journal_id is None:
            self._journal_id = journal_id(digest)
        overdue = (
            self._last_anchor_at is None or written_at - self._last_anchor_at >= ANCHOR_INTERVAL
        )
        if kind not in ANCHORED_KINDS and not overdue:
            return
        self._last_anchor_at = written_at
        anchor = Anchor(self._journal_path.name, self._journal_id, seq, digest)
        if self._sidecar:
            self._write_sidecar(anchor)
        if self._syslog:
            send_to_syslog(anchor.syslog_text())

    def close(self) -> None:
        """Closes the sidecar and gives syslog a moment to take what is queued."""
        if self._sidecar_fd is not None:
            fd, self._sidecar_fd = self._sidecar_fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._syslog:
            flush_syslog(_SYSLOG_FLUSH_SECONDS)

    def _write_sidecar(self, anchor: Anchor) -> None:
        """Appends the anchor to the sidecar; the first failure is kept in `problem`, once."""
        if self.problem is not None:
            return
        try:
            fd = self._sidecar_fd if self._sidecar_fd is not None else self._open_sidecar()
            os.write(fd, anchor.sidecar_line())
        except OSError as error:
            self.problem = (
                f"cannot write the anchor file {sidecar_path(self._journal_path)} "
                f"({error.strerror or error}); the journal goes on without its sidecar anchors"
            )

    def _open_sidecar(self) -> int:
        """Opens (creating, 0600) the sidecar for appending; OSError if it is not a plain file."""
        path = sidecar_path(self._journal_path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(path, flags, _SIDECAR_MODE)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(0, "not a regular file")
        os.fchmod(fd, _SIDECAR_MODE)
        self._sidecar_fd = fd
        return fd


class _SyslogChannel:
    """One background thread hands messages to syslog, so a slow log daemon never stalls us.

    Messages beyond the queue's limit are dropped: losing an anchor is better than blocking.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[str] = queue.Queue(maxsize=_SYSLOG_QUEUE_LIMIT)
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def send(self, message: str) -> None:
        """Queues the message for syslog, or drops it when the queue is full or no thread starts."""
        with contextlib.suppress(queue.Full, RuntimeError):
            self._ensure_thread()
            self._queue.put_nowait(message)

    def flush(self, timeout_seconds: float) -> None:
        """Waits at most `timeout_seconds` for the queued messages to reach syslog."""
        done = self._queue.all_tasks_done
        with done:
            done.wait_for(lambda: self._queue.unfinished_tasks == 0, timeout_seconds)

    def _ensure_thread(self) -> None:
        """Starts the sending thread once, and again in a child process that lost it."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="journal-anchor-syslog", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        """Sends queued messages for the life of the process; a failed send is dropped."""
        with contextlib.suppress(Exception):
            syslog.openlog(SYSLOG_IDENT, syslog.LOG_PID, syslog.LOG_USER)
        while True:
            message = self._queue.get()
            try:
                with contextlib.suppress(Exception):
                    syslog.syslog(syslog.LOG_INFO, message)
            finally:
                self._queue.task_done()


_SYSLOG_CHANNEL = _SyslogChannel()


def send_to_syslog(message: str) -> None:
    """Hands one message to syslog (ident cutover-cockpit, user facility, info) without waiting."""
    _SYSLOG_CHANNEL.send(message)


def flush_syslog(timeout_seconds: float) -> None:
    """Waits a bounded time for queued syslog messages, so a short-lived process sends them."""
    _SYSLOG_CHANNEL.flush(timeout_seconds)


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnchorSource:
    """The anchors read from one file, and what could not be read from it."""

    path: Path
    anchors: list[Anchor] = field(default_factory=list)
    bad_lines: int = 0
    refused: str | None = None
    is_sidecar: bool = False

    @property
    def label(self) -> str:
        """How a summary names this file: the sidecar by its name, any other by its path."""
        return f"the sidecar {self.path.name}" if self.is_sidecar else f"anchor file {self.path}"


def read_anchor_file(path: Path, *, is_sidecar: bool = False) -> AnchorSource:
    """The anchors in a sidecar or any text file holding syslog anchor lines; never raises.

    A file that is not a regular file, or larger than MAX_ANCHOR_FILE_BYTES, is refused.
    """
    try:
        content = _read_limited(path)
    except OSError as error:
        return AnchorSource(path, refused=error.strerror or str(error), is_sidecar=is_sidecar)
    anchors: list[Anchor] = []
    bad_lines = 0
    for line in content.decode("utf-8", errors="replace").splitlines():
        try:
            anchor = _parse_anchor_line(line)
        except ValueError:
            bad_lines += 1
            continue
        if anchor is not None:
            anchors.append(anchor)
    return AnchorSource(path, anchors, bad_lines, None, is_sidecar)


def _read_limited(path: Path) -> bytes:
    """The file's bytes; OSError when it is not a regular file or is too large to be anchors."""
    try:
        return read_regular_file(path, MAX_ANCHOR_FILE_BYTES)
    except (NotARegularFile, TooLarge) as error:
        raise OSError(0, f"{error.strerror}, refused") from None


def _parse_anchor_line(line: str) -> Anchor | None:
    """The anchor on a line, None for a line about something else; ValueError for a bad one."""
    match = _ANCHOR_PATTERN.search(line)
    if match is not None:
        return Anchor(match["journal"], match["id"], int(match["seq"]), match["head"])
    if line.lstrip().startswith("{"):
        return _parse_sidecar_line(line)
    if "anchor journal=" in line:
        raise ValueError("an anchor line that does not have id, seq and head")
    return None


def _parse_sidecar_line(line: str) -> Anchor:
    """The anchor in one sidecar JSON line; ValueError when it is not one."""
    try:
        document = json.loads(line)
    except (ValueError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    name, ident, seq, head = (document.get(key) for key in ("journal", "id", "seq", "head"))
    if not (isinstance(name, str) and _is_hex(ident, JOURNAL_ID_LENGTH) and _is_hex(head, 64)):
        raise ValueError("journal, id or head missing or malformed")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError("seq is not a non-negative integer")
    assert isinstance(ident, str) and isinstance(head, str)
    return Anchor(name, ident, seq, head)


def _is_hex(value: object, length: int) -> bool:
    """Whether `value` is a lowercase hex string of exactly `length` characters."""
    return isinstance(value, str) and len(value) == length and bool(_HEX_PATTERN.fullmatch(value))


# --- checking -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """How a journal compares with its anchors: how many, from where, and the first mismatch."""

    sources: list[AnchorSource]
    checked_per_file: list[tuple[str, int]]
    problem: str | None = None
    bad_line_number: int | None = None

    @property
    def anchors_checked(self) -> int:
        """How many anchors named this journal and were compared with it."""
        return sum(count for _, count in self.checked_per_file)

    def summary(self) -> list[str]:
        """The anchor findings as lines a person reads at the end of `cockpit verify`."""
        lines = [self._headline()]
        for source in self.sources:
            if source.refused is not None:
                lines.append(f"anchor file {source.path} not read: {source.refused}")
            if source.bad_lines:
                lines.append(
                    f"anchor file {source.path}: {source.bad_lines} malformed anchor line(s) "
                    "skipped"
                )
        return lines

    def _headline(self) -> str:
        """How many anchors were checked and where they came from, or why that is not enough."""
        if self.anchors_checked == 0:
            return (
                "no anchors for this journal were found: the chain alone cannot detect a "
                "journal rewritten with every hash recomputed"
            )
        where = ", ".join(f"{count} from {label}" for label, count in self.checked_per_file)
        verdict = "the journal does not match them" if self.problem else "all match"
        return f"anchors: {self.anchors_checked} checked ({where}), {verdict}"


def check_anchors(
    sources: list[AnchorSource],
    *,
    header_digest: str,
    journal_name: str,
    heads: dict[int, tuple[int, str]],
    last_seq: int,
) -> AnchorCheck:
    """Compares every anchor naming this journal with its line; the first mismatch is the problem.

    heads: seq -> (line number, digest) for at least every anchored seq up to `last_seq`.
    """
    ident = journal_id(header_digest)
    matching = sorted(_anchors_for(sources, ident), key=lambda found: found[1].seq)
    check = AnchorCheck(sources, _count_per_file(sources, matching))
    problem = _foreign_anchor_problem(sources, ident, journal_name)
    if problem is not None:
        return AnchorCheck(check.sources, check.checked_per_file, problem, 1)
    for source, anchor in matching:
        if anchor.seq > last_seq:
            missing = anchor.seq - last_seq
            are_missing = "1 record is" if missing == 1 else f"{missing} records are"
            problem = (
                f"{source.label} records seq {anchor.seq} but the journal ends at "
                f"seq {last_seq}: {are_missing} missing (the journal was cut)"
            )
            return AnchorCheck(check.sources, check.checked_per_file, problem)
        line_number, digest = heads[anchor.seq]
        if digest != anchor.head:
            problem = (
                f"line {line_number} (seq {anchor.seq}) is not the line anchored in {source.label} "
                f"(head {anchor.head[:16]}..., the line hashes to {digest[:16]}...): the journal "
                "was rewritten at or before this line and its hashes recomputed"
            )
            return AnchorCheck(check.sources, check.checked_per_file, problem, line_number)
    return check


def anchored_seqs(sources: list[AnchorSource]) -> frozenset[int]:
    """Every seq some anchor names, so the verifier keeps only those lines' digests."""
    return frozenset(anchor.seq for source in sources for anchor in source.anchors)


def _anchors_for(sources: list[AnchorSource], ident: str) -> Iterator[tuple[AnchorSource, Anchor]]:
    """The anchors naming the journal with this id, each with the file it came from."""
    for source in sources:
        for anchor in source.anchors:
            if anchor.journal_id == ident:
                yield source, anchor


def _count_per_file(
    sources: list[AnchorSource], matching: list[tuple[AnchorSource, Anchor]]
) -> list[tuple[str, int]]:
    """How many matching anchors each file gave, labelled, in the order the files were read."""
    counts = [
        (source.label, sum(1 for found, _ in matching if found is source)) for source in sources
    ]
    return [(label, count) for label, count in counts if count]


def _foreign_anchor_problem(
    sources: list[AnchorSource], ident: str, journal_name: str
) -> str | None:
    """Why anchors that must be this journal's name another header, or None.

    The sidecar holds only this journal's anchors and journal file names are unique, so an
    anchor from either with another id means the header line itself was rewritten.
    """
    for source in sources:
        for anchor in source.anchors:
            if anchor.journal_id == ident:
                continue
            if source.is_sidecar or anchor.journal_name == journal_name:
                return (
                    f"{source.label} has an anchor for {anchor.journal_name} with id "
                    f"{anchor.journal_id}, but this journal's header gives id {ident}: "
                    "the header line was rewritten, or the anchors are another journal's"
                )
    return None
