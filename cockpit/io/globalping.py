"""Globalping's measurement API (v1), as the cockpit calls it: create a DNS measurement, read it.

Blocking calls, run in the source's own lane of threads. Globalping asks that a measurement be
read at most twice a second, 500 ms apart: the pacer waits out the rest of that gap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cockpit.config import split_location
from cockpit.io.world_http import (
    JsonHttp,
    JsonReply,
    RateBudget,
    RefusalWords,
    ServiceRefusal,
    number_header,
    refusal,
    whole_header,
)
from cockpit.jsonvalue import JsonValue

READ_GAP_SECONDS = 0.5
"""Globalping's rule for reading one measurement: at most 2 requests a second, 500 ms apart."""


class Pacer:
    """Keeps requests about one thing (a measurement) at least `gap_seconds` apart."""

    def __init__(
        self,
        gap_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._gap_seconds = gap_seconds
        self._monotonic = monotonic
        self._sleep = sleep
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> None:
        """Returns once a request about `key` may go out, and counts it as gone."""
        with self._lock:
            last = self._last.get(key)
            now = self._monotonic()
            wait_seconds = 0.0 if last is None else max(0.0, last + self._gap_seconds - now)
            self._last[key] = now + wait_seconds
        if wait_seconds > 0:
            self._sleep(wait_seconds)

    def forget(self, key: str) -> None:
        with self._lock:
            self._last.pop(key, None)


@dataclass(frozen=True)
class Created:
    """A measurement the service accepted: its id, how many probes it got, the budget left."""

    measurement_id: str
    probes_count: int | None
    budget: RateBudget | None


def location_json(location: str) -> dict[str, JsonValue]:
    """'country:DE' -> {'country': 'DE'}; 'asn:3320' -> {'asn': 3320}; 'EU' -> {'magic': 'EU'}."""
    kind, place = split_location(location)
    if kind is None:
        return {"magic": place}
    if kind == "asn":
        return {"asn": int(place.removeprefix("AS"))}
    if kind in ("continent", "country"):
        return {kind: place.upper()}
    return {kind: place}


def measurement_request(
    name: str, record_type: str, locations: Sequence[str], limit: int
) -> dict[str, JsonValue]:
    """The body of POST /measurements: a DNS query each probe asks its own resolver."""
    request: dict[str, JsonValue] = {
        "type": "dns",
        "target": name.rstrip("."),
        "limit": limit,
        "measurementOptions": {"query": {"type": record_type}, "protocol": "UDP"},
    }
    if locations:
        request["locations"] = [location_json(location) for location in locations]
    return request


def budget_of(reply: JsonReply) -> RateBudget | None:
    """The rate limit and credits the reply's headers tell; None when they tell nothing."""
    budget = RateBudget(
        limit=whole_header(reply, "X-RateLimit-Limit"),
        remaining=whole_header(reply, "X-RateLimit-Remaining"),
        reset_after_seconds=number_header(reply, "X-RateLimit-Reset"),
        credits_remaining=whole_header(reply, "X-Credits-Remaining"),
        request_cost=whole_header(reply, "X-Request-Cost"),
    )
    return None if budget == RateBudget() else budget


WORDS = RefusalWords("Globalping", "the token was refused")


def refusal_of(reply: JsonReply) -> ServiceRefusal:
    """What a failed reply means; Globalping names the reason in its error's type."""
    budget = budget_of(reply)
    error = reply.body.get("error") if isinstance(reply.body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    retry = number_header(reply, "Retry-After")
    if retry is None and budget is not None:
        retry = budget.reset_after_seconds
    out_of_credits = kind == "insufficient_credits"
    return refusal(
        reply, WORDS, out_of_credits=out_of_credits, budget=budget, retry_after_seconds=retry
    )


class GlobalpingApi:
    """POST /measurements and GET /measurements/{id}, with a token when one is configured."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout_seconds: float,
        pacer: Pacer | None = None,
    ) -> None:
        self._http = JsonHttp(base_url, f"Bearer {token}" if token else None, timeout_seconds)
        self._pacer = pacer or Pacer(READ_GAP_SECONDS)
        self.label = f"Globalping at {self._http.label}"

    def create(self, name: str, record_type: str, locations: Sequence[str], limit: int) -> Created:
        """A new one-off DNS measurement; ServiceRefusal when the service says no."""
        reply = self._http.post(
            "/measurements", measurement_request(name, record_type, locations, limit)
        )
        if reply.status not in (200, 201, 202):
            raise refusal_of(reply)
        body = reply.body if isinstance(reply.body, dict) else {}
        measurement_id = body.get("id")
        if not isinstance(measurement_id, str) or not measurement_id:
            raise ServiceRefusal("unavailable", "Globalping accepted the measurement without an id")
        count = body.get("probesCount")
        probes = count if isinstance(count, int) and not isinstance(count, bool) else None
        return Created(measurement_id, probes, budget_of(reply))

    def measurement(self, measurement_id: str) -> JsonValue:
        """The measurement as it stands (in progress or finished), paced per measurement."""
        self._pacer.wait(measurement_id)
        reply = self._http.get(f"/measurements/{_path_part(measurement_id)}")
        if reply.status != 200:
            raise refusal_of(reply)
        return reply.body

    def done_with(self, measurement_id: str) -> None:
        self._pacer.forget(measurement_id)


def _path_part(text: str) -> str:
    """An id as one path segment: only the characters ids are made of."""
    return "".join(char for char in text if char.isalnum() or char in "-_")
