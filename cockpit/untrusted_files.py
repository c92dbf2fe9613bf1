"""Opening a file someone named on the command line, which may be anything but a file.

A FIFO would block a plain open or read forever, a device like /dev/zero would never end and a
directory or socket cannot be read at all, so readers open through here and learn what it is.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

_KIND_WORDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotARegularFile(OSError):
    """The path names a pipe, device or socket: something that is not a file to read.

    An OSError, so a reader that already says "cannot read X: why" says this too.
    """

    def __init__(self, path: Path, kind_words: str) -> None:
        super().__init__(errno.EINVAL, f"it is {kind_words}, not a regular file", str(path))
        self.kind_words = kind_words


def open_regular_file(path: Path, *, follow_links: bool = True) -> BinaryIO:
    """`path` opened for binary reading, only when it is a regular file.

    Opened without blocking and checked with fstat, so a FIFO is refused, never waited on;
    IsADirectoryError for a directory, NotARegularFile for a pipe, device or socket, and for a
    symbolic link when `follow_links` is False.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ENXIO and _is_socket(path):
            raise NotARegularFile(path, "a socket") from None
        if error.errno == errno.ELOOP and not follow_links:
            raise NotARegularFile(path, "a symbolic link") from None
        raise
    try:
        _require_regular(path, os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _require_regular(path: Path, mode: int) -> None:
    """Raises unless `mode` is a regular file's, saying what it is instead."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    found = (words for is_kind, words in _KIND_WORDS if is_kind(mode))
    kind_words = next(found, "an unusual kind of file")
    raise NotARegularFile(path, kind_words)


def _is_socket(path: Path) -> bool:
    """Whether `path` is a Unix socket, which open() refuses with a puzzling ENXIO."""
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


class TooLarge(OSError):
    """A file larger than its reader accepts; read no further than the limit."""

    def __init__(self, path: Path, limit_bytes: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {_size_words(limit_bytes)}", str(path))
        self.limit_bytes = limit_bytes


def read_regular_file(path: Path, limit_bytes: int) -> bytes:
    """The whole of a regular file of at most `limit_bytes`; TooLarge past it (never read on)."""
    with open_regular_file(path) as file:
        return _read_whole(file, path, limit_bytes)


def read_owned_file(path: Path, limit_bytes: int) -> tuple[bytes, int]:
    """A regular file (never through a symbolic link) of at most `limit_bytes`, and its owner's uid.

    The owner is read from the open file, so it is the owner of exactly the bytes returned.
    """
    with open_regular_file(path, follow_links=False) as file:
        owner_uid = os.fstat(file.fileno()).st_uid
        return _read_whole(file, path, limit_bytes), owner_uid


def _read_whole(file: BinaryIO, path: Path, limit_bytes: int) -> bytes:
    data = file.read(limit_bytes + 1)
    if len(data) > limit_bytes:
        raise TooLarge(path, limit_bytes)
    return data


def _size_words(size_bytes: int) -> str:
    """'1 MiB', '64 MiB', '512 KiB'."""
    mebibytes, kibibytes = divmod(size_bytes, 1024 * 1024)
    return f"{mebibytes} MiB" if mebibytes and not kibibytes else f"{size_bytes // 1024} KiB"
