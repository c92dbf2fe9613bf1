"""The append-only, hash-chained session journal: writer, tolerant reader and verifier.

Each line is a JSON object whose `prev` is the SHA-256 of the previous line's bytes, so an
edited, removed, inserted or reordered line breaks the chain at a line `verify` can name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import hashlib
import json
import math
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, NoReturn, Self

from cockpit import __version__
from cockpit.journal.anchors import (
    AnchorCheck,
    AnchorSender,
    AnchorSource,
    anchored_seqs,
    check_anchors,
    read_anchor_file,
    sidecar_path,
)
from cockpit.journal.read_back import UnreadableValue, readable_data
from cockpit.jsonvalue import JsonValue
from cockpit.redact import Redactor
from cockpit.untrusted_files import NotARegularFile, open_regular_file
from cockpit.visible import visible, visible_json

FORMAT_VERSION = 1
GENESIS = "0" * 64
HEADER_KIND = "header"
END_KIND = "end"
RESUME_KIND = "resume"
RECORD_KEYS = ("seq", "t", "kind", "prev", "data")

_TIMESTAMP_AFTER_YEAR = "-%m-%dT%H:%M:%S.%fZ"
"""The year is written separately: strftime's %Y leaves years before 1000 unpadded."""
_FILE_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_HASH_PATTERN = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_SLUG_MAX_LENGTH = 40
_FILE_MODE = 0o600
_DIRECTORY_MODE = 0o700

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default journal clock: the current aware UTC time."""
    return datetime.now(UTC)


class JournalBusy(Exception):
    """Another live process holds this journal: two writers would break the chain."""


class JournalError(Exception):
    """A journal that cannot be read: unreadable file or a damaged line before the last."""


# --- session header -------------------------------------------------------------------------


def session_header(
    *,
    cutover_name: str,
    config_digest: str,
    mode: str,
    environ: Mapping[str, str],
    started_at: datetime,
) -> dict[str, JsonValue]:
    """The header payload that opens every journal: who ran what, from where, and when."""
    return {
        "format_version": FORMAT_VERSION,
        "cockpit_version": __version__,
        "cutover": cutover_name,
        "config_digest": config_digest,
        "mode": mode,
        "operator": operator_name(environ),
        "ssh_client": _ssh_client(environ),
        "started_at": format_timestamp(started_at),
        "pid": os.getpid(),
    }


def operator_name(environ: Mapping[str, str]) -> str:
    """user@host, as the journal names the operator."""
    return f"{_user_name(environ)}@{_host_name()}"


def _user_name(environ: Mapping[str, str]) -> str:
    """The login name from the environment, else the system's idea of it, else "unknown"."""
    from_environ = environ.get("USER") or environ.get("LOGNAME")
    if from_environ:
        return from_environ
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _host_name() -> str:
    """This machine's host name, or "unknown" when the system will not say."""
    try:
        return socket.gethostname() or "unknown"
    except OSError:
        return "unknown"


def _ssh_client(environ: Mapping[str, str]) -> str | None:
    """The address the operator connected from over SSH, if they did."""
    for variable in ("SSH_CLIENT", "SSH_CONNECTION"):
        fields = environ.get(variable, "").split()
        if fields:
            return fields[0]
    return None


# --- timestamps and serialization -----------------------------------------------------------


def format_timestamp(moment: datetime) -> str:
    """An aware datetime as UTC ISO-8601 with microseconds and a `Z` suffix."""
    if moment.utcoffset() is None:
        raise ValueError(f"journal times must be timezone-aware, got naive {moment!r}")
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}{utc.strftime(_TIMESTAMP_AFTER_YEAR)}"


def parse_timestamp(text: str) -> datetime:
    """The aware UTC datetime of a timestamp written by `format_timestamp`.

    The strict pattern first, then fromisoformat: strptime is forty times slower, and an
    8-hour journal has a hundred thousand of these.
    """
    if not _TIMESTAMP_PATTERN.fullmatch(text):
        raise ValueError(f"{text!r} is not a journal time like 2026-11-22T01:02:03.123456Z")
    return datetime.fromisoformat(text)


