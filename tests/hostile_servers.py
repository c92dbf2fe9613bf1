"""Servers that answer with hostile text: escapes, bell, C1 controls, bidi overrides, secrets.

They stand in for a misbehaving or compromised peer, which no well-behaved third-party
server can be made to be: a health endpoint whose status line renames the terminal, an
AWS-shaped error that carries a C1 CSI, a webhook error page that echoes credentials, a DNS
server whose names hold control bytes, a PostgreSQL server whose FATAL message holds escapes.
Loopback only, on free ports, stopped by the test.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

# What a hostile peer sends: set the terminal title, ring the bell, clear the screen.
TITLE_ATTACK = "\x1b]0;PWNED-TITLE\x07\x1b[2J"
# Legal in XML, still acted on by terminals (C1 CSI) or by text layout (right-to-left override).
XML_ATTACK = "\u009b2J PWNED-AWS \u202egnp.exe"
DNS_ATTACK_LABEL = b"evil\x1b]0;PWNED-DNS\x07"


@dataclass(frozen=True)
class Secrets:
    """The secret values a hostile page echoes back; none may appear in any output."""

    db_password: str = "Sup3r-S3cret-DB-pass-xyz"
    webhook_token: str = "tok-9f8e7d6c5b4a39281706"
    shop_api_token: str = "shop-api-ZX81-secret-value"

    def values(self) -> tuple[str, ...]:
        return (self.db_password, self.webhook_token, self.shop_api_token)

    def echo(self) -> str:
        """A page that repeats every secret, the first one placed across a 200-character cut."""
        return (
            "x" * 190
            + f" {self.db_password} token={self.webhook_token} api {self.shop_api_token} "
            + TITLE_ATTACK
        )


class _HostileHandler(socketserver.StreamRequestHandler):
    """Answers by path: raw bytes, so even the status line can be hostile."""

    server: _HostileHttpServer

    def handle(self) -> None:
        request_line = self.rfile.readline(65536).decode("latin-1")
        length = 0
        while (line := self.rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip() or 0)
        if length:
            self.rfile.read(length)
        parts = request_line.split()
        path = parts[1] if len(parts) > 1 else "/"
        self.wfile.write(self.server.answer(path))


class _HostileHttpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, secrets: Secrets) -> None:
        super().__init__(("127.0.0.1", 0), _HostileHandler)
        self.secrets = secrets

    def answer(self, path: str) -> bytes:
        if path.startswith("/health"):
            body = (
                f"{TITLE_ATTACK} db down; api {self.secrets.shop_api_token}; {self.secrets.echo()}"
            )
            return _response(f"503 {TITLE_ATTACK}", body, "text/plain")
        if path.startswith("/probe"):
            return _response(f"200 {TITLE_ATTACK}", f"shop is up {TITLE_ATTACK}", "text/html")
        if path.startswith("/webhook"):
            return _response("500 Internal Server Error", self.secrets.echo(), "text/html")
        if path.startswith("/api/v1/query"):
            body = (
                '{"status":"error","errorType":"bad_data","error":"'
                + "\\u001b]0;PWNED-PROM\\u0007\\u001b[2J "
                + self.secrets.db_password
                + '"}'
            )
            return _response("400 Bad Request", body, "application/json")
        return _response("400 Bad Request", _aws_error(), "text/xml")


def _aws_error() -> str:
    """An AWS query/REST-XML error whose message carries what XML allows and terminals obey."""
    return (
        '<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type>'
        f"<Code>InvalidInput</Code><Message>{XML_ATTACK}</Message></Error>"
        "<RequestId>hostile-1</RequestId></ErrorResponse>"
    )


def _response(status: str, body: str, content_type: str) -> bytes:
    payload = body.encode("utf-8")
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("utf-8") + payload


@contextmanager
def hostile_http(secrets: Secrets) -> Iterator[str]:
    """A hostile HTTP server on loopback; yields its base URL."""
    with _serving(_HostileHttpServer(secrets)) as port:
        yield f"http://127.0.0.1:{port}"


@contextmanager
def _serving(server: socketserver.TCPServer) -> Iterator[int]:
    """Serves on a thread until the block ends; yields the port."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _HostilePostgresHandler(socketserver.BaseRequestHandler):
    """Speaks just enough of the PostgreSQL protocol to refuse a login with a hostile error."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        while True:
            length = int.from_bytes(_read_exactly(sock, 4), "big")
            body = _read_exactly(sock, length - 4)
            if int.from_bytes(body[:4], "big") in (_SSL_REQUEST, _GSS_REQUEST):
                sock.sendall(b"N")  # no TLS, no GSS: go on in plain text
                continue
            break
        message = f'database "{TITLE_ATTACK}PWNED-PG" does not exist'.encode()
        fields = b"SFATAL\0VFATAL\0C3D000\0M" + message + b"\0\0"
        sock.sendall(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)


_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


@contextmanager
def hostile_postgres() -> Iterator[str]:
    """A PostgreSQL-speaking server on loopback that answers every login with a hostile FATAL."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _HostilePostgresHandler)
    server.daemon_threads = True
    with _serving(server) as port:
        yield f"host=127.0.0.1 port={port} user=cutover dbname=shop"


def _dns_answer(query: dns.message.Message) -> bytes:
    """A CNAME to a name with control bytes in a label, then an A record for it."""
    from dns.rdtypes.ANY.CNAME import CNAME

    response = dns.message.make_response(query)
    question = query.question[0]
    target = dns.name.Name([DNS_ATTACK_LABEL, b"example", b"net", b""])
    cname = dns.rrset.RRset(question.name, dns.rdataclass.IN, dns.rdatatype.CNAME)
    cname.add(CNAME(dns.rdataclass.IN, dns.rdatatype.CNAME, target), 30)
    response.answer.append(cname)
    if question.rdtype == dns.rdatatype.A:
        response.answer.append(
            dns.rrset.from_text(target, 30, dns.rdataclass.IN, dns.rdatatype.A, "192.0.2.66")
        )
    response.set_rcode(dns.rcode.NOERROR)
    return response.to_wire()


@contextmanager
def hostile_dns() -> Iterator[str]:
    """A UDP DNS server on loopback answering every query with a hostile CNAME chain."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                sock.sendto(_dns_answer(dns.message.from_wire(wire)), peer)
            except Exception:  # a malformed query gets no answer, as from a real server
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=10)
        sock.close()
