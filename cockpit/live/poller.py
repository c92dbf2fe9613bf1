"""Runs every source on its own schedule: timeout, no overlap, backoff; failures become readings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from cockpit.clock import Clock, system_clock
from cockpit.io.failures import describe_failure
from cockpit.model import Reading
from cockpit.sources.base import Source, failure_readings

ReadingsCallback = Callable[[list[Reading]], None]

MAX_BACKOFF_SECONDS = 60.0
# Loop turns a timed-out read gets to finish work that is already due (see _settled).
SETTLE_TURNS = 20


def next_delay_seconds(interval_seconds: float, consecutive_failures: int) -> float:
    """The interval while healthy; doubling after each failure, capped."""
    if consecutive_failures == 0:
        return interval_seconds
    cap = max(MAX_BACKOFF_SECONDS, interval_seconds)
    return float(min(cap, interval_seconds * 2**consecutive_failures))


async def poll_once(
    source: Source, clock: Clock = system_clock, on_timeout: ReadingsCallback | None = None
) -> tuple[list[Reading], bool]:
    """One poll within the source's timeout: (readings, succeeded). Never raises an Exception.

    On timeout the timeout readings go out at once (through on_timeout when given) and the
    read is still awaited, so a slow source never runs two polls at the same time.
    """
    timeout = source.schedule.timeout_seconds
    task = asyncio.ensure_future(source.read())
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done and not await _settled(task):
        timed_out = failure_readings(source, f"timeout after {timeout:g} s", clock)
        if on_timeout is None:
            task.add_done_callback(_consume)
            return timed_out, False
        on_timeout(timed_out)
        await asyncio.wait({task})
        _consume(task)
        return [], False
    error = task.exception()
    if error is not None:
        reason = describe_failure(error, timeout_seconds=timeout)
        return failure_readings(source, reason, clock), False
    return task.result(), True


async def _settled(task: asyncio.Future[list[Reading]]) -> bool:
    """Whether the task ends within a few turns of the loop, without waiting on anything.

    A source's own deadline falls before the poll's; when a busy host wakes the loop late,
    both are due at once, and the source's reason (naming its endpoint) should win.
    """
    for _ in range(SETTLE_TURNS):
        if task.done():
            return True
        await asyncio.sleep(0)
    return task.done()


def _consume(task: asyncio.Future[list[Reading]]) -> None:
    """Reads a late task's outcome so asyncio does not warn that it was never retrieved."""
    if not task.cancelled():
        task.exception()


async def poll_all_once(sources: Sequence[Source], clock: Clock = system_clock) -> list[Reading]:
    """Every source once, concurrently (what `cockpit check` shows)."""
    results = await asyncio.gather(*(poll_once(source, clock) for source in sources))
    return [reading for readings, _ in results for reading in readings]


class Poller:
    """Keeps every source polling until stopped, handing readings to one callback."""

    def __init__(
        self, sources: Sequence[Source], on_readings: ReadingsCallback, clock: Clock = system_clock
    ) -> None:
        self._sources = list(sources)
        self._on_readings = on_readings
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Starts one task per source on the running event loop."""
        self._tasks = [asyncio.create_task(self._keep_polling(s)) for s in self._sources]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _keep_polling(self, source: Source) -> None:
        consecutive_failures = 0
        while True:
            started = time.monotonic()
            readings, succeeded = await poll_once(source, self._clock, self._on_readings)
            if readings:
                self._on_readings(readings)
            consecutive_failures = 0 if succeeded else consecutive_failures + 1
            delay = next_delay_seconds(source.schedule.interval_seconds, consecutive_failures)
            await asyncio.sleep(max(0.0, delay - (time.monotonic() - started)))
