"""What the benchmarks share: a private tmux, CPU and memory read from /proc, configs, the table.

CPU is read from /proc/PID/stat: utime + stime cover every thread of the process, and cutime +
cstime every child it has waited for, so a shell loop's commands are counted once they end.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POLL_SECONDS = 0.01
WIDTH, HEIGHT = 80, 24

TRIVIAL_APP = """
import time
from textual.app import App
from textual.binding import Binding
from textual.widgets import Static

class Trivial(App):
    BINDINGS = [Binding(str(i), f"show({i})") for i in range(4)]
    def compose(self):
        yield Static("trivial app", id="title")
        for i in range(4):
            yield Static(f"panel {i}", id=f"p{i}")
    def on_mount(self):
        self.set_interval(1.0, self.tick)
    def tick(self):
        for i in range(4):
            self.query_one(f"#p{i}", Static).update(f"REPL panel {i} {time.time():.0f}")
    def action_show(self, number):
        self.query_one("#title", Static).update(f"SHOWN PANEL {number}")

Trivial().run()
"""
"""The baseline: four panels refreshed at 1 Hz; keys 0-3 change its title line."""


def use_this_checkout() -> None:
    """Every process started from here (sandbox, cockpit) runs this checkout's code."""
    root = str(Path(__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    )
    os.chdir(root)


# --- /proc -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU seconds of every thread of `pid`, plus those of the children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def status_kib(pid: int | str, name: str) -> int:
    """A `kB` line of /proc/PID/status (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise LookupError(f"no {name} in /proc/{pid}/status")


def rss_mb(pid: int | str = "self") -> float:
    return status_kib(pid, "VmRSS") / 1024


def open_fds(pid: int | str = "self") -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Polls `condition` until it holds; the perf_counter time it first did."""
    deadline = time.perf_counter() + timeout
    while True:
        if condition():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def cpu_percent_over(pid: int, seconds: float) -> float:
    """Percent of one core `pid` used over the next `seconds` (a measurement window)."""
    before, started = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.perf_counter() - started)


# --- a private tmux ----------------------------------------------------------------------------

_sockets = iter(range(1_000_000))


