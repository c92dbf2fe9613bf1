"""Bounded lanes of threads for blocking calls, one lane per family (AWS service, say).

A hung endpoint then stalls only its own lane: other families keep their threads, and the
lane's next caller hears at once that the previous call has not come back, instead of
queueing yet another thread behind it. Lane threads are daemons, so a process that is done
(`cockpit check`) never waits for a call nobody is listening to any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cockpit.io.failures import SourceProblem

T = TypeVar("T")

_this_thread = threading.local()


@dataclass
class CallBudget:
    """How long the call running in this thread may take in all, and when that runs out.

    last_error: the newest failed attempt's error, so a call still retrying when its time is
    up is reported by what went wrong (throttled, say) rather than as a bare timeout.
    """

    seconds: float
    deadline: float
    last_error: BaseException | None = None

    def remaining_seconds(self) -> float:
        return self.deadline - time.monotonic()


def current_budget() -> CallBudget | None:
    """The budget of the lane call running in this thread; None outside a lane."""
    budget = getattr(_this_thread, "budget", None)
    return budget if isinstance(budget, CallBudget) else None


@dataclass
class _Call:
    """One call in flight: since when, and until when its caller waits for it."""

    started: float
    deadline: float


class Lane:
    """At most `max_threads` blocking calls of one family at a time, each within its budget."""

    def __init__(self, label: str, max_threads: int) -> None:
        self.label = label
        self._max_threads = max(1, max_threads)
        self._lock = threading.Lock()
        self._in_flight: list[_Call] = []
        self._slot_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def in_flight(self) -> int:
        """How many calls are running now (finished or not, their callers may have gone)."""
        with self._lock:
            return len(self._in_flight)

    async def run(
        self,
        work: Callable[..., T],
        *args: Any,
        within_seconds: float,
        late_text: str | None = None,
        **kwargs: Any,
    ) -> T:
        """work(*args, **kwargs) in a lane thread; SourceProblem when it cannot answer in time.

        The problem's text is `late_text` when given, else "no answer from <label> within N s".
        """
        deadline = time.monotonic() + within_seconds
        call = await self._take_slot(deadline, within_seconds)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        answer.add_done_callback(_consume)
        bound = functools.partial(work, *args, **kwargs)
        budget = CallBudget(within_seconds, deadline)
        thread = threading.Thread(
            target=self._run_in_thread,
            args=(call, bound, budget, loop, answer),
            name=f"lane {self.label}",
            daemon=True,
        )
        thread.start()
        try:
            return await asyncio.wait_for(asyncio.shield(answer), _left(deadline))
        except TimeoutError:
            if budget.last_error is not None:
                raise budget.last_error from None
            raise SourceProblem(late_text or self._no_answer_text(within_seconds)) from None

    def _no_answer_text(self, within_seconds: float) -> str:
        return f"no answer from {self.label} within {within_seconds:g} s"

    async def _take_slot(self, deadline: float, within_seconds: float) -> _Call:
        """A free place in the lane; refuses at once when a call there is overdue."""
        while True:
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            with self._lock:
                now = time.monotonic()
                if len(self._in_flight) < self._max_threads:
                    call = _Call(started=now, deadline=deadline)
                    self._in_flight.append(call)
                    return call
                self._refuse_when_stuck(now)
                self._slot_waiters.append((loop, waiter))
            try:
                await asyncio.wait_for(waiter, _left(deadline))
            except TimeoutError:
                raise SourceProblem(self._no_answer_text(within_seconds)) from None

    def _refuse_when_stuck(self, now: float) -> None:
        """Raises when the oldest call in flight is past the time its caller gave it."""
        oldest = min(self._in_flight, key=lambda call: call.started)
        if oldest.deadline < now:
            raise SourceProblem(
                f"{self.label}: the previous call has not come back after "
                f"{now - oldest.started:.0f} s; not sending another until it does"
            )

    def _run_in_thread(
        self,
        call: _Call,
        work: Callable[[], T],
        budget: CallBudget,
        loop: asyncio.AbstractEventLoop,
        answer: asyncio.Future[T],
    ) -> None:
        _this_thread.budget = budget
        try:
            outcome: tuple[T | None, BaseException | None] = (work(), None)
        except BaseException as error:  # handed to the caller, never lost
            outcome = (None, error)
        finally:
            _this_thread.budget = None
            self._release(call)
        _deliver(loop, answer, outcome)

    def _release(self, call: _Call) -> None:
        with self._lock:
            self._in_flight.remove(call)
            waiters, self._slot_waiters = self._slot_waiters, []
        for loop, waiter in waiters:
            _deliver(loop, waiter, (None, None))


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _deliver(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    outcome: tuple[Any, BaseException | None],
) -> None:
    """Settles `future` on its loop from any thread; a closed loop has nobody left to tell."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future[Any], outcome: tuple[Any, BaseException | None]) -> None:
    if future.done():
        return
    value, error = outcome
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _consume(future: asyncio.Future[Any]) -> None:
    """Reads a late answer's outcome so asyncio does not warn that it was never retrieved."""
    if not future.cancelled():
        future.exception()
