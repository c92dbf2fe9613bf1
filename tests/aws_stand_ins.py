"""Loopback endpoints that misbehave the way AWS endpoints do, for the AWS client to meet.

A protocol-level stand-in at the HTTP boundary: boto3 talks real HTTP to them. HungEndpoint
accepts TCP connections and never answers; AnsweringEndpoint answers every request with one
fixed status and body (a Throttling error, say) and counts the requests.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

THROTTLING_XML = (
    '<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
    "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>5c1e2d3f-0000-4000-8000-000000000001</RequestId></ErrorResponse>"
)
THROTTLING_JSON = (
    '{"__type":"com.amazonaws.cloudwatch#ThrottlingException","message":"Rate exceeded"}'
)
XML_CONTENT = "text/xml"
JSON_CONTENT = "application/x-amz-json-1.0"


def query_error_xml(code: str, message: str) -> str:
    """An AWS query-protocol error body (ELBv2, RDS, CloudWatch's XML form)."""
    return (
        '<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>5c1e2d3f-0000-4000-8000-000000000002</RequestId></ErrorResponse>"
    )


class HungEndpoint:
    """Accepts connections on a free loopback port and never says a word on them."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_forever, daemon=True)
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> HungEndpoint:
        self._listener.settimeout(0.1)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for connection in self._held:
            connection.close()
        self._listener.close()

    def _accept_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._held.append(connection)
            self.accepted += 1


@contextmanager
def hung_endpoint() -> Iterator[HungEndpoint]:
    endpoint = HungEndpoint().start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@dataclass
class Answer:
    """What the endpoint sends back to every request."""

    status: int
    body: str
    content_type: str
    requests: list[str] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _AnsweringServer

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        answer = self.server.answer
        answer.requests.append(self.path)
        body = answer.body.encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read the answer's request list instead."""


class _AnsweringServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    answer: Answer


@contextmanager
def answering_endpoint(status: int, body: str, content_type: str) -> Iterator[tuple[str, Answer]]:
    """(url, answer): a loopback HTTP server giving every request the same answer."""
    server = _AnsweringServer(("127.0.0.1", 0), _Handler)
    server.answer = Answer(status, body, content_type)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.answer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
