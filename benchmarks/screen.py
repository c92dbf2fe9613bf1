"""The cockpit screen on the sandbox: time to first frame, steady CPU, keypress-to-repaint.

Run: .venv/bin/python benchmarks/screen.py [--cpu-seconds 60]
Each figure has a baseline measured the same way in the same run: a trivial Textual app with
four panels refreshed at 1 Hz. First frame and CPU run in a real tmux at 80x24.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cockpit.sandbox.lifecycle import SandboxHandle, start_sandbox

BASELINE_APP = """
from textual.app import App
from textual.widgets import Static
import time

class Baseline(App):
    def compose(self):
        for i in range(4):
            yield Static(f"panel {i}", id=f"p{i}")
    def on_mount(self):
        self.set_interval(1.0, self.tick)
    def tick(self):
        for i in range(4):
            self.query_one(f"#p{i}", Static).update(f"REPL panel {i} {time.time():.0f}")

Baseline().run()
"""


class Tmux:
    def __init__(self) -> None:
        self.socket = f"cockpit-bench-{os.getpid()}"

    def run(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)
        return result.stdout

    def start(self, command: str) -> float:
        self.run("kill-session", "-t", "bench")
        started = time.perf_counter()
        self.run("new-session", "-d", "-s", "bench", "-x", "80", "-y", "24", command)
        return started

    def pane_pid(self) -> int:
        return int(self.run("display-message", "-p", "-t", "bench", "#{pane_pid}").strip())

    def wait_for(self, text: str, timeout: float = 60) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if text in self.run("capture-pane", "-p", "-t", "bench"):
                return time.perf_counter()
            time.sleep(0.01)
        raise RuntimeError(f"{text!r} never appeared")

    def stop(self) -> None:
        self.run("kill-server")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def python_child(pane_pid: int) -> int:
    """The app's PID: the pane runs a shell that runs python (or python directly)."""
    children = Path(f"/proc/{pane_pid}/task/{pane_pid}/children").read_text().split()
    return int(children[0]) if children else pane_pid


def first_frame_and_cpu(
    tmux: Tmux, command: str, marker: str, cpu_window: float
) -> tuple[float, float]:
    started = tmux.start(command)
    first_frame = tmux.wait_for(marker) - started
    pid = python_child(tmux.pane_pid())
    time.sleep(3)
    before = cpu_seconds(pid)
    time.sleep(cpu_window)
    used = cpu_seconds(pid) - before
    tmux.run("send-keys", "-t", "bench", "q")
    tmux.run("kill-session", "-t", "bench")
    return first_frame, 100 * used / cpu_window


async def keypress_latency(handle: SandboxHandle, presses: int) -> list[float]:
    from cockpit.app import CockpitApp
    from cockpit.config import load_config
    from cockpit.io.context import SourceContext
    from cockpit.sources.build import build_sources

    config = load_config(handle.config_path)
    sources = build_sources(SourceContext(config, {**os.environ, **handle.env}))
    app = CockpitApp(config=config, sources=sources)
    latencies = []
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.sleep(3)
        for index in range(presses):
            started = time.perf_counter()
            await pilot.press("3" if index % 2 else "1")
            await pilot.pause()
            latencies.append(time.perf_counter() - started)
    return latencies


async def baseline_keypress_latency(presses: int) -> list[float]:
    from textual.app import App
    from textual.binding import Binding
    from textual.widgets import Static

    class Baseline(App[None]):
        BINDINGS = [Binding("1", "show(1)"), Binding("3", "show(3)")]  # noqa: RUF012

        def compose(self):  # type: ignore[no-untyped-def]
            yield Static("panel", id="panel")

        def action_show(self, number: int) -> None:
            self.query_one("#panel", Static).update(f"panel {number}")

    latencies = []
    async with Baseline().run_test(size=(80, 24)) as pilot:
        for index in range(presses):
            started = time.perf_counter()
            await pilot.press("3" if index % 2 else "1")
            await pilot.pause()
            latencies.append(time.perf_counter() - started)
    return latencies


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpu-seconds", type=float, default=60.0)
    parser.add_argument("--presses", type=int, default=40)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed: apt-get install tmux")
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as scratch:
        baseline_script = Path(scratch) / "baseline.py"
        baseline_script.write_text(BASELINE_APP)
        handle = start_sandbox(Path(scratch) / "sandbox")
        tmux = Tmux()
        try:
            env = " ".join(f"{k}={v}" for k, v in handle.env.items())
            base_frame, base_cpu = first_frame_and_cpu(
                tmux, f"{sys.executable} {baseline_script}", "panel 3", args.cpu_seconds
            )
            cockpit = f"env {env} {sys.executable} -m cockpit run -c {handle.config_path}"
            frame, cpu = first_frame_and_cpu(tmux, cockpit, "1 REPL", args.cpu_seconds)
            latencies = asyncio.run(keypress_latency(handle, args.presses))
            base_latencies = asyncio.run(baseline_keypress_latency(args.presses))
        finally:
            tmux.stop()
            handle.stop()
    print(f"time to first frame (tmux 80x24):  cockpit {frame:.2f} s   baseline {base_frame:.2f} s")
    print(
        f"steady CPU over {args.cpu_seconds:.0f} s at 1 Hz:    cockpit {cpu:.1f} %   "
        f"baseline {base_cpu:.1f} % of one core"
    )
    print(f"keypress to repaint, all sources polling: cockpit {summary(latencies)}")
    print(f"keypress to repaint, trivial app:         baseline {summary(base_latencies)}")


if __name__ == "__main__":
    main()