def line_digest(line: bytes) -> str:
    """The SHA-256 hex digest a following line records as its `prev`."""
    return hashlib.sha256(line).hexdigest()


def _serialize_record(seq: int, t: str, kind: str, prev: str, data: JsonValue) -> bytes:
    """One journal line without its newline; NaN and infinity are refused with ValueError.

    Lone surrogates are written as `\\udXXX` escapes so any Python string survives the trip.
    """
    record = {"seq": seq, "t": t, "kind": kind, "prev": prev, "data": data}
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", errors="backslashreplace")


# --- writer ---------------------------------------------------------------------------------


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
        _lock_exclusively(fd, path)
        _fsync_directory(directory)
        anchors = AnchorSender(
            path, header_digest=None, sidecar=anchor_sidecar, syslog=anchor_syslog
        )
        writer = cls(fd, path, redactor=redactor, clock=clock, anchors=anchors)
        try:
            writer.append(HEADER_KIND, header, sync=True)
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
            _lock_exclusively(fd, path)
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
        writer.append(RESUME_KIND, data, sync=True)
        return writer

    @property
    def path(self) -> Path:
        """Where this journal is being written."""
        return self._path

    def append(self, kind: str, data: Mapping[str, JsonValue], *, sync: bool = False) -> int:
        """Writes one record with its data scrubbed and returns its seq; `sync` fsyncs it."""
        scrubbed = visible_json(self._redactor.scrub(dict(data)))
        with self._lock:
            fd = self._open_fd()
            seq = self._next_seq
            written_at = self._clock()
            line = _serialize_record(
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
            self.append(END_KIND, {"records": self._next_seq, "last": self._prev_digest})
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


def _lock_exclusively(fd: int, path: Path) -> None:
    """Holds an exclusive lock on the journal for as long as `fd` is open; JournalBusy if taken."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalBusy(f"journal {path} is being written by another cockpit process") from None


def is_locked(path: Path) -> bool:
    """Whether a live process holds the journal's writer lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


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


def journal_header(path: Path) -> dict[str, JsonValue] | None:
    """The header record's data of a journal, None when its first line is not a header."""
    try:
        with _open_journal(path) as stream:
            first = stream.readline(MAX_LINE_BYTES + 1)
    except OSError:
        return None
    try:
        record = _parse_record(_RawLine(1, 0, first.rstrip(b"\n"), True))
    except _BadLine:
        return None
    return record.data if record.kind == HEADER_KIND else None


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


# --- reading --------------------------------------------------------------------------------

MAX_JOURNAL_BYTES = 1024**3
"""A larger file is refused: an 8-hour session writes tens of megabytes."""
MAX_LINE_BYTES = 4 * 1024**2
"""A longer line is damage, read past in bounded chunks: the largest record is a screen."""
_SKIP_CHUNK_BYTES = 64 * 1024
_SHOWN_KEY_CHARS = 40
_NOT_A_JOURNAL_FIX = "give the path of a session journal (a .jsonl file in journal.dir)"


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One complete, well-formed journal line; every string in `data` made visible."""

    line_number: int
    seq: int
    t: datetime
    kind: str
    data: dict[str, JsonValue]
    raw: str


@dataclass(frozen=True, slots=True)
class TruncatedTail:
    """A last line with no newline that is not JSON: a write cut short, ignored by readers."""

    line_number: int
    byte_offset: int
    length: int


@dataclass(frozen=True, slots=True)
class _RawLine:
    """One line's bytes as stored, without the newline."""

    line_number: int
    byte_offset: int
    content: bytes
    terminated: bool
    too_long: bool = False


class _UnsuitableJournal(OSError):
    """The path is not a journal file a reader should open: not a regular file, or too big."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(errno.EINVAL, problem, str(path))


def _open_journal(path: Path) -> BinaryIO:
    """The journal opened for reading, never blocking: a regular file of a sane size, or OSError."""
    try:
        stream = open_regular_file(path)
    except IsADirectoryError:
        raise _UnsuitableJournal(path, f"it is a directory; {_NOT_A_JOURNAL_FIX}") from None
    except NotARegularFile as error:
        raise _UnsuitableJournal(
            path, f"it is {error.kind_words}, not a regular file; {_NOT_A_JOURNAL_FIX}"
        ) from None
    size_bytes = os.fstat(stream.fileno()).st_size
    if size_bytes > MAX_JOURNAL_BYTES:
        stream.close()
        raise _too_large(path)
    return stream


def _too_large(path: Path) -> _UnsuitableJournal:
    """The refusal of a file past MAX_JOURNAL_BYTES."""
    return _UnsuitableJournal(
        path,
        f"it is larger than {MAX_JOURNAL_BYTES // 1024**3} GiB, and a session journal is tens "
        f"of megabytes; {_NOT_A_JOURNAL_FIX}",
    )


class _BadLine(Exception):
    """A line that is not a well-formed journal record; the message says why."""


class _UnreadableLine(_BadLine):
    """A line that is not UTF-8 JSON at all, which is what a write cut short looks like."""


def read_journal(path: Path) -> tuple[list[JournalRecord], TruncatedTail | None]:
    """Every complete record, and the cut-off last line if any; JournalError if damaged."""
    try:
        with _open_journal(path) as stream:
            return _read_records(path, _raw_lines(stream, path))
    except OSError as error:
        raise JournalError(f"cannot read journal {path}: {_describe_os_error(error)}") from error


def _read_records(
    path: Path, lines: Iterable[_RawLine]
) -> tuple[list[JournalRecord], TruncatedTail | None]:
    """Parses lines into records, stopping at a truncated tail and raising on damage."""
    records: list[JournalRecord] = []
    for line in lines:
        try:
            records.append(_parse_record(line))
        except _UnreadableLine as problem:
            if not line.terminated:
                return records, _tail_of(line)
            _raise_damaged(path, line, problem)
        except _BadLine as problem:
            _raise_damaged(path, line, problem)
    return records, None


def _raise_damaged(path: Path, line: _RawLine, problem: _BadLine) -> NoReturn:
    """Raises JournalError naming the file, the line, the fault and how to check the rest."""
    raise JournalError(
        f"journal {path} is damaged at line {line.line_number}: {problem}; "
        f"run `cockpit verify {path}` to check the whole hash chain"
    )


def _raw_lines(
    stream: BinaryIO, path: Path, offset: int = 0, first_line: int = 1
) -> Iterator[_RawLine]:
    """The file's lines from `offset` on, with their 1-based numbers and byte offsets.

    Memory stays bounded: a line longer than MAX_LINE_BYTES comes back empty and marked too
    long, and reading past MAX_JOURNAL_BYTES raises OSError, as a journal never grows so big.
    """
    for line_number in count(first_line):
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        terminated = chunk.endswith(b"\n")
        if len(chunk) > MAX_LINE_BYTES and not terminated:
            skipped, terminated = _skip_rest_of_line(stream, path)
            line = _RawLine(line_number, offset, b"", terminated, too_long=True)
            offset += len(chunk) + skipped
        else:
            line = _RawLine(line_number, offset, chunk[:-1] if terminated else chunk, terminated)
            offset += len(chunk)
        if offset > MAX_JOURNAL_BYTES:
            raise _too_large(path)
        yield line


def _skip_rest_of_line(stream: BinaryIO, path: Path) -> tuple[int, bool]:
    """Reads past the rest of an overlong line in bounded chunks: (bytes skipped, terminated)."""
    skipped = 0
    while skipped <= MAX_JOURNAL_BYTES:
        chunk = stream.readline(_SKIP_CHUNK_BYTES)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped, bool(chunk)
    raise _too_large(path)


def _tail_of(line: _RawLine) -> TruncatedTail:
    """The truncated-tail report for an incomplete last line."""
    return TruncatedTail(line.line_number, line.byte_offset, len(line.content))


def _parse_record(line: _RawLine) -> JournalRecord:
    """The record on one line, or _BadLine saying what is wrong with it."""
    return _parse_chained_record(line)[0]


def _parse_chained_record(line: _RawLine) -> tuple[JournalRecord, str]:
    """The record on one line with the `prev` digest it claims, or _BadLine."""
    if line.too_long:
        raise _BadLine(
            f"is longer than {MAX_LINE_BYTES // 1024**2} MiB, which no record is (damaged file?)"
        )
    text, value = _decode_json(line.content)
    if not isinstance(value, dict):
        raise _BadLine(f"is JSON but not an object ({type(value).__name__})")
    _check_keys(list(value))
    record = JournalRecord(
        line_number=line.line_number,
        seq=_seq_field(value["seq"]),
        t=_time_field(value["t"]),
        kind=visible(_text_field("kind", value["kind"])),
        data=_data_field(value["data"], text),
        raw=text,
    )
    return record, _prev_field(value["prev"])


def _decode_json(content: bytes) -> tuple[str, object]:
    """The line's text and its parsed JSON value, or _UnreadableLine."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _UnreadableLine(
            f"is not UTF-8 text (byte {error.start} is {content[error.start]:#04x}; binary data?)"
        ) from None
    try:
        return text, json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        raise _UnreadableLine(f"is not valid JSON ({error})") from None


