"""JSON over HTTP(S) to a measuring service (Globalping, RIPE Atlas): one request, one reply.

The token or key goes in a header only, never in a URL, and no redirect is followed (the header
would go along to wherever it points), so no URL or error text can carry it. A reply's text is
the service's and is treated as hostile by whoever reads it.
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlencode, urlsplit

from cockpit.io.http import PROBE_USER_AGENT
from cockpit.io.lanes import current_budget
from cockpit.jsonvalue import JsonValue
from cockpit.outside import outside_text

MAX_REPLY_BYTES = 16 * 1024 * 1024
"""More than any answer for a few hundred probes; a larger one is refused, not read."""
ERROR_TEXT_CHARS = 160

RefusalKind = Literal["rate-limited", "no-credits", "unauthorized", "rejected", "unavailable"]


@dataclass(frozen=True)
class JsonReply:
    """A service's answer: status, headers (names in lower case) and the body as JSON.

    body is None when the reply was not JSON; text holds its first characters, for errors.
    """

    status: int
    headers: Mapping[str, str]
    body: JsonValue
    text: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class RateBudget:
    """What a service's reply says about what is left to spend, in its own unit.

    reset_after_seconds counts from the moment the reply was read.
    """

    limit: int | None = None
    remaining: int | None = None
    reset_after_seconds: float | None = None
    credits_remaining: int | None = None
    request_cost: int | None = None


@dataclass
class ServiceRefusal(Exception):
    """The service said no: why (its words, sanitized), and when to ask again if it said.

    kind: rate-limited (wait and ask again), no-credits (nothing more can be spent), unauthorized
    (the token or key), rejected (the request itself), unavailable (the service's own trouble).
    """

    kind: RefusalKind
    message: str
    retry_after_seconds: float | None = None
    budget: RateBudget | None = None
    status: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.message


def number_header(reply: JsonReply, name: str) -> float | None:
    """A header holding a (finite, non-negative) number; None when absent or odd."""
    text = reply.header(name)
    try:
        number = float(text) if text is not None else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number < float("inf") else None


def whole_header(reply: JsonReply, name: str) -> int | None:
    number = number_header(reply, name)
    return None if number is None else int(number)


def said(text: object, limit: int = ERROR_TEXT_CHARS) -> str:
    """A service's words fit to show: sanitized, redacted, cut."""
    return outside_text(str(text), limit)


class JsonHttp:
    """Requests to one base URL with one authorization header, each within a timeout."""

    def __init__(self, base_url: str, authorization: str | None, timeout_seconds: float) -> None:
        parts = urlsplit(base_url)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        self._authorization = authorization
        self._timeout_seconds = timeout_seconds
        self.label = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{self._base_path}"

    def get(self, path: str, query: Mapping[str, str] | None = None) -> JsonReply:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: JsonValue) -> JsonReply:
        return self.request("POST", path, body=body)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: JsonValue = None,
        query: Mapping[str, str] | None = None,
    ) -> JsonReply:
        """One request; raises OSError (and the like) when nothing answers in time."""
        target = self._base_path + path + (f"?{urlencode(query)}" if query else "")
        headers = {"User-Agent": PROBE_USER_AGENT, "Accept": "application/json"}
        if self._authorization:
            headers["Authorization"] = self._authorization
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = self._connection()
        try:
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read(MAX_REPLY_BYTES + 1)
            found = {name.lower(): value for name, value in response.getheaders()}
            return _reply(response.status, found, raw)
        finally:
            connection.close()

    def _connection(self) -> http.client.HTTPConnection:
        timeout = self._timeout_seconds
        budget = current_budget()
        if budget is not None:
            timeout = max(0.1, min(timeout, budget.remaining_seconds()))
        if self._scheme == "https":
            context = ssl.create_default_context()
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)


def _reply(status: int, headers: dict[str, str], raw: bytes) -> JsonReply:
    if len(raw) > MAX_REPLY_BYTES:
        raise ServiceRefusal("unavailable", f"reply larger than {MAX_REPLY_BYTES >> 20} MiB")
    text = raw[:2048].decode("utf-8", errors="replace")
    try:
        body: JsonValue = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        body = None
    return JsonReply(status, headers, body, text)


def error_words(reply: JsonReply) -> str:
    """What a failed reply says, in the service's words where it gave some: sanitized."""
    body = reply.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            found = [error.get(key) for key in ("message", "detail", "title", "type")]
            words = next((text for text in found if isinstance(text, str) and text), None)
            if words:
                return said(words)
        detail = body.get("detail") or body.get("message")
        if isinstance(detail, str) and detail:
            return said(detail)
    return said(reply.text) if reply.text.strip() else f"HTTP {reply.status}"


@dataclass(frozen=True)
class RefusalWords:
    """How one service's refusals read: its name, and what a 401/403 says about the credential."""

    service: str
    credential_refused: str


def refusal(
    reply: JsonReply,
    words: RefusalWords,
    *,
    out_of_credits: bool,
    budget: RateBudget | None = None,
    retry_after_seconds: float | None = None,
) -> ServiceRefusal:
    """What a failed reply means: no credits, wait (429), a refused credential, the service's
    own trouble (5xx), or a request it rejects."""
    said_words, status, retry = error_words(reply), reply.status, retry_after_seconds
    if out_of_credits:
        message = f"out of credits: {said_words}"
        return ServiceRefusal("no-credits", message, retry, budget, status)
    if status == 429:
        return ServiceRefusal("rate-limited", f"rate limited: {said_words}", retry, budget, status)
    if status in (401, 403):
        message = f"{words.credential_refused} (HTTP {status}): {said_words}"
        return ServiceRefusal("unauthorized", message, None, budget, status)
    if status >= 500:
        message = f"{words.service} unavailable (HTTP {status}): {said_words}"
        return ServiceRefusal("unavailable", message, retry, budget, status)
    message = f"measurement refused (HTTP {status}): {said_words}"
    return ServiceRefusal("rejected", message, None, budget, status)
