"""Scripted key timing for UI tests: a clock moved by hand, and waits that wait for a condition.

Key times are never waited for in real time: a test moves the clock past the quiet time or the
settle time, then lets the app run until what should follow has happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.pilot import Pilot

from cockpit.deliberate_input import QUIET_BEFORE_SECONDS, SETTLE_SECONDS

PAUSE_SECONDS = QUIET_BEFORE_SECONDS + 0.4
SETTLED_SECONDS = SETTLE_SECONDS + 0.5
TYPING_GAP_SECONDS = 0.05
CONDITION_LIMIT_SECONDS = 45.0


class KeyClock:
    """Monotonic seconds that stand still until `advance` moves them."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


async def until(condition: Callable[[], bool], what: str) -> None:
    """Lets the app run until `condition` holds; fails naming `what` after a generous limit."""
    deadline = time.monotonic() + CONDITION_LIMIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def press_alone(pilot: Pilot[None], clock: KeyClock, key: str) -> None:
    """A key pressed on its own, after a pause longer than the quiet time."""
    clock.advance(PAUSE_SECONDS)
    await pilot.press(key)


async def type_keys(pilot: Pilot[None], clock: KeyClock, *keys: str) -> None:
    """Keys typed briskly, each a short gap after the one before."""
    for key in keys:
        clock.advance(TYPING_GAP_SECONDS)
        await pilot.press(key)