def _reject_constant(name: str) -> NoReturn:
    """Refuses NaN and Infinity, which the writer never produces."""
    raise ValueError(f"{name} is not allowed in a journal")


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent; ValueError when it overflows (`1e999`)."""
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:20]} is out of range, which the writer never writes")
    return number


def _check_keys(keys: list[str]) -> None:
    """Requires exactly the record keys, in the order the writer uses."""
    missing = [key for key in RECORD_KEYS if key not in keys]
    unexpected = [key for key in keys if key not in RECORD_KEYS]
    shown = ", ".join(visible(key)[:_SHOWN_KEY_CHARS] for key in keys)
    if missing or unexpected:
        raise _BadLine(f"has keys {shown or 'none'}; a record has exactly {', '.join(RECORD_KEYS)}")
    if tuple(keys) != RECORD_KEYS:
        raise _BadLine(f"has its keys out of order ({shown}); the line was rewritten")


def _seq_field(value: object) -> int:
    """The `seq` value, a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _BadLine(f"has seq {value!r}, which is not a non-negative integer")
    return value


def _time_field(value: object) -> datetime:
    """The `t` value as an aware UTC datetime."""
    text = _text_field("t", value)
    try:
        return parse_timestamp(text)
    except ValueError:
        raise _BadLine(f"has t {text!r}, not a UTC time like 2026-11-22T01:02:03.123456Z") from None


