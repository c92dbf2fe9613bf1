"""A third-party server (unbound, knot, nginx) run as this process's child, by PID."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


def spawn_server(command: Sequence[str], console: Path) -> subprocess.Popen[bytes]:
    """Starts a server in the foreground, its output into `console`, with no stdin."""
    with console.open("wb") as output:
        return subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )


def end_server(process: subprocess.Popen[bytes] | None, timeout_seconds: float) -> None:
    """SIGTERM to exactly this child and wait; SIGKILL if it will not go. Safe once it has ended."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
