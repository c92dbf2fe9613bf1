"""Types the sandbox's parts exchange: DNS record sets, weights, maintenance, traffic counts."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Side = Literal["old", "new"]
SIDES: tuple[Side, ...] = ("old", "new")


class SandboxError(Exception):
    """The sandbox cannot do what was asked; the message says what and how to fix it."""


@dataclass(frozen=True)
class WeightedRecordSet:
    """One Route 53 record set as DNS serves it (weight None: a simple, unweighted record)."""

    name: str  # fully qualified, lowercase, with the trailing dot
    rtype: str  # "A", "AAAA", "CNAME", "NS", "SOA"
    ttl: int
    values: tuple[str, ...]
    set_identifier: str | None = None
    weight: int | None = None


# (fully qualified lowercase name with trailing dot, record type) -> the record sets held for it;
# an empty sequence means the zone has no such record.
RecordSource = Callable[[str, str], Sequence[WeightedRecordSet]]


@dataclass(frozen=True)
class Weights:
    """Traffic weights as set in the AWS stand-in (Route 53 weights or ALB forward weights)."""

    old: int
    new: int

    @property
    def new_percent(self) -> float:
        total = self.old + self.new
        return 0.0 if total == 0 else 100.0 * self.new / total


@dataclass(frozen=True)
class FixedResponse:
    """What the front door answers while an ALB fixed-response (maintenance) rule is in place."""

    status_code: int
    content_type: str
    body: str


WeightsSource = Callable[[], Weights]
MaintenanceSource = Callable[[], FixedResponse | None]


@dataclass(frozen=True)
class SideCounts:
    """Requests served by one side in one interval, as CloudWatch's ALB metrics count them."""

    requests: int
    errors_5xx: int
    response_times_seconds: tuple[float, ...]


@dataclass
class TrafficStats:
    """Thread-safe counters the front door fills and the metrics publisher drains."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    _errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    _times: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SIDES})

    def record(self, side: Side, status: int, response_time_seconds: float) -> None:
        with self._lock:
            self._requests[side] += 1
            if 500 <= status <= 599:
                self._errors[side] += 1
            self._times[side].append(response_time_seconds)

    def drain(self) -> dict[Side, SideCounts]:
        """The counts since the last drain, per side; the counters start again from zero."""
        with self._lock:
            counts = {
                side: SideCounts(self._requests[side], self._errors[side], tuple(self._times[side]))
                for side in SIDES
            }
            self._requests = dict.fromkeys(SIDES, 0)
            self._errors = dict.fromkeys(SIDES, 0)
            self._times = {s: [] for s in SIDES}
        return counts


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port nobody is listening on at `host` right now (TCP by default, or SOCK_DGRAM)."""
    if not host.startswith("127."):
        raise SandboxError(f"the sandbox binds to loopback only, not {host}")
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