class Tmux:
    """A tmux server of our own (its own socket), one detached 80x24 session per app."""

    def __init__(self, work_dir: Path) -> None:
        if shutil.which("tmux") is None:
            raise SystemExit("tmux is needed: apt-get install tmux")
        self.socket = f"cockpit-bench-{os.getpid()}-{next(_sockets)}"
        self._conf = work_dir / f"{self.socket}.conf"
        self._conf.write_text(
            "set -g default-terminal tmux-256color\nset -sg escape-time 10\nset -g status off\n"
            "set -s exit-empty off\n"
        )
        self._started = False

    def run(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, "-f", str(self._conf), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout

    def launch(self, session: str, command: str, env: Mapping[str, str] | None = None) -> PaneApp:
        """Starts `command` (exec'ed, so the pane's PID is the app's) in a new 80x24 session."""
        exports = " ".join(f"{k}={_quote(v)}" for k, v in (env or {}).items())
        shell = f"exec env {exports} {command}" if exports else f"exec {command}"
        started = time.perf_counter()
        self.run("new-session", "-d", "-s", session, "-x", str(WIDTH), "-y", str(HEIGHT), shell)
        self._started = True
        pid = int(self.run("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        return PaneApp(self, session, pid, started)

    def stop(self) -> None:
        if self._started:
            self.run("kill-server")
        self._conf.unlink(missing_ok=True)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


@dataclass
class PaneApp:
    """One app in its tmux session: its PID, its screen, its keys."""

    tmux: Tmux
    session: str
    pid: int
    started: float

    def screen(self) -> str:
        return self.tmux.run("capture-pane", "-p", "-t", self.session)

    def wait_for(self, condition: Callable[[str], bool], timeout: float, what: str) -> float:
        """Seconds from launch until the screen satisfies `condition`."""
        try:
            return wait_until(lambda: self._shows(condition, what), timeout, what) - self.started
        except TimeoutError as error:
            raise TimeoutError(f"{error}; last screen:\n{self.screen()}") from None

    def _shows(self, condition: Callable[[str], bool], what: str) -> bool:
        screen = self.screen()
        if condition(screen):
            return True
        if not alive(self.pid):
            raise RuntimeError(f"{what}: the app exited; last screen:\n{screen}")
        return False

    def press(self, key: str) -> None:
        self.tmux.run("send-keys", "-t", self.session, key)

    def stop(self) -> None:
        """Closes the session (the app gets SIGHUP, as when an SSH session drops) and waits."""
        self.tmux.run("kill-session", "-t", self.session)
        try:
            wait_until(lambda: not alive(self.pid), 20, f"{self.session} exiting")
        except TimeoutError:
            os.kill(self.pid, 9)


class PaneOutput:
    """A control-mode client on the same tmux: every byte the app writes, with when it came.

    Keys go through the same client, so a key's time and its answer's time share one clock.
    """

    def __init__(self, app: PaneApp) -> None:
        self.app = app
        self._process = subprocess.Popen(
            ["tmux", "-L", app.tmux.socket, "-C", "attach", "-t", app.session],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._chunks: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            arrived = time.perf_counter()
            if line.startswith(b"%output "):
                payload = line.split(b" ", 2)[2].rstrip(b"\n")
                with self._lock:
                    self._chunks.append((arrived, _unescape(payload)))

    def key_to_output(self, key: str, marker: bytes, timeout: float = 10.0) -> float:
        """Seconds from sending `key` until the pane's output contains `marker`."""
        with self._lock:
            first = len(self._chunks)
        assert self._process.stdin is not None
        sent = time.perf_counter()
        self._process.stdin.write(f"send-keys -t {self.app.session} {key}\n".encode())
        self._process.stdin.flush()
        seen = b""
        deadline = sent + timeout
        while time.perf_counter() < deadline:
            with self._lock:
                new = self._chunks[first:]
            for arrived, payload in new:
                seen += payload
                if marker in seen[-len(payload) - len(marker) :]:
                    return arrived - sent
            first += len(new)
            time.sleep(0.001)
        raise TimeoutError(f"{marker!r} never came after key {key}")

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _unescape(payload: bytes) -> bytes:
    """Control mode writes bytes below 0x20 and backslashes as \\ooo."""
    out = bytearray()
    index = 0
    while index < len(payload):
        if payload[index] == 0x5C and index + 4 <= len(payload):
            out.append(int(payload[index + 1 : index + 4], 8))
            index += 4
        else:
            out.append(payload[index])
            index += 1
    return bytes(out)


# --- what the cockpit's screen shows ---

STRIP_ENTRY = re.compile(r"(?:^|\s)(\d) ([A-Z]{2,4}) (\S+)")


def strip_words(screen: str) -> dict[str, str]:
    """The status strip's entries ('1 REPL OK' → {'1 REPL': 'OK'}), from the lines under the
    two header lines that start with an entry."""
    words: dict[str, str] = {}
    for line in screen.splitlines()[2:6]:
        if not re.match(r"\s*\d [A-Z]{2,4} ", line):
            continue
        for key, name, word in STRIP_ENTRY.findall(line):
            words[f"{key} {name}"] = word
    return words


PANEL_SECTIONS = {
    "1 REPL": "replication",
    "2 TGT": "targets",
    "3 DNS": "dns",
    "4 ERR": "errors",
    "5 TRAF": "traffic",
    "9 INTG": "integrity",
}
"""Panels fed by a config section: one the config leaves out keeps its "…"."""


def every_panel_has_data(config: dict[str, Any]) -> Callable[[str], bool]:
    """Whether the strip shows a word for every panel the config gives a source."""

    def shown(screen: str) -> bool:
        words = strip_words(screen)
        waiting = [
            entry
            for entry, word in words.items()
            if word == "…" and PANEL_SECTIONS.get(entry, "") in (*config, "")
        ]
        return len(words) >= 2 and not waiting

    return shown


# --- configs -----------------------------------------------------------------------------------

POLLED_SECTIONS = ("replication", "targets", "dns", "errors", "traffic")


def read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def write_config(data: dict[str, Any], path: Path) -> Path:
    """Writes the config and loads it with the cockpit's own loader, so a bad one fails here."""
    from cockpit.config import load_config

    path.write_text(tomli_w.dumps(data))
    load_config(path)
    return path


def every_source_at(data: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The same config with every polled section's interval set to `seconds`."""
    changed = {**data}
    for name in POLLED_SECTIONS:
        if name in changed:
            changed[name] = {**changed[name], "interval_seconds": seconds}
    return changed


# --- the table ---------------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    value: str
    baseline: str = "—"
    target: str = "—"
    met: bool | None = None
    note: str = ""


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.rows.append(Row(*args, **kwargs))

    def print(self) -> None:
        headers = ("measure", "value", "baseline (same run)", "target", "met")
        cells = [(r.measure, r.value, r.baseline, r.target, _met_word(r.met)) for r in self.rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        print(f"\n{self.title}")
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for row, cell in zip(self.rows, cells, strict=True):
            print("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip())
            if row.note:
                print(f"    {row.note}")
        for note in self.notes:
            print(f"  * {note}")


def _met_word(met: bool | None) -> str:
    return "—" if met is None else "met" if met else "NOT met"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def percent(value: float) -> str:
    return f"{value:.2f} %"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"
