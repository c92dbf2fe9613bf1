"""Writing a journal: the append-only, hash-chained writer and the journal files it creates."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from types import TracebackType
from typing import Self

from cockpit.journal.anchors import AnchorSender
from cockpit.journal.chain import (
    END_KIND,
    GENESIS,
    HEADER_KIND,
    RESUME_KIND,
    JournalError,
    format_timestamp,
    line_digest,
    serialize_record,
)
from cockpit.journal.lock import lock_exclusively
from cockpit.journal.verify import verify_journal
from cockpit.jsonvalue import JsonValue
from cockpit.redact import Redactor
from cockpit.visible import visible_json

STRUCTURAL_KINDS = frozenset({HEADER_KIND, RESUME_KIND, END_KIND})
"""Records only the writer writes: the journal's start, each resumption and its end."""

_FILE_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_SLUG_MAX_LENGTH = 40
_FILE_MODE = 0o600
_DIRECTORY_MODE = 0o700

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default journal clock: the current aware UTC time."""
    return datetime.now(UTC)


class JournalWriter:
    """Appends scrubbed, hash-chained records to a new private journal file; thread-safe."""

    def __init__(
        self,
        fd: int,
        path: Path,
        *,
        redactor: Redactor,
        clock: Clock,
        anchors: AnchorSender | None = None,
    ) -> None:
        self._fd: int | None = fd
        self._path = path
        self._redactor = redactor
        self._clock = clock
        self._anchors = anchors
        self._lock = threading.Lock()
        self._next_seq = 0
        self._prev_digest = GENESIS
        self._size_bytes = 0
        self._held_fds: list[int] = []

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        header: Mapping[str, JsonValue],
        redactor: Redactor,
        clock: Clock = utc_now,
        name_hint: str = "session",
        anchor_sidecar: bool = True,
        anchor_syslog: bool = False,
    ) -> JournalWriter:
        """Creates a new journal file in `directory` and writes its header durably.

        The chain head is anchored to `<journal name>.anchors` beside it (`anchor_sidecar`)
        and to syslog (`anchor_syslog`, off by default so only a configured session logs).
        """
        make_private_directories(directory)
        stem = f"{clock().astimezone(UTC):{_FILE_TIME_FORMAT}}-{slug(name_hint)}-{os.getpid()}"
        fd, path = _create_exclusive(directory, stem)
        lock_exclusively(fd, path)
        _fsync_directory(directory)
        anchors = AnchorSender(
            path, header_digest=None, sidecar=anchor_sidecar, syslog=anchor_syslog
        )
        writer = cls(fd, path, redactor=redactor, clock=clock, anchors=anchors)
        try:
            writer._append(HEADER_KIND, header, sync=True)
        except BaseException:
            writer._close_fd()
            path.unlink(missing_ok=True)
            raise
        return writer

    @classmethod
    def resume(
        cls,
        path: Path,
        *,
        data: Mapping[str, JsonValue],
        redactor: Redactor,
        clock: Clock = utc_now,
        anchor_sidecar: bool = True,
        anchor_syslog: bool = False,
    ) -> JournalWriter:
        """Reopens an intact journal to continue its session, writing a durable resume record.

        JournalBusy when another process writes it; JournalError when its chain is broken, its
        anchors do not match or its last line is cut (continuing would bury the damage), so the
        caller starts anew.
        """
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            lock_exclusively(fd, path)
            next_seq, prev_digest, size_bytes, header_digest = _chain_end(path)
        except BaseException:
            os.close(fd)
            raise
        anchors = AnchorSender(
            path, header_digest=header_digest, sidecar=anchor_sidecar, syslog=anchor_syslog
        )
        writer = cls(fd, path, redactor=redactor, clock=clock, anchors=anchors)
        writer._next_seq, writer._prev_digest, writer._size_bytes = (
            next_seq,
            prev_digest,
            size_bytes,
        )
        writer._append(RESUME_KIND, data, sync=True)
        return writer

    @property
    def path(self) -> Path:
        """Where this journal is being written."""
        return self._path

    def append(self, kind: str, data: Mapping[str, JsonValue], *, sync: bool = False) -> int:
        """Writes one record with its data scrubbed and returns its seq; `sync` fsyncs it.

        The journal's own structure (header, resume, end) is written only by the writer: a
        record of those kinds from anywhere else would make a sound journal read as broken.
        """
        if kind in STRUCTURAL_KINDS:
            raise ValueError(f"a {kind!r} record is written only by the journal writer itself")
        return self._append(kind, data, sync=sync)

    def _append(self, kind: str, data: Mapping[str, JsonValue], *, sync: bool = False) -> int:
        scrubbed = visible_json(self._redactor.scrub(dict(data)))
        with self._lock:
            fd = self._open_fd()
            seq = self._next_seq
            written_at = self._clock()
            line = serialize_record(
                seq, format_timestamp(written_at), kind, self._prev_digest, scrubbed
            )
            self._write_line(fd, line)
            if sync:
                os.fsync(fd)
            self._next_seq = seq + 1
            self._prev_digest = line_digest(line)
            if self._anchors is not None:
                self._anchors.appended(seq, kind, self._prev_digest, written_at)
            return seq

    @property
    def anchor_problem(self) -> str | None:
        """Why the sidecar anchors stopped being written, or None while they are written."""
        return None if self._anchors is None else self._anchors.problem

    def close(self) -> None:
        """Seals the journal with an end record (so its last line is chained too) and closes it.

        The end record holds the count and last digest it covers, so `verify` can tell it was
        not edited. Closing twice is harmless; a journal without one was not closed cleanly.
        """
        with contextlib.suppress(ValueError, OSError):
            self._append(END_KIND, {"records": self._next_seq, "last": self._prev_digest})
        self._close_fd()
        if self._anchors is not None:
            self._anchors.close()

    def hold_until_closed(self, fd: int) -> None:
        """Keeps another open file (a lock) for as long as this journal is open."""
        self._held_fds.append(fd)

    def _close_fd(self) -> None:
        """Flushes the file to disk and closes it (and the files it holds), once."""
        with self._lock:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            held, self._held_fds = self._held_fds, []
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
                for other in held:
                    os.close(other)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _open_fd(self) -> int:
        """The file descriptor, or ValueError once the journal is closed."""
        if self._fd is None:
            raise ValueError(f"journal {self._path} is closed")
        return self._fd

    def _write_line(self, fd: int, line: bytes) -> None:
        """Writes the line and its newline, cutting a failed write back so no torn line stays."""
        try:
            _write_all(fd, line + b"\n")
        except OSError:
            _truncate_quietly(fd, self._size_bytes)
            raise
        self._size_bytes += len(line) + 1


def _chain_end(path: Path) -> tuple[int, str, int, str]:
    """(next seq, last line's digest, size in bytes, header digest) of an intact journal.

    The caller holds the journal's lock, so a journal without an end record (a crash) counts
    as still running here and may be continued.
    """
    verification = verify_journal(path)
    if not verification.intact:
        raise JournalError(f"journal {path} cannot be continued: {verification.summary()[0]}")
    if verification.truncated is not None:
        raise JournalError(
            f"journal {path} cannot be continued: its last line is cut mid-write "
            f"(line {verification.truncated.line_number})"
        )
    content = path.read_bytes()
    last_line = content.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    header_digest = line_digest(content.split(b"\n", 1)[0])
    return verification.lines_checked, line_digest(last_line), len(content), header_digest


def latest_journal(directory: Path, name_hint: str) -> Path | None:
    """The newest journal in `directory` for this cutover name, by its last write."""
    return next(iter(journals_newest_first(directory, name_hint)), None)


def journals_newest_first(directory: Path, name_hint: str) -> list[Path]:
    """This cutover's journals in `directory`, the most recently written first."""
    pattern = f"*-{slug(name_hint)}-*.jsonl"
    try:
        candidates = [(path.stat().st_mtime, path) for path in directory.glob(pattern)]
    except OSError:
        return []
    return [path for _, path in sorted(candidates, reverse=True) if path.is_file()]


def slug(name_hint: str) -> str:
    """A short lowercase ASCII file-name fragment, "session" when nothing usable remains."""
    words = re.findall(r"[a-z0-9]+", name_hint.lower())
    return "-".join(words)[:_SLUG_MAX_LENGTH].strip("-") or "session"


def make_private_directories(directory: Path) -> None:
    """Creates `directory` and any missing parents, each readable only by its owner."""
    missing = [path for path in (directory, *directory.parents) if not path.exists()]
    for path in reversed(missing):
        try:
            path.mkdir(mode=_DIRECTORY_MODE)
        except FileExistsError:
            continue
        path.chmod(_DIRECTORY_MODE)


def _create_exclusive(directory: Path, stem: str) -> tuple[int, Path]:
    """Opens a new owner-only file named after `stem`, adding -2, -3 ... if the name is taken."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
    for attempt in count(1):
        suffix = "" if attempt == 1 else f"-{attempt}"
        path = directory / f"{stem}{suffix}.jsonl"
        try:
            fd = os.open(path, flags, _FILE_MODE)
        except FileExistsError:
            continue
        os.fchmod(fd, _FILE_MODE)
        return fd, path
    raise AssertionError("unreachable")


def _fsync_directory(directory: Path) -> None:
    """Makes the new file's name durable; best effort, as some file systems refuse it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, payload: bytes) -> None:
    """Writes all of `payload`; one os.write unless the system accepts only part of it."""
    remaining = memoryview(payload)
    while remaining:
        written = os.write(fd, remaining)
        remaining = remaining[written:]


def _truncate_quietly(fd: int, size_bytes: int) -> None:
    """Cuts the file back to `size_bytes`, ignoring failure: the write error matters more."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, size_bytes)
