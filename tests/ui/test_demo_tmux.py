"""`cockpit demo` in a real tmux at 80x24: sandbox values on screen, nothing left after q."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cockpit.deliberate_input import QUIET_BEFORE_SECONDS
from cockpit.sandbox.processes import process_alive

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """A private tmux server (its own socket), so the test never touches anyone else's."""

    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name

    def run(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket_name, *args]
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "demo")


def wait_for(check: Callable[[], bool], seconds: float, what: str, tmux: Tmux) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not appear within {seconds} s; screen:\n{tmux.screen()}")


def pause_before_a_deliberate_key(last_key_at: float) -> None:
    """The operator's pause before `q`: a quit right after another key is taken for typing.

    The cockpit runs in its own process here, so its key clock cannot be scripted.
    """
    time.sleep(max(0.0, last_key_at + QUIET_BEFORE_SECONDS + 0.2 - time.monotonic()))


def sandbox_info(tmp_path: Path) -> dict[str, object]:
    found = sorted(tmp_path.glob("cockpit-demo-*/sandbox/sandbox.json"))
    return json.loads(found[0].read_text()) if found else {}


def test_demo_in_tmux_at_80x24(tmux: Tmux, tmp_path: Path) -> None:
    command = f"TMPDIR={tmp_path} TZ=UTC {sys.executable} -m cockpit demo; echo demo exited $?"
    tmux.run("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24")
    tmux.run("set-option", "-t", "demo", "remain-on-exit", "on")  # a failure stays readable
    tmux.run("respawn-pane", "-k", "-t", "demo", command)
    wait_for(lambda: bool(sandbox_info(tmp_path).get("control_url")), 120, "the sandbox", tmux)
    pids_file = next(tmp_path.glob("cockpit-demo-*/sandbox/pids.json"))
    pids = json.loads(pids_file.read_text())
    recorded = [pids["runner"], *pids["children"].values()]

    wait_for(lambda: "NEXT:" in tmux.screen(), 60, "the go/no-go overview", tmux)
    screen = tmux.screen()
    assert "LIVE" in screen
    assert "1 REPL" in screen and "3 DNS" in screen and "5 TRAF" in screen and "8 ACT" in screen
    tmux.run("send-keys", "-t", "demo", "1")
    wait_for(lambda: "byte lag" in tmux.screen(), 60, "the replication panel", tmux)
    wait_for(lambda: " B" in tmux.screen() or "KiB" in tmux.screen(), 30, "a byte lag", tmux)

    panels = {
        "2": ("tg-new", "healthy"),
        "3": ("app.cutover.test", "cache-1"),
        "4": ("cloudwatch", "access log"),
        "5": ("plan 0", "Route 53"),
        "6": ("DNS TTL lowered", "Replica promoted"),
        "7": ("first reading", "targets:tg-old"),
    }
    for key, expected in panels.items():
        tmux.run("send-keys", "-t", "demo", key)
        wait_for(lambda e=expected: all(t in tmux.screen() for t in e), 30, f"panel {key}", tmux)
    tmux.run("send-keys", "-t", "demo", "3")
    last_key_at = time.monotonic()
    wait_for(lambda: " OLD " in tmux.screen() or " NEW " in tmux.screen(), 30, "answers", tmux)

    pause_before_a_deliberate_key(last_key_at)
    tmux.run("send-keys", "-t", "demo", "q")
    wait_for(lambda: "demo exited 0" in tmux.screen(), 60, "the demo to exit", tmux)
    assert [pid for pid in recorded if process_alive(pid)] == []
    assert list(tmp_path.glob("cockpit-demo-*/sandbox/pids.json")) == []