def _text_field(name: str, value: object) -> str:
    """A field that must be a string."""
    if not isinstance(value, str):
        raise _BadLine(f"has {name} {value!r}, which is not a string")
    return value


def _prev_field(value: object) -> str:
    """The `prev` value, a lowercase SHA-256 hex digest."""
    text = _text_field("prev", value)
    if not _HASH_PATTERN.fullmatch(text):
        raise _BadLine(f"has prev {text!r}, which is not a SHA-256 hex digest")
    return text


def _data_field(value: object, line_text: str) -> dict[str, JsonValue]:
    """The `data` value, a JSON object, with its strings made visible (see readable_data)."""
    if not isinstance(value, dict):
        raise _BadLine(f"has data of type {type(value).__name__}; data must be an object")
    try:
        return readable_data(value, line_text)
    except UnreadableValue as problem:
        raise _BadLine(f"has data that {problem}") from None


def _describe_os_error(error: OSError) -> str:
    """The system's reason for an I/O failure, without the errno noise."""
    return error.strerror or str(error)


# --- verification ---------------------------------------------------------------------------


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
    chain = _ChainCheck(anchored_seqs(sources))
    try:
        with _open_journal(path) as stream:
            verification = _verify_lines(_raw_lines(stream, path), chain)
    except OSError as error:
        return _unverifiable(f"cannot read {path}: {_describe_os_error(error)}")
    verification = _compare_anchors(path, verification, chain, sources)
    return _judge_ending(path, verification)


