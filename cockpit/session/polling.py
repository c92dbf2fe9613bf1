"""The sources behind a live session: built on first use, then polled for good or once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cockpit.clock import Clock
from cockpit.live.poller import Poller, ReadingsCallback, poll_all_once
from cockpit.model import Reading
from cockpit.sources.base import Source

SourcesOrMaker = Sequence[Source] | Callable[[], Sequence[Source]]


class SessionSources:
    """The session's sources; a maker is called late, so a screen can appear before they exist."""

    def __init__(self, sources: SourcesOrMaker, clock: Clock) -> None:
        self._sources = sources
        self._clock = clock
        self._built: Sequence[Source] = ()
        self._poller: Poller | None = None

    def start(self, on_readings: ReadingsCallback) -> None:
        """Builds the sources and keeps each one polling until stopped."""
        self._built = self._sources() if callable(self._sources) else self._sources
        self._poller = Poller(self._built, on_readings, self._clock)
        self._poller.start()

    async def stop(self) -> None:
        if self._poller is not None:
            await self._poller.stop()

    async def poll_once(self) -> list[Reading]:
        """One fresh reading of every source started so far (all of a maker's, built now)."""
        if not self._built and callable(self._sources):
            self._built = self._sources()
        return await poll_all_once(list(self._built), self._clock)

    def recheck_integrity(self) -> int:
        """Starts a new run of every background integrity check not running; how many started."""
        from cockpit.sources.background import BackgroundCheck

        checks = [getattr(source, "check", None) for source in self._built]
        return sum(check.start() for check in checks if isinstance(check, BackgroundCheck))

    def recheck_integrity_table(self, table: str) -> bool:
        """Starts checking one database table again; False while a check runs or before any
        finished."""
        from cockpit.sources.integrity_database import DatabaseIntegritySource

        sources = [s for s in self._built if isinstance(s, DatabaseIntegritySource)]
        return any(source.recheck_table(table) for source in sources)
