"""`cockpit serve` run as its own process, its URL read from what it says at start."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

URL_PATTERN = re.compile(r"read-only at (http://\S+)")
START_SECONDS = 60.0


class ServeProcess:
    """One `cockpit serve` on a free loopback port; stopped by its PID with SIGTERM."""

    def __init__(self, journal: Path, *extra: str) -> None:
        command = [sys.executable, "-m", "cockpit", "serve", str(journal), "--port", "0", *extra]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.said: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def url(self) -> str:
        """The view's URL, once the server has said it is listening."""
        while True:
            try:
                line = self._lines.get(timeout=START_SECONDS)
            except queue.Empty:
                raise AssertionError(f"cockpit serve said no URL: {self.said}") from None
            if line is None:
                raise AssertionError(f"cockpit serve ended: {self.said}")
            found = URL_PATTERN.search(line)
            if found:
                return found.group(1)

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C or a service manager would; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("cockpit serve did not stop within 30 s of SIGTERM") from None

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.said.append(line.rstrip("\n"))
            self._lines.put(line)
        self._lines.put(None)
