"""Starting a sandbox in the background, finding it again, and stopping exactly what it started."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cockpit.sandbox.control import ControlClient
from cockpit.sandbox.files import COCKPIT_TOML, SANDBOX_JSON, read_sandbox_json
from cockpit.sandbox.pg_server import DATA_ROOT_PREFIX
from cockpit.sandbox.processes import cmdline_has, process_alive, process_start_ticks
from cockpit.sandbox.runner import SCRATCH_PREFIX, SandboxOptions
from cockpit.sandbox.shared import SandboxError

RUNNER_MODULE = "cockpit.sandbox.runner_process"
LOG_NAME = "sandbox.log"
STARTUP_TIMEOUT_SECONDS = 120.0


@dataclass
class SandboxHandle:
    """A running sandbox: where it is, its endpoints, and its controls."""

    directory: Path
    info: dict[str, Any]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def client(self) -> ControlClient:
        return ControlClient(str(self.info["control_url"]))

    @property
    def config_path(self) -> Path:
        return self.directory / COCKPIT_TOML

    @property
    def env(self) -> dict[str, str]:
        """Environment a cockpit process needs to talk to this sandbox (password, dummy keys)."""
        return {str(k): str(v) for k, v in self.info.get("env", {}).items()}

    def stop(self) -> list[str]:
        return stop_sandbox(self.directory, process=self.process)


def start_sandbox(
    directory: Path,
    options: SandboxOptions | None = None,
    *,
    timeout_seconds: float = STARTUP_TIMEOUT_SECONDS,
) -> SandboxHandle:
    """Starts the runner in its own session and waits until every stand-in answers."""
    missing = missing_sandbox_extra()
    if missing is not None:
        raise SandboxError(missing)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    running = _live_runner_pid(directory)
    if running is not None:
        raise SandboxError(
            f"a sandbox is already running in {directory} (pid {running}); "
            f"stop it with `cockpit sandbox down --dir {directory}`"
        )
    (directory / SANDBOX_JSON).unlink(missing_ok=True)
    process = _spawn_runner(directory, options or SandboxOptions())
    try:
        info = _await_ready(directory, process, timeout_seconds)
    except BaseException:
        stop_sandbox(directory, process=process)
        raise
    return SandboxHandle(directory, info, process)


SANDBOX_EXTRA_MODULES = ("moto",)
"""What the `sandbox` extra installs: moto's server, the AWS stand-in."""


def missing_sandbox_extra() -> str | None:
    """What to run when the sandbox's own packages are not installed; None when they are."""
    missing = [name for name in SANDBOX_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"the sandbox needs the `sandbox` extra ({', '.join(missing)}, the AWS stand-in), "
        "which is not installed. Add it with: pipx install --force 'cutover-cockpit[sandbox]' "
        "(or, in this virtualenv: pip install 'cutover-cockpit[sandbox]'; from a checkout: "
        "pip install '.[sandbox]')"
    )


