"""A long check run in its own thread while its source keeps polling what it has got so far.

An integrity check takes minutes, not a poll's second: its source starts it, then each poll
reads the progress and, once done, the result, without ever waiting on it. One run at a time;
a new run keeps the last result until it finishes, so the screen never goes blank.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast

from cockpit.clock import Clock
from cockpit.jsonvalue import JsonValue
from cockpit.outside import outside_text

FAILURE_CHARS = 300
Result = TypeVar("Result")
Progress = TypeVar("Progress")

Work = Callable[[threading.Event, Callable[[Progress], None]], Result]
"""The blocking check: it gets a cancel event and a progress callback, and returns its result."""


@dataclass(frozen=True)
class CheckState(Generic[Result, Progress]):
    """What a poll sees: whether a run is going, its progress, and the last finished result."""

    running: bool
    started_at: datetime | None
    progress: Progress | None
    last_result: Result | None
    failure: str | None
    result_started_at: datetime | None = None
    """When the run that gave last_result started (a check since writes stopped must start
    after them)."""


class BackgroundCheck(Generic[Result, Progress]):
    """Runs `work` in a daemon thread on request; thread-safe snapshots of how it is going."""

    def __init__(self, name: str, work: Work[Progress, Result], clock: Clock) -> None:
        self._name = name
        self._work = work
        self._clock = clock
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at: datetime | None = None
        self._progress: Progress | None = None
        self._result: Result | None = None
        self._result_started_at: datetime | None = None
        self._failure: str | None = None

    def start(self, work: Work[Progress, Result] | None = None) -> bool:
        """Starts a run (of `work` this once, else the check's own) unless one is going; True
        when it started one."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._cancel = threading.Event()
            self._started_at, self._progress, self._failure = self._clock(), None, None
            run = functools.partial(self._run, work or self._work)
            self._thread = threading.Thread(target=run, name=self._name, daemon=True)
            self._thread.start()
            return True

    def started_state(self) -> CheckState[Result, Progress]:
        """The state, after starting the first run if none has ever started (a source's poll)."""
        if self.state().started_at is None:
            self.start()
        return self.state()

    def cancel(self) -> None:
        """Asks the running check to stop at its next chance."""
        self._cancel.set()

    def state(self) -> CheckState[Result, Progress]:
        with self._lock:
            running = self._thread is not None and self._thread.is_alive()
            return CheckState(
                running,
                self._started_at,
                self._progress,
                self._result,
                self._failure,
                self._result_started_at,
            )

    def wait(self, timeout_seconds: float | None = None) -> bool:
        """Blocks until the running check ends (for the command line); True when it ended."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_seconds)
        return thread is None or not thread.is_alive()

    def _run(self, work: Work[Progress, Result]) -> None:
        try:
            result = work(self._cancel, self._report)
        except Exception as error:  # the check's own bug: say so, keep the last result
            with self._lock:
                self._failure = outside_text(f"{type(error).__name__}: {error}", FAILURE_CHARS)
            return
        with self._lock:
            self._result, self._result_started_at = result, self._started_at

    def _report(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress


class Judged(Protocol):
    """A finished check's result: it says OK, DIFFERENT or UNCHECKED."""

    @property
    def status(self) -> str: ...


def verdict_values(state: CheckState[Any, Any]) -> dict[str, JsonValue]:
    """The last result's verdict and when its run started, as plain values every reader of the
    reading (guards, overview) can use without parsing the whole result."""
    result = state.last_result
    started = state.result_started_at
    return {
        "verdict": "UNCHECKED" if result is None else str(cast(Judged, result).status),
        "result_started_at": None if started is None else started.isoformat(),
    }
