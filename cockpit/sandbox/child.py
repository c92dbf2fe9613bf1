"""A third-party server (unbound, knot, nginx) run as this process's child, by PID."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from cockpit.sandbox.shared import SandboxError


def spawn_server(command: Sequence[str], console: Path) -> subprocess.Popen[bytes]:
    """Starts a server in the foreground, its output into `console`, with no stdin."""
    with console.open("wb") as output:
        return subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )


def run_control(program: str, package: str, arguments: Sequence[str], what: str) -> None:
    """Runs a server's control program (unbound-control, knotc); SandboxError naming `what`
    and the program's own words when it fails, or the package to install when it is missing."""
    binary = shutil.which(program)
    if binary is None:
        raise SandboxError(f"{program} is not installed; install {package} (apt)")
    result = subprocess.run(
        [binary, *arguments], capture_output=True, text=True, timeout=10, check=False
    )
    if result.returncode != 0:
        raise SandboxError(f"{what} failed: {(result.stderr or result.stdout).strip()}")


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


class ChildServer:
    """A server run as this process's child: started once, waited for, ended by its PID."""

    stop_timeout_seconds = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        process = self._process
        return None if process is None else process.pid

    def start(self) -> None:
        """Write its files, run it in the foreground and wait until it answers; stop on failure."""
        with self._lock:
            if self._process is not None:
                return
            self._prepare()
            process = self._process = self._spawn()
        try:
            self._wait_ready(process)
        except SandboxError:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the server this object started and wait for it; safe to call twice."""
        with self._lock:
            process, self._process = self._process, None
        end_server(process, self.stop_timeout_seconds)

    def _prepare(self) -> None:
        raise NotImplementedError

    def _spawn(self) -> subprocess.Popen[bytes]:
        raise NotImplementedError

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        raise NotImplementedError
