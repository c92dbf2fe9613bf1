"""The browser view in a real headless browser (Debian's chromium, driven by Playwright).

The operator runs the cockpit on the sandbox in tmux at 80x24; `cockpit serve` serves that
session's journal; browsers open the printed URL. What a browser shows is read from the
terminal it draws (xterm.js's own buffer, caught as the page creates it), so the test sees
what a person would. The operator turns maintenance on; the browser shows it; late viewers see
it at once; every key a viewer presses changes nothing in the journal or in the stand-ins.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cockpit.deliberate_input import QUIET_BEFORE_SECONDS, SETTLE_SECONDS
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.serve_support import ServeProcess
from tests.ui.test_demo_tmux import Tmux

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install)"),
]

WAIT_SECONDS = 60.0
# The operator's screen changes once a poll; the follow view reads the journal it writes.
TWO_POLLS_AND_A_JOURNAL_READ_SECONDS = 20.0
# xterm.js keeps its Terminal out of reach; this catches each object as it sets `_core`, so
# the test can read the screen buffer the page draws from.
CATCH_TERMINALS = """
(() => {
  window.__terminals = [];
  Object.defineProperty(Object.prototype, '_core', {
    configurable: true,
    set(value) {
      Object.defineProperty(this, '_core',
        {value, writable: true, configurable: true, enumerable: true});
      window.__terminals.push(this);
    },
  });
})();
"""
READ_SCREEN = """
() => {
  const terminal = window.__terminals.find(
    t => t && t.buffer && t.buffer.active && typeof t.buffer.active.getLine === 'function');
  if (!terminal) return '';
  const buffer = terminal.buffer.active, lines = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    lines.push(line ? line.translateToString(true) : '');
  }
  return lines.join('\\n');
}
"""
VIEWER_KEYS = ("m", "M", "P", "+", "-", "R", "n", "i", "c", "q", "Control+y", "Enter", "Escape")


def wait_until(
    read: Callable[[], str], check: Callable[[str], bool], what: str, seconds: float
) -> str:
    deadline = time.monotonic() + seconds
    text = read()
    while not check(text):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {seconds} s; last screen:\n{text}")
        time.sleep(0.25)
        text = read()
    return text


def start_operator(tmux: Tmux, sandbox: SandboxHandle, journal_dir: Path) -> None:
    env = " ".join(f"{key}={shlex.quote(value)}" for key, value in sandbox.env.items())
    config = str(sandbox.config_path)
    cockpit = shlex.join(
        [sys.executable, "-m", "cockpit", "run", "-c", config, "--journal-dir", str(journal_dir)]
    )
    tmux.run("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24")
    tmux.run("set-option", "-t", "demo", "remain-on-exit", "on")
    tmux.run("respawn-pane", "-k", "-t", "demo", f"env {env} TZ=UTC {cockpit}")


def turn_maintenance_on(tmux: Tmux) -> None:
    """m, then ctrl+y once the confirm dialog has settled, as an operator would."""
    time.sleep(QUIET_BEFORE_SECONDS + 0.2)  # a deliberate key comes after a pause
    tmux.run("send-keys", "-t", "demo", "m")
    wait_until(tmux.screen, lambda s: "ctrl+y" in s, "the confirm dialog", WAIT_SECONDS)
    time.sleep(SETTLE_SECONDS + 0.3)  # the dialog refuses a confirmation before it settles
    tmux.run("send-keys", "-t", "demo", "C-y")


def kinds_in(journal: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in journal.read_text().splitlines():
        kind = json.loads(line).get("kind", "?")
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def screen_of(page: Any) -> Callable[[], str]:
    return lambda: str(page.evaluate(READ_SCREEN))


def test_viewers_see_the_operator_s_values_and_cannot_act(
    sandbox: SandboxHandle, tmux: Tmux, tmp_path: Path
) -> None:
    journal_dir = tmp_path / "journal"
    start_operator(tmux, sandbox, journal_dir)
    wait_until(tmux.screen, lambda s: "maintenance off" in s, "the operator's cockpit", 120)
    (journal,) = journal_dir.glob("*.jsonl")
    server = ServeProcess(journal)
    try:
        url = server.url()
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                watch_act_and_try_keys(browser, url, tmux, journal)
            finally:
                browser.close()
    finally:
        assert server.stop() == 0


def watch_act_and_try_keys(browser: Any, url: str, tmux: Tmux, journal: Path) -> None:
    page = open_view(browser, url)
    seen = wait_until(screen_of(page), lambda s: "maintenance off" in s, "the view", WAIT_SECONDS)
    assert "FOLLOW" in seen and "traffic     old 100 / new 0" in seen

    turn_maintenance_on(tmux)
    wait_until(tmux.screen, lambda s: "maintenance on " in s, "maintenance on", WAIT_SECONDS)
    on = wait_until(
        screen_of(page),
        lambda s: "maintenance on " in s,
        "maintenance on in the browser",
        TWO_POLLS_AND_A_JOURNAL_READ_SECONDS,
    )
    assert "FOLLOW" in on

    late = open_view(browser, url)
    late_seen = wait_until(screen_of(late), lambda s: "FOLLOW" in s, "a late view", WAIT_SECONDS)
    assert "maintenance on " in late_seen, "a late viewer sees the state as it is now"

    before = kinds_in(journal)
    for key in VIEWER_KEYS:
        page.keyboard.press(key)
    page.keyboard.type("OVERRIDE viewer was here")
    page.keyboard.press("Enter")
    # The view goes on drawing after the keys: its clock line moves on twice.
    clock = screen_of(page)().splitlines()[-3]
    wait_until(screen_of(page), lambda s: s.splitlines()[-3] != clock, "the view ticking", 30)

    after = kinds_in(journal)
    assert after.get("action", 0) == before.get("action", 0), "no action from a viewer"
    assert after.get("note", 0) == before.get("note", 0), "no note from a viewer"
    still = screen_of(page)()
    assert "FOLLOW" in still and "maintenance on " in still, "the view is still there"
    assert "ctrl+y" not in still, "no confirm dialog opened in the view"
    assert "maintenance on " in tmux.screen(), "the stand-ins as the operator left them"


def open_view(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.add_init_script(CATCH_TERMINALS)
    page.goto(url)
    return page
