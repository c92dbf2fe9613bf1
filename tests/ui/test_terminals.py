"""The cockpit in a real GNU screen and a real tmux: Escape closes help at once, one `q` quits.

Keys are typed through the terminal multiplexer's own input handling (tmux send-keys into a
pane; for GNU screen, into a tmux pane attached to the screen session), since that is where GNU
screen held Escape back; `screen -X stuff` would hand keys to the window directly and miss it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from screens.terminal_app import inside_gnu_screen, mouse_wanted
from tests.ui.test_demo_tmux import Tmux, pause_before_a_deliberate_key

CONFIG = '[cutover]\nname = "terminal test"\n'
HELP_SHOWN = "does"
KEY_BAR = "? Help"
PANEL_UNDER_HELP = "NEXT:"
EXITED = "cockpit exited 0"
WAIT_SECONDS = 60.0

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
needs_screen = pytest.mark.skipif(
    shutil.which("screen") is None, reason="GNU screen is not installed (Debian: screen)"
)


def cockpit_command(tmp_path: Path) -> str:
    """The cockpit on a config with no sources, then a line saying how it ended."""
    config = tmp_path / "cockpit.toml"
    config.write_text(CONFIG)
    journal = tmp_path / "journal"
    arguments = ["run", "-c", str(config), "--read-only", "--journal-dir", str(journal)]
    run = shlex.join([sys.executable, "-m", "cockpit", *arguments])
    return f"cd {shlex.quote(str(tmp_path))}; TZ=UTC {run}; echo cockpit exited $?; exec sleep 600"


def start_in_tmux(tmux: Tmux, command: str) -> None:
    """One 80x24 pane running `command`."""
    tmux.run("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24", command)


def press_in_tmux(tmux: Tmux) -> Callable[[str], object]:
    """Types a key into the pane through tmux's own input handling."""
    return partial(tmux.run, "send-keys", "-t", "demo")


class GnuScreen:
    """A GNU screen session of our own (its own socket directory), read back with hardcopy."""

    def __init__(self, directory: Path, command: str) -> None:
        self.directory = directory
        self.sockets = directory / "sockets"
        self.sockets.mkdir(mode=0o700, parents=True)
        self.environ = {**os.environ, "SCREENDIR": str(self.sockets), "TERM": "xterm-256color"}
        self.process = subprocess.Popen(
            ["screen", "-U", "-c", os.devnull, "-D", "-m", "-S", "cockpit", "bash", "-c", command],
            env=self.environ,
            stdin=subprocess.DEVNULL,
        )

    def attach_command(self) -> str:
        """What a terminal runs to show this session (its keys then pass through screen)."""
        return f"SCREENDIR={shlex.quote(str(self.sockets))} screen -U -c /dev/null -r cockpit"

    def text(self) -> str:
        copy = self.directory / "hardcopy.txt"
        copy.unlink(missing_ok=True)
        command = ["screen", "-S", "cockpit", "-X", "hardcopy", str(copy)]
        subprocess.run(command, env=self.environ, capture_output=True, check=False)
        return copy.read_text(errors="replace") if copy.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def gnu_screen(tmp_path: Path) -> Iterator[GnuScreen]:
    session = GnuScreen(tmp_path / "screen", cockpit_command(tmp_path))
    try:
        yield session
    finally:
        session.stop()


def wait_until(read: Callable[[], str], check: Callable[[str], bool], what: str) -> float:
    """Polls the terminal's text until `check` holds; the moment it did."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check(read()):
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"{what} within {WAIT_SECONDS} s; screen:\n{read()}")


def help_closed(text: str) -> bool:
    """The panel help covered is back in view, and no line of help is left."""
    return PANEL_UNDER_HELP in text and HELP_SHOWN not in text


def open_help_close_it_and_quit(press: Callable[[str], object], read: Callable[[], str]) -> None:
    """`?` opens help, Escape alone closes it, and then one `q` quits."""
    wait_until(read, lambda text: KEY_BAR in text, "the cockpit did not start")
    press("?")
    wait_until(read, lambda text: HELP_SHOWN in text, "help did not open")
    press("Escape")
    closed_at = wait_until(read, help_closed, "Escape did not close help")
    pause_before_a_deliberate_key(closed_at)
    press("q")
    wait_until(read, lambda text: EXITED in text, "one q did not quit")


@needs_tmux
@needs_screen
def test_escape_closes_help_at_once_in_gnu_screen(
    gnu_screen: GnuScreen, tmux: Tmux, tmp_path: Path
) -> None:
    start_in_tmux(tmux, gnu_screen.attach_command())
    open_help_close_it_and_quit(press_in_tmux(tmux), gnu_screen.text)


@needs_tmux
def test_escape_closes_help_at_once_in_tmux(tmux: Tmux, tmp_path: Path) -> None:
    start_in_tmux(tmux, cockpit_command(tmp_path))
    open_help_close_it_and_quit(press_in_tmux(tmux), tmux.screen)


@pytest.mark.parametrize(
    ("environ", "in_screen"),
    [
        ({"STY": "1234.pts-0.bastion", "TERM": "screen"}, True),
        ({"TERM": "screen.xterm-256color"}, True),
        ({"TERM": "screen-256color", "TMUX": "/tmp/tmux-0/default,1,0"}, False),
        ({"TERM": "screen-256color"}, False),
        ({"TERM": "xterm-256color"}, False),
    ],
)
def test_mouse_reports_are_off_only_inside_gnu_screen(
    environ: dict[str, str], in_screen: bool
) -> None:
    assert inside_gnu_screen(environ) is in_screen
    assert mouse_wanted(environ) is not in_screen
