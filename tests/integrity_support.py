"""Polling an integrity source the way the cockpit does, until its background check is done."""

from __future__ import annotations

import asyncio
import time

import pytest

from cockpit.model import Reading
from cockpit.sources.base import Source
from cockpit.sources.integrity_values import DATABASE_SIGNAL_ID, BucketValues, DatabaseValues

WAIT_SECONDS = 60.0


def finished(reading: Reading) -> bool:
    """A result is there and no run is going."""
    if reading.signal_id == DATABASE_SIGNAL_ID:
        database = DatabaseValues.from_reading(reading)
        return database.result is not None and not database.running
    bucket = BucketValues.from_reading(reading)
    return bucket.result is not None and not bucket.running


def poll_until_done(source: Source) -> list[Reading]:
    """Every reading until the check has finished; fails naming the last one after a bound."""

    async def poll() -> list[Reading]:
        seen: list[Reading] = []
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            (reading,) = await source.read()
            seen.append(reading)
            if finished(reading):
                return seen
            await asyncio.sleep(0.05)
        pytest.fail(f"no result within {WAIT_SECONDS} s; last: {seen[-1].detail}")

    return asyncio.run(poll())
