"""Following a journal as another process writes it, checking its chain as it grows."""

from __future__ import annotations

from pathlib import Path

from cockpit.journal.chain import JournalError
from cockpit.journal.reader import (
    BadLine,
    JournalRecord,
    RawLine,
    describe_os_error,
    open_journal,
    parse_chained_record,
    raise_damaged,
    raw_lines,
)
from cockpit.journal.verify import ChainCheck


class JournalTail:
    """Reads a journal as another process writes it: each call returns the new complete lines.

    The chain is checked as it grows, so a follower learns of a damaged line the moment it
    arrives; a line still being written is left for the next call.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._line_number = 0
        self._chain = ChainCheck()
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
                f"cannot read journal {self._path}: {describe_os_error(error)}"
            )
            if not records:
                raise unreadable from error
            self._damage = unreadable
        return records

    def _read_lines(self, records: list[JournalRecord]) -> None:
        """Appends each complete line's record; a line still being written waits for next time."""
        with open_journal(self._path) as stream:
            stream.seek(self._offset)
            for line in raw_lines(stream, self._path, self._offset, self._line_number + 1):
                if not line.terminated and not line.too_long:
                    return
                records.append(self._accept(line))

    def _accept(self, line: RawLine) -> JournalRecord:
        """The line's record once it continues the chain; JournalError when it does not."""
        self._line_number = line.line_number
        self._offset = line.byte_offset + len(line.content) + 1
        try:
            record, prev = parse_chained_record(line)
        except BadLine as problem:
            raise_damaged(self._path, line, problem)
        problem_text = self._chain.problem_with(record, prev)
        if problem_text is not None:
            raise_damaged(self._path, line, BadLine(problem_text))
        self._chain.accept(record, line.content)
        return record
