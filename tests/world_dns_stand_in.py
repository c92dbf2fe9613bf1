"""A loopback stand-in for Globalping and RIPE Atlas that serves recorded replies.

The replies in tests/fixtures/world_dns/ are built from the services' published API
specifications and client libraries (Globalping's API v1 reference, RIPE Atlas's API v2
reference and ripe.atlas.sagan's result format): status, headers and body as the documents
describe them, not captured from the live services, which no test here can reach. The wire
answers inside the Atlas results ("abuf") were made with dnspython.

Each route replies with its list of recorded replies in turn and repeats the last; every
request is kept, so a test can check what was sent and how often. Loopback only, on a free port,
stopped by the test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "world_dns"


@dataclass(frozen=True)
class Recorded:
    """One recorded reply: status, headers, body."""

    status: int
    headers: dict[str, str]
    body: Any

    def raw(self) -> bytes:
        return json.dumps(self.body).encode()


def recorded(name: str) -> Recorded:
    document = json.loads((FIXTURES / f"{name}.json").read_text())
    return Recorded(document["status"], document["headers"], document["body"])


def body_of(name: str) -> Any:
    return recorded(name).body


@dataclass(frozen=True)
class Request:
    """What the cockpit sent."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class StandIn:
    """Routes (method, path) -> replies in turn; every request kept."""

    url: str = ""
    routes: dict[tuple[str, str], list[Recorded]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, method: str, path: str, names: str | Sequence[str]) -> None:
        """Replies to `method path` with these recorded replies in turn, the last repeated."""
        listed = [names] if isinstance(names, str) else list(names)
        with self.lock:
            self.routes[(method, path)] = [recorded(name) for name in listed]

    def answer(self, request: Request) -> Recorded:
        with self.lock:
            self.requests.append(request)
            replies = self.routes.get((request.method, request.path))
            if not replies:
                return Recorded(404, {}, {"error": {"type": "not_found", "message": "no route"}})
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def sent(self, method: str, path: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r for r in self.requests if r.method == method and (path is None or r.path == path)
            ]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            self.command,
            parts.path,
            parse_qs(parts.query),
            {name.lower(): value for name, value in self.headers.items()},
            json.loads(raw) if raw else None,
        )
        reply = self.server.stand_in.answer(request)
        body = reply.raw()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _serve
    do_POST = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stand_in: StandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stand_in = stand_in


@contextmanager
def world_stand_in() -> Iterator[StandIn]:
    """A stand-in on 127.0.0.1, a free port; its base URL is `url`."""
    stand_in = StandIn()
    server = _Server(stand_in)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
