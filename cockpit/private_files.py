"""Files the cockpit writes that may hold what the team saw: readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE_MODE = 0o600


def write_private_text(path: Path, text: str) -> None:
    """Writes `text` into `path` with mode 0600, also when the file was there with a wider mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as output:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, PRIVATE_FILE_MODE)
        output.write(text)


def replace_private_text(path: Path, text: str) -> None:
    """Readers never see a half-written file: written 0600 beside it, then renamed over it."""
    temporary = path.with_name(f".{path.name}.tmp")
    write_private_text(temporary, text)
    temporary.replace(path)
