"""RIPE Atlas's REST API (v2), as the cockpit calls it: a one-off DNS measurement and its results.

Blocking calls, run in the source's own lane of threads. Creating a measurement spends credits
and needs a key with permission to create measurements ("Authorization: Key ..."); the
probes' details and the results are public, and the credit balance needs the key too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cockpit.config import split_location
from cockpit.io.world_http import (
    JsonHttp,
    JsonReply,
    RefusalWords,
    ServiceRefusal,
    error_words,
    number_header,
    refusal,
)
from cockpit.jsonvalue import JsonValue
from cockpit.visible import ascii_digits

DESCRIPTION_PREFIX = "cutover-cockpit"
PROBES_PAGE_SIZE = 500


def probe_selection(spec: str, requested: int) -> dict[str, JsonValue]:
    """'country:DE' -> {'requested': N, 'type': 'country', 'value': 'DE'}."""
    kind, value = split_location(spec)
    if kind == "country":
        value = value.upper()
    elif kind == "asn":
        value = value.removeprefix("AS")
    return {"requested": requested, "type": kind or "area", "value": value}


def measurement_request(
    name: str, record_type: str, probes: Sequence[str], per_spec: int
) -> dict[str, JsonValue]:
    """The body of POST /measurements/: one one-off DNS query through each probe's resolvers."""
    target = name.rstrip(".")
    definition: dict[str, JsonValue] = {
        "type": "dns",
        "af": 6 if record_type == "AAAA" else 4,
        "query_class": "IN",
        "query_type": record_type,
        "query_argument": target,
        "use_probe_resolver": True,
        "set_rd_bit": True,
        "description": f"{DESCRIPTION_PREFIX} {target} {record_type}",
    }
    return {
        "definitions": [definition],
        "probes": [probe_selection(spec, per_spec) for spec in probes],
        "is_oneoff": True,
    }


WORDS = RefusalWords("RIPE Atlas", "the key was refused or may not create measurements")


def refusal_of(reply: JsonReply) -> ServiceRefusal:
    """What a failed reply means; RIPE Atlas says "not enough credit" in its error's words."""
    out_of_credits = "credit" in error_words(reply).lower()
    retry = number_header(reply, "Retry-After")
    return refusal(reply, WORDS, out_of_credits=out_of_credits, retry_after_seconds=retry)


class AtlasApi:
    """The calls one measurement round needs: create, status, results, probes, credits."""

    def __init__(self, base_url: str, key: str | None, timeout_seconds: float) -> None:
        self._http = JsonHttp(base_url, f"Key {key}" if key else None, timeout_seconds)
        self.label = f"RIPE Atlas at {self._http.label}"

    def create(self, name: str, record_type: str, probes: Sequence[str], per_spec: int) -> str:
        """A new one-off DNS measurement's id; ServiceRefusal when the service says no."""
        body = measurement_request(name, record_type, probes, per_spec)
        reply = self._http.post("/measurements/", body)
        if reply.status not in (200, 201, 202):
            raise refusal_of(reply)
        found = reply.body.get("measurements") if isinstance(reply.body, dict) else None
        first = found[0] if isinstance(found, list) and found else None
        if not isinstance(first, int) or isinstance(first, bool):
            raise ServiceRefusal("unavailable", "RIPE Atlas accepted the measurement without an id")
        return str(first)

    def measurement(self, measurement_id: str) -> JsonValue:
        """The measurement's own record (its status: Ongoing, Stopped, ...)."""
        return self._ok(self._http.get(f"/measurements/{_digits(measurement_id)}/"))

    def results(self, measurement_id: str) -> JsonValue:
        """Every result in so far: one per probe, each holding its resolvers' wire answers."""
        path = f"/measurements/{_digits(measurement_id)}/results/"
        return self._ok(self._http.get(path, {"format": "json"}))

    def probes(self, probe_ids: Iterable[int]) -> JsonValue:
        """Where the probes are: country and AS of each (public, costs nothing)."""
        wanted = ",".join(str(probe_id) for probe_id in sorted(set(probe_ids)))
        query = {
            "id__in": wanted,
            "fields": "id,country_code,asn_v4,asn_v6",
            "page_size": str(PROBES_PAGE_SIZE),
        }
        return self._ok(self._http.get("/probes/", query))

    def credits(self) -> JsonValue:
        """The account's credit balance (the key needs permission to read it)."""
        return self._ok(self._http.get("/credits/"))

    def _ok(self, reply: JsonReply) -> JsonValue:
        if reply.status != 200:
            raise refusal_of(reply)
        return reply.body


def _digits(text: str) -> str:
    return "".join(char for char in text if ascii_digits(char))
