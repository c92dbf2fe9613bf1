"""Reading a journal: its lines parsed tolerantly into records, a cut-off last line set aside."""

from __future__ import annotations

import errno
import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import BinaryIO, NoReturn

from cockpit.journal.chain import HEADER_KIND, RECORD_KEYS, JournalError, parse_timestamp
from cockpit.journal.read_back import UnreadableValue, readable_data
from cockpit.jsonvalue import JsonValue
from cockpit.untrusted_files import NotARegularFile, open_regular_file
from cockpit.visible import visible

MAX_JOURNAL_BYTES = 1024**3
"""A larger file is refused: an 8-hour session writes tens of megabytes."""
MAX_LINE_BYTES = 4 * 1024**2
"""A longer line is damage, read past in bounded chunks: the largest record is a screen."""
_SKIP_CHUNK_BYTES = 64 * 1024
_SHOWN_KEY_CHARS = 40
_NOT_A_JOURNAL_FIX = "give the path of a session journal (a .jsonl file in journal.dir)"
_HASH_PATTERN = re.compile(r"[0-9a-f]{64}")


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
class RawLine:
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


def open_journal(path: Path) -> BinaryIO:
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


class BadLine(Exception):
    """A line that is not a well-formed journal record; the message says why."""


class UnreadableLine(BadLine):
    """A line that is not UTF-8 JSON at all, which is what a write cut short looks like."""


def journal_header(path: Path) -> dict[str, JsonValue] | None:
    """The header record's data of a journal, None when its first line is not a header."""
    try:
        with open_journal(path) as stream:
            first = stream.readline(MAX_LINE_BYTES + 1)
    except OSError:
        return None
    try:
        record = _parse_record(RawLine(1, 0, first.rstrip(b"\n"), True))
    except BadLine:
        return None
    return record.data if record.kind == HEADER_KIND else None


def read_journal(path: Path) -> tuple[list[JournalRecord], TruncatedTail | None]:
    """Every complete record, and the cut-off last line if any; JournalError if damaged."""
    try:
        with open_journal(path) as stream:
            return _read_records(path, raw_lines(stream, path))
    except OSError as error:
        raise JournalError(f"cannot read journal {path}: {describe_os_error(error)}") from error


def _read_records(
    path: Path, lines: Iterable[RawLine]
) -> tuple[list[JournalRecord], TruncatedTail | None]:
    """Parses lines into records, stopping at a truncated tail and raising on damage."""
    records: list[JournalRecord] = []
    for line in lines:
        try:
            records.append(_parse_record(line))
        except UnreadableLine as problem:
            if not line.terminated:
                return records, tail_of(line)
            raise_damaged(path, line, problem)
        except BadLine as problem:
            raise_damaged(path, line, problem)
    return records, None


def raise_damaged(path: Path, line: RawLine, problem: BadLine) -> NoReturn:
    """Raises JournalError naming the file, the line, the fault and how to check the rest."""
    raise JournalError(
        f"journal {path} is damaged at line {line.line_number}: {problem}; "
        f"run `cockpit verify {path}` to check the whole hash chain"
    )


def raw_lines(
    stream: BinaryIO, path: Path, offset: int = 0, first_line: int = 1
) -> Iterator[RawLine]:
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
            line = RawLine(line_number, offset, b"", terminated, too_long=True)
            offset += len(chunk) + skipped
        else:
            line = RawLine(line_number, offset, chunk[:-1] if terminated else chunk, terminated)
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


def tail_of(line: RawLine) -> TruncatedTail:
    """The truncated-tail report for an incomplete last line."""
    return TruncatedTail(line.line_number, line.byte_offset, len(line.content))


def _parse_record(line: RawLine) -> JournalRecord:
    """The record on one line, or BadLine saying what is wrong with it."""
    return parse_chained_record(line)[0]


def parse_chained_record(line: RawLine) -> tuple[JournalRecord, str]:
    """The record on one line with the `prev` digest it claims, or BadLine."""
    if line.too_long:
        raise BadLine(
            f"is longer than {MAX_LINE_BYTES // 1024**2} MiB, which no record is (damaged file?)"
        )
    text, value = _decode_json(line.content)
    if not isinstance(value, dict):
        raise BadLine(f"is JSON but not an object ({type(value).__name__})")
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
    """The line's text and its parsed JSON value, or UnreadableLine."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableLine(
            f"is not UTF-8 text (byte {error.start} is {content[error.start]:#04x}; binary data?)"
        ) from None
    try:
        return text, json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        raise UnreadableLine(f"is not valid JSON ({error})") from None


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
        raise BadLine(f"has keys {shown or 'none'}; a record has exactly {', '.join(RECORD_KEYS)}")
    if tuple(keys) != RECORD_KEYS:
        raise BadLine(f"has its keys out of order ({shown}); the line was rewritten")


def _seq_field(value: object) -> int:
    """The `seq` value, a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadLine(f"has seq {value!r}, which is not a non-negative integer")
    return value


def _time_field(value: object) -> datetime:
    """The `t` value as an aware UTC datetime."""
    text = _text_field("t", value)
    try:
        return parse_timestamp(text)
    except ValueError:
        raise BadLine(f"has t {text!r}, not a UTC time like 2026-11-22T01:02:03.123456Z") from None


def _text_field(name: str, value: object) -> str:
    """A field that must be a string."""
    if not isinstance(value, str):
        raise BadLine(f"has {name} {value!r}, which is not a string")
    return value


def _prev_field(value: object) -> str:
    """The `prev` value, a lowercase SHA-256 hex digest."""
    text = _text_field("prev", value)
    if not _HASH_PATTERN.fullmatch(text):
        raise BadLine(f"has prev {text!r}, which is not a SHA-256 hex digest")
    return text


def _data_field(value: object, line_text: str) -> dict[str, JsonValue]:
    """The `data` value, a JSON object, with its strings made visible (see readable_data)."""
    if not isinstance(value, dict):
        raise BadLine(f"has data of type {type(value).__name__}; data must be an object")
    try:
        return readable_data(value, line_text)
    except UnreadableValue as problem:
        raise BadLine(f"has data that {problem}") from None


def describe_os_error(error: OSError) -> str:
    """The system's reason for an I/O failure, without the errno noise."""
    return error.strerror or str(error)