def _anchor_sources(path: Path, anchor_files: Sequence[Path]) -> list[AnchorSource]:
    """The anchors of the sidecar beside the journal, if there is one, then of each file given."""
    sidecar = sidecar_path(path)
    found = [read_anchor_file(sidecar, is_sidecar=True)] if sidecar.exists() else []
    return found + [read_anchor_file(anchor_file) for anchor_file in anchor_files]


def _compare_anchors(
    path: Path, verification: Verification, chain: _ChainCheck, sources: list[AnchorSource]
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


class _ChainCheck:
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


def _verify_lines(lines: Iterable[_RawLine], chain: _ChainCheck | None = None) -> Verification:
    """Walks the lines until the first break, treating a cut-off last line as a tail."""
    chain = chain or _ChainCheck()
    for line in lines:
        try:
            record, prev = _parse_chained_record(line)
        except _UnreadableLine as problem:
            if not line.terminated:
                return chain.finished(_tail_of(line))
            return chain.broken(line.line_number, f"line {problem}")
        except _BadLine as problem:
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


# --- following ------------------------------------------------------------------------------


class JournalTail:
    """Reads a journal as another process writes it: each call returns the new complete lines.

    The chain is checked as it grows, so a follower learns of a damaged line the moment it
    arrives; a line still being written is left for the next call.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._line_number = 0
        self._chain = _ChainCheck()
        self._damage: JournalError | None = None

    @property
    def path(self) -> Path:
        return self._path

    def read_new(self) -> list[JournalRecord]:
        """The records written since the last call; JournalError on an unreadable or bad line.

        Good lines read before a bad one are returned first; the next call raises.
        """
        if self._damage is not None:
            raise self._damage
        records: list[JournalRecord] = []
        try:
            self._read_lines(records)
        except JournalError as damage:
            if not records:
                raise
            self._damage = damage
        except OSError as error:
            unreadable = JournalError(
                f"cannot read journal {self._path}: {_describe_os_error(error)}"
            )
            if not records:
                raise unreadable from error
            self._damage = unreadable
        return records

    def _read_lines(self, records: list[JournalRecord]) -> None:
        """Appends each complete line's record; a line still being written waits for next time."""
        with _open_journal(self._path) as stream:
            stream.seek(self._offset)
            for line in _raw_lines(stream, self._path, self._offset, self._line_number + 1):
                if not line.terminated and not line.too_long:
                    return
                records.append(self._accept(line))

    def _accept(self, line: _RawLine) -> JournalRecord:
        """The line's record once it continues the chain; JournalError when it does not."""
        self._line_number = line.line_number
        self._offset = line.byte_offset + len(line.content) + 1
        try:
            record, prev = _parse_chained_record(line)
        except _BadLine as problem:
            _raise_damaged(self._path, line, problem)
        problem_text = self._chain.problem_with(record, prev)
        if problem_text is not None:
            _raise_damaged(self._path, line, _BadLine(problem_text))
        self._chain.accept(record, line.content)
        return record


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
    chain = _ChainCheck(anchored_seqs(sources))
    try:
        with _open_journal(path) as stream:
            checked = _read_checked_lines(_raw_lines(stream, path), chain)
    except OSError as error:
        raise JournalError(f"cannot read journal {path}: {_describe_os_error(error)}") from error
    verification = _compare_anchors(path, checked.verification, chain, sources)
    return replace(checked, verification=_judge_ending(path, verification))


def _read_checked_lines(lines: Iterable[_RawLine], chain: _ChainCheck) -> CheckedRead:
    records: list[JournalRecord] = []
    broken: Verification | None = None
    for line in lines:
        try:
            record, prev = _parse_chained_record(line)
        except _BadLine as problem:
            if isinstance(problem, _UnreadableLine) and not line.terminated:
                tail = _tail_of(line)
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
