"""The journal writer's lock: held by the one process writing a journal, probed by others."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from cockpit.journal.chain import JournalBusy


def lock_exclusively(fd: int, path: Path) -> None:
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
