"""The poller: timeouts, no overlap, backoff, and failures turned into readings.

The sources here are scripted stand-ins at our own Source protocol boundary; the real
sources are tested against the sandbox in tests/sources/.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from cockpit.clock import FrozenClock
from cockpit.live.poller import Poller, next_delay_seconds, poll_all_once, poll_once
from cockpit.model import Reading, SignalKind, Status
from cockpit.sources.base import Schedule, make_reading

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


class ScriptedSource:
    """Answers each read() from a script: a value to return, an exception, or a delay."""

    kind = SignalKind.REPLICATION

    def __init__(self, *steps: object, timeout: float = 0.2, interval: float = 0.01) -> None:
        self.name = "scripted"
        self.schedule = Schedule(interval, timeout, 5.0)
        self.signal_ids = ("scripted:a", "scripted:b")
        self._steps = list(steps)
        self.reads_started = 0
        self.in_flight = 0
        self.max_in_flight = 0

    async def read(self) -> list[Reading]:
        self.reads_started += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            step = self._steps.pop(0) if self._steps else "ok"
            if isinstance(step, float):
                await asyncio.sleep(step)
                step = "ok"
            if isinstance(step, BaseException):
                raise step
            return [make_reading(self, "scripted:a", Status.OK, T0, "fine", {"n": 1})]
        finally:
            self.in_flight -= 1


async def test_a_good_poll_returns_its_readings() -> None:
    readings, succeeded = await poll_once(ScriptedSource("ok"), FrozenClock(T0))
    assert succeeded
    assert [(r.signal_id, r.status) for r in readings] == [("scripted:a", Status.OK)]
    assert readings[0].stale_after_seconds == 5.0


async def test_an_exception_becomes_unknown_readings_for_every_signal() -> None:
    source = ScriptedSource(ConnectionRefusedError(111, "Connection refused"))
    readings, succeeded = await poll_once(source, FrozenClock(T0))
    assert not succeeded
    assert [(r.signal_id, r.status, r.detail) for r in readings] == [
        ("scripted:a", Status.UNKNOWN, "connection refused"),
        ("scripted:b", Status.UNKNOWN, "connection refused"),
    ]
    assert readings[0].observed_at == T0


async def test_a_slow_read_times_out() -> None:
    readings, succeeded = await poll_once(ScriptedSource(1.0, timeout=0.05), FrozenClock(T0))
    assert not succeeded
    assert {r.detail for r in readings} == {"timeout after 0.05 s"}


async def test_a_slow_source_never_runs_two_polls_at_once() -> None:
    source = ScriptedSource(0.3, 0.3, timeout=0.05, interval=0.01)
    seen: list[list[Reading]] = []
    poller = Poller([source], seen.append, FrozenClock(T0))
    poller.start()
    await asyncio.sleep(0.5)
    await poller.stop()
    assert source.max_in_flight == 1
    assert any(r.detail == "timeout after 0.05 s" for batch in seen for r in batch)


async def test_cancellation_is_not_swallowed() -> None:
    source = ScriptedSource(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await poll_once(source, FrozenClock(T0))


async def test_poll_all_once_keeps_sources_apart() -> None:
    good, bad = ScriptedSource("ok"), ScriptedSource(TimeoutError())
    bad.signal_ids = ("other",)
    readings = await poll_all_once([good, bad], FrozenClock(T0))
    assert {(r.signal_id, r.status) for r in readings} == {
        ("scripted:a", Status.OK),
        ("other", Status.UNKNOWN),
    }


def test_backoff_doubles_after_failures_and_is_capped() -> None:
    assert next_delay_seconds(2.0, 0) == 2.0
    assert [next_delay_seconds(2.0, n) for n in (1, 2, 3)] == [4.0, 8.0, 16.0]
    assert next_delay_seconds(2.0, 20) == 60.0
    assert next_delay_seconds(120.0, 3) == 120.0


async def test_poller_backs_off_after_failures() -> None:
    failing = ScriptedSource(*[OSError(5, "I/O error")] * 50, interval=0.02)
    poller = Poller([failing], lambda _: None, FrozenClock(T0))
    poller.start()
    await asyncio.sleep(0.5)
    await poller.stop()
    # 0.02, 0.04, 0.08, 0.16, 0.32 ... : five or six reads in half a second, not 25.
    assert 3 <= failing.reads_started <= 7
