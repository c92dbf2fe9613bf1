"""A hung AWS endpoint stalls only the AWS panels: HTTP targets and access logs read on.

The hung endpoint is real TCP on loopback: a listener that accepts connections and never
answers, set as [aws] endpoint_url beside the sandbox's plain-HTTP targets and access logs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from cockpit.config import load_config
from cockpit.io.context import SourceContext
from cockpit.io.failures import SourceProblem
from cockpit.io.lanes import Lane
from cockpit.live.poller import poll_all_once
from cockpit.sandbox.files import cockpit_config
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sources.build import aws_services_in_use, build_sources
from tests.aws_stand_ins import HungEndpoint, hung_endpoint

HTTP_SIGNALS = ("targets:app-old", "targets:app-new")
ACCESS_LOG_SIGNALS = ("errors:access_log:old", "errors:access_log:new")
AWS_SIGNALS = (
    "targets:tg-old",
    "targets:tg-new",
    "traffic",
    "errors:cloudwatch:old",
    "errors:cloudwatch:new",
)


@pytest.fixture
def hung() -> Iterator[HungEndpoint]:
    with hung_endpoint() as endpoint:
        yield endpoint


def config_with_aws_at(sandbox: SandboxHandle, endpoint_url: str, folder: Path) -> Path:
    """The sandbox's own config, every AWS call sent to `endpoint_url`."""
    config = cockpit_config(sandbox.info)
    config["aws"] = {**config["aws"], "endpoint_url": endpoint_url}
    config["journal"] = {"dir": str(folder / "journal")}
    path = folder / "cockpit.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def check_json(sandbox: SandboxHandle, config: Path) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "check", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **sandbox.env},
    )
    return result.returncode, json.loads(result.stdout)


def by_signal(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {reading["signal"]: reading for reading in document["readings"]}


def test_check_with_a_hung_aws_endpoint_keeps_http_and_access_logs(
    sandbox: SandboxHandle, hung: HungEndpoint, tmp_path: Path
) -> None:
    code, document = check_json(sandbox, config_with_aws_at(sandbox, hung.url, tmp_path))
    readings = by_signal(document)
    assert code in (1, 2)
    for signal in HTTP_SIGNALS:
        assert readings[signal]["status"] == "ok", readings[signal]["detail"]
    for signal in ACCESS_LOG_SIGNALS:
        assert "error" not in readings[signal]["values"], readings[signal]["detail"]
        assert "timeout" not in readings[signal]["detail"]
    endpoint = hung.url.removeprefix("http://")
    for signal in AWS_SIGNALS:
        assert readings[signal]["status"] == "unknown"
        assert endpoint in readings[signal]["detail"], readings[signal]["detail"]
    assert hung.accepted > 0


async def test_polls_with_a_hung_aws_endpoint_never_queue_behind_it(
    sandbox: SandboxHandle, hung: HungEndpoint, tmp_path: Path
) -> None:
    """Poll after poll, AWS readings say why and the HTTP targets stay OK."""
    config = load_config(config_with_aws_at(sandbox, hung.url, tmp_path))
    context = SourceContext(config, environ={**os.environ, **sandbox.env})
    sources = build_sources(context)
    await context.prepare_aws(aws_services_in_use(config))
    endpoint = hung.url.removeprefix("http://")
    for _ in range(3):
        readings = {r.signal_id: r for r in await poll_all_once(sources)}
        for signal in HTTP_SIGNALS:
            assert readings[signal].status.value == "ok", readings[signal].detail
        for signal in AWS_SIGNALS:
            assert endpoint in readings[signal].detail, readings[signal].detail
    lanes_in_use = [context.aws_lane(service) for service in ("route53", "elbv2", "cloudwatch")]
    assert all(lane.in_flight <= 4 for lane in lanes_in_use)


class Gate:
    """Blocking work that holds its thread until the test opens the gate."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self.entered = threading.Semaphore(0)

    def hold(self) -> str:
        self.entered.release()
        self._open.wait(timeout=60)
        return "came back"

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def gate() -> Iterator[Gate]:
    held = Gate()
    try:
        yield held
    finally:
        held.open()


async def test_a_call_that_outlives_its_budget_is_reported_by_endpoint(gate: Gate) -> None:
    lane = Lane("AWS route53 at http://127.0.0.1:9", max_threads=1)
    with pytest.raises(SourceProblem, match=r"no answer from AWS route53 at http://127.0.0.1:9"):
        await lane.run(gate.hold, within_seconds=0.2)


async def test_a_stuck_lane_refuses_at_once_instead_of_queueing(gate: Gate) -> None:
    lane = Lane("AWS elbv2 at http://127.0.0.1:9", max_threads=1)
    with pytest.raises(SourceProblem):
        await lane.run(gate.hold, within_seconds=0.1)
    with pytest.raises(SourceProblem, match="previous call has not come back"):
        await lane.run(gate.hold, within_seconds=60)
    assert lane.in_flight == 1
    gate.open()
    assert await until_true(lambda: lane.in_flight == 0)
    assert await lane.run(str.upper, "free again", within_seconds=5) == "FREE AGAIN"


async def test_a_stuck_lane_leaves_other_lanes_alone(gate: Gate) -> None:
    stuck = Lane("AWS cloudwatch", max_threads=1)
    other = Lane("AWS rds", max_threads=1)
    held = asyncio.ensure_future(stuck.run(gate.hold, within_seconds=30))
    await asyncio.to_thread(gate.entered.acquire)
    assert await other.run(sum, [1, 2, 3], within_seconds=5) == 6
    gate.open()
    assert await held == "came back"


async def test_a_full_lane_waits_for_a_slot_while_no_call_is_overdue(gate: Gate) -> None:
    lane = Lane("AWS elbv2", max_threads=1)
    first = asyncio.ensure_future(lane.run(gate.hold, within_seconds=30))
    await asyncio.to_thread(gate.entered.acquire)
    second = asyncio.ensure_future(lane.run(len, "four", within_seconds=30))
    gate.open()
    assert (await first, await second) == ("came back", 4)


async def until_true(condition: Any, within_seconds: float = 10.0) -> bool:
    """Waits for `condition()` by yielding to the loop, never by a fixed sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True
