"""Knowing a process we started when we see it again: by PID, start time and command line."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int) -> bool:
    """True while the PID names a running process (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def cmdline_has(pid: int, marker: str) -> bool:
    """Guards against PID reuse: the process must still be the one we recorded."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return marker in cmdline


def process_start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot): with the PID, an identity."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def runner_identity(pid: int) -> str:
    """What runner.pid holds: the PID and its start time, so a reused PID is never mistaken."""
    return f"{pid} {process_start_ticks(pid)}\n"
