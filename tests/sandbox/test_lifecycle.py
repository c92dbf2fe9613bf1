"""`cockpit sandbox up/down/status` through the real command line: nothing is left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from cockpit.sandbox.processes import process_alive


def cockpit(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def recorded_pids(directory: Path) -> list[int]:
    pids = json.loads((directory / "pids.json").read_text())
    return [pids["runner"], *pids["children"].values()]


def tcp_endpoints(info: dict[str, Any]) -> list[tuple[str, int]]:
    urls = [
        info["aws"]["endpoint_url"],
        info["http"]["front_door"],
        info["http"]["old"],
        info["http"]["new"],
        info["control_url"],
    ]
    endpoints = [(urlsplit(u).hostname or "", urlsplit(u).port or 0) for u in urls]
    dsns = [info["postgres"]["primary_dsn"], info["postgres"]["replica_dsn"]]
    dsns += [info["logical"]["publisher_dsn"], info["logical"]["subscriber_dsn"]]
    for dsn in dsns:
        fields = dict(part.split("=", 1) for part in dsn.split())
        endpoints.append((fields["host"], int(fields["port"])))
    return endpoints


def udp_endpoints(info: dict[str, Any]) -> list[tuple[str, int]]:
    addresses = [info["dns"]["authoritative"], *info["dns"]["resolvers"]]
    return [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in addresses]


def can_bind(host: str, port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def assert_nothing_left(pids: list[int], info: dict[str, Any]) -> None:
    assert [pid for pid in pids if process_alive(pid)] == []
    busy_tcp = [e for e in tcp_endpoints(info) if not can_bind(*e, socket.SOCK_STREAM)]
    busy_udp = [e for e in udp_endpoints(info) if not can_bind(*e, socket.SOCK_DGRAM)]
    assert busy_tcp == [] and busy_udp == []


def test_up_then_down_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    directory = tmp_path / "box"
    up = cockpit("sandbox", "up", "--dir", directory, "--ttl", "5")
    assert up.returncode == 0, up.stderr + up.stdout
    assert "sandbox up in" in up.stdout
    info = json.loads((directory / "sandbox.json").read_text())
    pids = recorded_pids(directory)
    assert all(process_alive(pid) for pid in pids)
    assert len(pids) >= 5  # runner, primary, replica, publisher, subscriber

    status = cockpit("sandbox", "status", "--dir", directory)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["postgres"]["promoted"] is False

    again = cockpit("sandbox", "up", "--dir", directory)
    assert again.returncode == 1
    assert "already running" in again.stderr

    down = cockpit("sandbox", "down", "--dir", directory)
    assert down.returncode == 0, down.stderr
    assert "stopped runner" in down.stdout
    assert_nothing_left(pids, info)

    repeat = cockpit("sandbox", "down", "--dir", directory)
    assert repeat.returncode == 0
    assert "no sandbox was running" in repeat.stdout
    gone = cockpit("sandbox", "status", "--dir", directory)
    assert gone.returncode == 1
    assert "no sandbox is running" in gone.stderr


def test_ctrl_c_of_a_foreground_up_cleans_up(tmp_path: Path) -> None:
    directory = tmp_path / "fg"
    process = subprocess.Popen(
        [sys.executable, "-m", "cockpit", "sandbox", "up", "--foreground", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        info = _wait_for_control_url(directory, process)
        pids = recorded_pids(directory)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert_nothing_left(pids, info)


def _wait_for_control_url(directory: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            info = json.loads((directory / "sandbox.json").read_text())
        except (OSError, ValueError):
            info = {}
        if info.get("control_url"):
            return info
        time.sleep(0.1)
    raise AssertionError("the foreground sandbox did not come up")


def test_inject_and_status_without_a_sandbox(tmp_path: Path) -> None:
    result = cockpit("sandbox", "inject", "lag-spike", "--dir", tmp_path)
    assert result.returncode == 1
    assert "no sandbox is running" in result.stderr
    assert "Traceback" not in result.stderr


def test_down_after_the_runner_died_stops_every_child_it_recorded(tmp_path: Path) -> None:
    """A runner killed outright leaves postgres, unbound, nginx, knot: `down` ends each by PID."""
    directory = tmp_path / "orphans"
    up = cockpit("sandbox", "up", "--dir", directory, "--ttl", "5")
    assert up.returncode == 0, up.stderr + up.stdout
    info = json.loads((directory / "sandbox.json").read_text())
    pids = json.loads((directory / "pids.json").read_text())
    children = pids["children"]
    assert set(children) == set(pids["markers"])
    runner = pids["runner"]
    try:
        os.kill(runner, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while process_alive(runner) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_alive(runner)
        assert all(process_alive(pid) for pid in children.values())
    finally:
        down = cockpit("sandbox", "down", "--dir", directory)
    assert down.returncode == 0, down.stderr
    for name in children:
        assert name in down.stdout
    assert [name for name, pid in children.items() if process_alive(pid)] == []
    assert_nothing_left([runner, *children.values()], info)
    assert pids["scratch_folders"], "knot and unbound each have a folder outside the sandbox's"
    assert [folder for folder in pids["scratch_folders"] if Path(folder).exists()] == []


def test_a_server_whose_port_was_taken_is_started_again_on_new_ports() -> None:
    from cockpit.sandbox.runner import started_on_free_ports
    from cockpit.sandbox.shared import SandboxError

    tries: list[int] = []

    def start() -> str:
        tries.append(len(tries))
        if len(tries) < 3:
            raise SandboxError("Address already in use")
        return "listening"

    assert started_on_free_ports(start) == "listening" and len(tries) == 3
    tries.clear()
    with pytest.raises(SandboxError):
        started_on_free_ports(start, attempts=2)
    assert len(tries) == 2