def _spawn_runner(directory: Path, options: SandboxOptions) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", RUNNER_MODULE, str(directory)]
    command += ["--options", json.dumps(asdict(options))]
    with (directory / LOG_NAME).open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _await_ready(
    directory: Path, process: subprocess.Popen[bytes], timeout_seconds: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxError(
                f"the sandbox did not start (exit {process.returncode}):\n{log_tail(directory)}"
            )
        info = _ready_info(directory)
        if info is not None:
            return info
        time.sleep(0.1)
    raise SandboxError(
        f"the sandbox did not come up within {timeout_seconds:.0f} s:\n{log_tail(directory)}"
    )


def _ready_info(directory: Path) -> dict[str, Any] | None:
    try:
        info = read_sandbox_json(directory)
    except SandboxError:
        return None
    return info if info.get("control_url") else None


def log_tail(directory: Path, lines: int = 15) -> str:
    try:
        text = (directory / LOG_NAME).read_text(errors="replace")
    except OSError:
        return "(no sandbox.log)"
    return "\n".join("  " + line for line in text.splitlines()[-lines:])


def find_sandbox(directory: Path) -> SandboxHandle:
    """The sandbox running in `directory`; SandboxError when none is."""
    directory = directory.resolve()
    if _live_runner_pid(directory) is None:
        raise SandboxError(
            f"no sandbox is running in {directory}; start one with "
            f"`cockpit sandbox up --dir {directory}`"
        )
    return SandboxHandle(directory, read_sandbox_json(directory))


# --- stopping by PID ------------------------------------------------------------------------


def stop_sandbox(
    directory: Path, *, process: subprocess.Popen[bytes] | None = None, timeout_seconds: float = 30
) -> list[str]:
    """Stops the runner, then any child it left behind, by recorded PID; safe to repeat."""
    directory = directory.resolve()
    pids = _read_pids(directory)
    stopped: list[str] = []
    runner = _live_runner_pid(directory)
    if runner is not None:
        _ask_runner_to_stop(directory)
        _end_process(runner, signal.SIGTERM, timeout_seconds, process)
        stopped.append(f"runner (pid {runner})")
    elif process is not None and process.poll() is None:
        _end_process(process.pid, signal.SIGTERM, timeout_seconds, process)
        stopped.append(f"runner (pid {process.pid})")
    stopped += _end_children(pids)
    for key in ("postgres_data_root", "logical_data_root"):
        _remove_folder(pids.get(key), DATA_ROOT_PREFIX)
    for folder in pids.get("scratch_folders") or []:
        _remove_folder(folder, SCRATCH_PREFIX)
    for name in (SANDBOX_JSON, "pids.json", "runner.pid"):
        (directory / name).unlink(missing_ok=True)
    return stopped


def _ask_runner_to_stop(directory: Path) -> None:
    info = _ready_info(directory)
    if info is None:
        return
    with contextlib.suppress(SandboxError):
        ControlClient(str(info["control_url"]), timeout_seconds=5).request_stop()


def _end_children(pids: dict[str, Any]) -> list[str]:
    stopped = []
    markers = pids.get("markers") or {}
    data_root = str(pids.get("postgres_data_root") or "")
    for name, pid in (pids.get("children") or {}).items():
        marker = str(markers.get(name) or (data_root if name.startswith("postgres") else ""))
        if isinstance(pid, int) and marker and process_alive(pid) and cmdline_has(pid, marker):
            # SIGQUIT is PostgreSQL's immediate shutdown; unbound, nginx and knot end on SIGTERM.
            signum = signal.SIGQUIT if name.startswith("postgres") else signal.SIGTERM
            _end_process(pid, signum, 10, None)
            stopped.append(f"{name} (pid {pid})")
    return stopped


def _end_process(
    pid: int, signum: int, timeout_seconds: float, process: subprocess.Popen[bytes] | None
) -> None:
    """Signals one process and waits for it to go; SIGKILL if it will not."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
    if _wait_gone(pid, timeout_seconds, process):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _wait_gone(pid, 5, process)


def _wait_gone(pid: int, timeout_seconds: float, process: subprocess.Popen[bytes] | None) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process is not None and process.pid == pid:
            if process.poll() is not None:
                return True
        elif not process_alive(pid):
            return True
        time.sleep(0.05)
    return False


def _live_runner_pid(directory: Path) -> int | None:
    try:
        pid_text, ticks_text = (directory / "runner.pid").read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    same_process = str(process_start_ticks(pid)) == ticks_text
    return pid if same_process and process_alive(pid) else None


def _read_pids(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / "pids.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remove_folder(folder: object, prefix: str) -> None:
    """Removes a folder the sandbox recorded, only if its name is one the sandbox gives."""
    if isinstance(folder, str) and Path(folder).name.startswith(prefix):
        shutil.rmtree(folder, ignore_errors=True)
