"""A steady stream of real HTTP requests through the front door."""

from __future__ import annotations

import contextlib
import http.client
import math
import queue
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from cockpit.sandbox.http import parse_loopback_url
from cockpit.sandbox.shared import SandboxError

CONNECTION_FAILED = 0
_IDLE_POLL_SECONDS = 0.1


class TrafficGenerator:
    """Steady requests through the front door, so error counts and latencies come from real ones.

    A scheduler thread hands paths to a few workers at the rate; when every worker is busy the
    tick is dropped, so slow responses lower the rate instead of piling requests up.
    """

    def __init__(
        self,
        url: str,
        *,
        rate_per_second: float = 20.0,
        paths: Sequence[str] = ("/", "/shop", "/cart", "/api/orders"),
        user_agent: str = "cockpit-traffic/0.1",
        rng: random.Random | None = None,
        request_timeout_seconds: float = 5.0,
        workers: int = 8,
    ) -> None:
        if not paths:
            raise SandboxError("the traffic generator needs at least one path to request")
        if workers < 1:
            raise SandboxError(f"the traffic generator needs at least one worker, not {workers}")
        self._target = parse_loopback_url(url)
        self._rate = _checked_rate(rate_per_second)
        self._paths = tuple(paths)
        self._user_agent = user_agent
        self._rng = rng or random.Random()
        self._timeout_seconds = request_timeout_seconds
        self._worker_count = workers
        self._lock = threading.Lock()
        self._counts: Counter[int] = Counter()
        self._in_flight: set[http.client.HTTPConnection] = set()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._tickets: queue.Queue[str] = queue.Queue(maxsize=workers)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Begin sending; the counts start again from zero."""
        with self._lock:
            if self._threads:
                return
            self._counts.clear()
            self._stopping.clear()
            self._tickets = queue.Queue(maxsize=self._worker_count)
            workers = [self._thread(self._work, f"worker-{n}") for n in range(self._worker_count)]
            self._threads = [self._thread(self._schedule, "scheduler"), *workers]
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        """Stop sending, cut requests in flight short and wait for the threads to end."""
        with self._lock:
            self._stopping.set()
            threads, self._threads = self._threads, []
            for connection in self._in_flight:
                _interrupt(connection)
        self._wake.set()
        for thread in threads:
            thread.join()

    def counts(self) -> dict[int, int]:
        """Responses seen by status code since start (0 for connection failures and timeouts)."""
        with self._lock:
            return dict(self._counts)

    def set_rate(self, rate_per_second: float) -> None:
        """Change the request rate (0 pauses); takes effect at once."""
        self._rate = _checked_rate(rate_per_second)
        self._wake.set()

    def _thread(self, target: Callable[[], None], role: str) -> threading.Thread:
        return threading.Thread(target=target, name=f"traffic-{role}", daemon=True)

    def _schedule(self) -> None:
        last_due: float | None = None
        while not self._stopping.is_set():
            rate = self._rate
            if rate <= 0:
                self._nap(_IDLE_POLL_SECONDS)
                continue
            interval, now = 1.0 / rate, time.monotonic()
            due = now if last_due is None else last_due + interval
            if due > now:
                self._nap(due - now)
                continue
            self._offer(self._rng.choice(self._paths))
            last_due = due if now - due < interval else now

    def _nap(self, seconds: float) -> None:
        """Sleep until the next tick, or until set_rate() or stop() wakes the scheduler."""
        self._wake.wait(seconds)
        self._wake.clear()

    def _offer(self, path: str) -> None:
        with contextlib.suppress(queue.Full):
            self._tickets.put_nowait(path)

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                path = self._tickets.get(timeout=_IDLE_POLL_SECONDS)
            except queue.Empty:
                continue
            self._count(self._fetch(path))

    def _fetch(self, path: str) -> int:
        connection = http.client.HTTPConnection(*self._target, timeout=self._timeout_seconds)
        try:
            connection.connect()
            if not self._track(connection):
                return CONNECTION_FAILED
            connection.request("GET", path, headers={"User-Agent": self._user_agent})
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return CONNECTION_FAILED
        finally:
            with self._lock:
                self._in_flight.discard(connection)
            connection.close()

    def _track(self, connection: http.client.HTTPConnection) -> bool:
        with self._lock:
            if self._stopping.is_set():
                return False
            self._in_flight.add(connection)
            return True

    def _count(self, status: int) -> None:
        with self._lock:
            if not self._stopping.is_set():
                self._counts[status] += 1


def _interrupt(connection: http.client.HTTPConnection) -> None:
    """Wake a worker blocked on this connection (shutdown, unlike close, interrupts a recv)."""
    if connection.sock is not None:
        with contextlib.suppress(OSError):
            connection.sock.shutdown(socket.SHUT_RDWR)


def _checked_rate(rate_per_second: float) -> float:
    if not (rate_per_second >= 0.0 and math.isfinite(rate_per_second)):
        raise SandboxError(f"a request rate is a finite number >= 0, not {rate_per_second}")
    return rate_per_second
