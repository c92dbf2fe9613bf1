"""HTTP application targets (old and new) and the front door that weighs traffic between them."""

from __future__ import annotations

import functools
import http.client
import logging
import math
import random
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from cockpit.sandbox.shared import (
    SIDES,
    FixedResponse,
    MaintenanceSource,
    SandboxError,
    Side,
    TrafficStats,
    Weights,
    WeightsSource,
)

_log = logging.getLogger(__name__)

HEALTH_PATH = "/health"
SERVED_BY_HEADER = "X-Served-By"
_POLL_INTERVAL_SECONDS = 0.05
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Headers the front door sets itself rather than passing through from either end.
_REWRITTEN_HEADERS = frozenset({"content-length", "server", "date", SERVED_BY_HEADER.lower()})


def parse_loopback_url(url: str) -> tuple[str, int]:
    """The (host, port) of an http:// URL on loopback; anything else is refused."""
    parts = urlsplit(url)
    try:
        port = parts.port or 80
    except ValueError as error:
        raise SandboxError(f"{url!r} has an invalid port: {error}") from error
    host = parts.hostname or ""
    if parts.scheme != "http" or not host.startswith("127."):
        raise SandboxError(f"{url!r} is not an http:// URL on loopback (127.0.0.0/8)")
    return host, port


def _require_loopback(host: str) -> None:
    if not host.startswith("127."):
        raise SandboxError(f"the sandbox binds to loopback only (127.0.0.0/8), not {host}")


@dataclass(frozen=True)
class AccessLogEntry:
    """One request as nginx's "combined" format, plus $request_time, records it."""

    remote_addr: str
    time_local: datetime
    request_line: str
    status: int
    body_bytes_sent: int
    referer: str
    user_agent: str
    request_time_seconds: float

    def line(self) -> str:
        """The log line, newline included."""
        return (
            f"{self.remote_addr} - - [{_nginx_time(self.time_local)}] "
            f'"{_log_field(self.request_line)}" {self.status} {self.body_bytes_sent} '
            f'"{_log_field(self.referer)}" "{_log_field(self.user_agent)}" '
            f"{self.request_time_seconds:.3f}\n"
        )


def _nginx_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc:%d}/{_MONTHS[utc.month - 1]}/{utc:%Y:%H:%M:%S} +0000"


def _log_field(text: str) -> str:
    """The text escaped as nginx escapes log variables (`"` -> \\x22), or "-" when empty."""
    return "".join(_escape_char(char) for char in text) or "-"


def _escape_char(char: str) -> str:
    if " " <= char <= "~" and char not in '"\\':
        return char
    raw = char.encode("latin-1") if ord(char) < 256 else char.encode("utf-8")
    return "".join(f"\\x{byte:02X}" for byte in raw)


class _AccessLog:
    """An append-only, line-buffered log file that can be reopened after an external rename."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: TextIO | None = None

    def open(self) -> None:
        with self._lock:
            if self._file is None:
                self._file = self._open_file()

    def reopen(self) -> None:
        """Close and reopen the path, as nginx does on SIGUSR1; a no-op while closed."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = self._open_file()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def write(self, line: str) -> None:
        """Append one line in a single write; lines arriving after close() are dropped."""
        with self._lock:
            if self._file is not None:
                self._file.write(line)
                self._file.flush()

    def _open_file(self) -> TextIO:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self.path.open("a", buffering=1, encoding="utf-8")
        except OSError as error:
            raise SandboxError(
                f"cannot open the access log {self.path}: {error.strerror}; "
                "check that its directory is writable"
            ) from error


@dataclass(frozen=True)
class _Reply:
    """A complete HTTP response to send (Content-Length is added when sending)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _text_reply(status: int, text: str, *extra: tuple[str, str]) -> _Reply:
    return _Reply(status, (("Content-Type", "text/plain; charset=utf-8"), *extra), text.encode())


def _html_reply(status: int, title: str, message: str, side: Side) -> _Reply:
    page = (
        f"<!doctype html>\n<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{message}</p></body></html>\n"
    )
    headers = (("Content-Type", "text/html; charset=utf-8"), (SERVED_BY_HEADER, side))
    return _Reply(status, headers, page.encode())


class _LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that skips the reverse DNS lookup on bind and logs errors quietly."""

    daemon_threads = True
    request_queue_size = 128

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("request from %s failed", client_address, exc_info=True)


class _ServerThread:
    """An HTTP server bound on start() and served from a daemon thread until stop()."""

    def __init__(
        self, what: str, host: str, port: int, handler: Callable[..., BaseHTTPRequestHandler]
    ) -> None:
        _require_loopback(host)
        self.what = what
        self.host = host
        self.port = port
        self._handler = handler
        self._lock = threading.Lock()
        self._server: _LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            self._server = self._bind()
            self.port = self._server.server_port
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL_SECONDS},
                name=f"sandbox-http-{self.host}:{self.port}",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server, self._thread = None, None
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()

    def _bind(self) -> _LoopbackHTTPServer:
        try:
            return _LoopbackHTTPServer((self.host, self.port), self._handler)
        except OSError as error:
            raise SandboxError(
                f"{self.what} cannot listen on {self.host}:{self.port}: {error.strerror}; "
                "choose a free port (shared.free_port) or stop what holds this one"
            ) from error


class _SandboxHandler(BaseHTTPRequestHandler):
    """Plumbing both servers share: every method goes to respond(), nothing goes to stderr."""

    server_version = "cockpit-sandbox/0.1"
    sys_version = ""
    timeout = 30.0

    def respond(self) -> None:
        raise NotImplementedError

    def _dispatch(self) -> None:
        self.respond()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        return

    def read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def send_reply(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


@dataclass(frozen=True)
class _Knobs:
    """What an app server has been told to do to its requests."""

    healthy: bool = True
    unhealthy_reason: str = ""
    maintenance: bool = False
    error_rate: float = 0.0
    latency_ms: float = 0.0


def _app_reply(side: Side, knobs: _Knobs, path: str, inject_error: bool) -> _Reply:
    served_by = (SERVED_BY_HEADER, side)
    if path == HEALTH_PATH:
        if knobs.healthy:
            return _text_reply(200, "ok", served_by)
        return _text_reply(503, knobs.unhealthy_reason or "unhealthy", served_by)
    if knobs.maintenance:
        message = f"{side} is down for maintenance; please try again shortly."
        return _html_reply(503, "Down for maintenance", message, side)
    if inject_error:
        message = f"an error injected by the sandbox (error rate {knobs.error_rate:.0%})"
        return _html_reply(500, "Internal Server Error", message, side)
    return _html_reply(200, f"served by {side}", "the cutover sandbox application", side)


class AppServer:
    """One side's application server (old or new) with /health, knobs and an nginx access log."""

    def __init__(
        self,
        side: Side,
        host: str,
        port: int,
        access_log: Path,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if side not in SIDES:
            raise SandboxError(f"an app server is 'old' or 'new', not {side!r}")
        self.side: Side = side
        self._access_log = _AccessLog(access_log)
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._knobs = _Knobs()
        self._stopping = threading.Event()
        handler = functools.partial(_AppRequestHandler, app=self)
        self._server = _ServerThread(f"the {side} app server", host, port, handler)

    @property
    def url(self) -> str:
        """Where it listens, "http://host:port" (the bound port once started with port 0)."""
        return self._server.url

    def start(self) -> None:
        self._stopping.clear()
        self._access_log.open()
        try:
            self._server.start()
        except SandboxError:
            self._access_log.close()
            raise

    def stop(self) -> None:
        self._stopping.set()
        self._server.stop()
        self._access_log.close()

    def set_healthy(self, healthy: bool, reason: str = "") -> None:
        """Make /health answer 200 "ok", or 503 with the reason."""
        self._update(healthy=healthy, unhealthy_reason="" if healthy else reason)

    def set_maintenance(self, on: bool) -> None:
        """Answer every path but /health with a 503 maintenance page, or stop doing so."""
        self._update(maintenance=on)

    def set_error_rate(self, ratio: float) -> None:
        """Answer that fraction (0..1) of non-/health requests with a 500."""
        if not 0.0 <= ratio <= 1.0:
            raise SandboxError(f"an error rate is a fraction from 0 to 1, not {ratio}")
        self._update(error_rate=ratio)

    def set_latency_ms(self, ms: float) -> None:
        """Delay every request, /health included, by this many milliseconds."""
        if not (ms >= 0.0 and math.isfinite(ms)):
            raise SandboxError(f"added latency is a finite number of milliseconds >= 0, not {ms}")
        self._update(latency_ms=ms)

    def reset(self) -> None:
        """Healthy, no maintenance, no injected errors, no added latency."""
        with self._lock:
            self._knobs = _Knobs()

    def reopen_access_log(self) -> None:
        """Close and reopen the access log path, as nginx does on SIGUSR1 after a rotation."""
        self._access_log.reopen()

    def knobs(self) -> dict[str, object]:
        """The current knob values, for status output."""
        with self._lock:
            return asdict(self._knobs)

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._knobs = replace(self._knobs, **changes)

    def _reply_for(self, path: str) -> _Reply:
        with self._lock:
            knobs = self._knobs
            inject_error = path != HEALTH_PATH and self._rng.random() < knobs.error_rate
        self._pause(knobs.latency_ms / 1000.0)
        return _app_reply(self.side, knobs, path, inject_error)

    def _pause(self, seconds: float) -> None:
        """Wait the full delay, cut short only by stop()."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0 and not self._stopping.is_set():
            self._stopping.wait(remaining)

    def _write_access_log(self, entry: AccessLogEntry) -> None:
        self._access_log.write(entry.line())


class _AppRequestHandler(_SandboxHandler):
    """Answers from the app's knobs and writes one access log line per request."""

    def __init__(self, *args: Any, app: AppServer, **kwargs: Any) -> None:
        self.app = app
        self._reset_request_state()
        super().__init__(*args, **kwargs)

    def _reset_request_state(self) -> None:
        self._started = time.monotonic()
        self._status: int | None = None
        self._body_bytes = 0

    def handle_one_request(self) -> None:
        self._reset_request_state()
        self.requestline = ""
        try:
            super().handle_one_request()
        finally:
            if self._status is not None:
                self.app._write_access_log(self._entry(self._status))

    def parse_request(self) -> bool:
        self._started = time.monotonic()
        return super().parse_request()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self._status = int(code)

    def send_header(self, keyword: str, value: str) -> None:
        """Also note the body size, so replies http.server builds itself (400, 501) are logged."""
        if keyword.lower() == "content-length" and self.command != "HEAD":
            self._body_bytes = int(value)
        super().send_header(keyword, value)

    def respond(self) -> None:
        self.read_body()
        self.send_reply(self.app._reply_for(urlsplit(self.path).path))

    def _request_header(self, name: str) -> str:
        headers = getattr(self, "headers", None)
        return str(headers.get(name, "")) if headers is not None else ""

    def _entry(self, status: int) -> AccessLogEntry:
        return AccessLogEntry(
            remote_addr=str(self.client_address[0]),
            time_local=datetime.now(UTC),
            request_line=self.requestline,
            status=status,
            body_bytes_sent=self._body_bytes,
            referer=self._request_header("Referer"),
            user_agent=self._request_header("User-Agent"),
            request_time_seconds=time.monotonic() - self._started,
        )


@dataclass(frozen=True)
class _ProxyRequest:
    """A request as the front door received it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_addr: str


def _end_to_end(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The headers minus hop-by-hop ones (including those the Connection header names)."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    dropped = _HOP_BY_HOP_HEADERS | _REWRITTEN_HEADERS | named
    return [(name, value) for name, value in headers if name.lower() not in dropped]


def _upstream_headers(request: _ProxyRequest) -> list[tuple[str, str]]:
    headers = [(n, v) for n, v in _end_to_end(request.headers) if n.lower() != "x-forwarded-for"]
    earlier = [v for n, v in request.headers if n.lower() == "x-forwarded-for"]
    headers.append(("X-Forwarded-For", ", ".join([*earlier, request.client_addr])))
    headers.append(("X-Forwarded-Proto", "http"))
    return headers


def _proxy(upstream: tuple[str, int], request: _ProxyRequest, timeout_seconds: float) -> _Reply:
    """Send the request to the upstream and return its response, or a 502/504 as an ALB would."""
    connection = http.client.HTTPConnection(*upstream, timeout=timeout_seconds)
    try:
        headers = _upstream_headers(request)
        has_host = any(name.lower() == "host" for name, _ in headers)
        connection.putrequest(
            request.method, request.target, skip_host=has_host, skip_accept_encoding=True
        )
        for name, value in headers:
            connection.putheader(name, value)
        if request.body:
            connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body or None)
        response = connection.getresponse()
        body = response.read()
        return _Reply(response.status, tuple(_end_to_end(tuple(response.getheaders()))), body)
    except TimeoutError:
        return _text_reply(504, "the target did not answer in time")
    except (OSError, http.client.HTTPException) as error:
        return _text_reply(502, f"the target could not be reached: {error}")
    finally:
        connection.close()


def _fixed_reply(fixed: FixedResponse) -> _Reply:
    return _Reply(fixed.status_code, (("Content-Type", fixed.content_type),), fixed.body.encode())


class FrontDoor:
    """The load balancer stand-in: each request goes to old or new by the current weights.

    While a maintenance fixed response is in place it is answered instead, reaching no target.
    """

    def __init__(
        self,
        host: str,
        port: int,
        upstreams: Mapping[Side, str],
        weights: WeightsSource,
        maintenance: MaintenanceSource,
        stats: TrafficStats,
        *,
        rng: random.Random | None = None,
        upstream_timeout_seconds: float = 5.0,
    ) -> None:
        missing = [side for side in SIDES if side not in upstreams]
        if missing:
            raise SandboxError(f"the front door needs an upstream URL for {', '.join(missing)}")
        self._upstreams = {side: parse_loopback_url(upstreams[side]) for side in SIDES}
        self._weights = weights
        self._maintenance = maintenance
        self._stats = stats
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._upstream_timeout_seconds = upstream_timeout_seconds
        handler = functools.partial(_FrontDoorHandler, door=self)
        self._server = _ServerThread("the front door", host, port, handler)

    @property
    def url(self) -> str:
        """Where it listens, "http://host:port" (the bound port once started with port 0)."""
        return self._server.url

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def _route(self, request: _ProxyRequest) -> _Reply:
        try:
            fixed = self._maintenance()
            if fixed is not None:
                return _fixed_reply(fixed)
            side = self._pick_side(self._weights())
        except Exception as error:
            _log.debug("front door configuration unreadable", exc_info=True)
            return _text_reply(503, f"the load balancer configuration is unavailable: {error}")
        if side is None:
            return _text_reply(503, "no weight on any target group")
        return self._forward(side, request)

    def _pick_side(self, weights: Weights) -> Side | None:
        old, new = max(weights.old, 0), max(weights.new, 0)
        if old + new == 0:
            return None
        with self._rng_lock:
            draw = self._rng.randrange(old + new)
        return "old" if draw < old else "new"

    def _forward(self, side: Side, request: _ProxyRequest) -> _Reply:
        started = time.monotonic()
        reply = _proxy(self._upstreams[side], request, self._upstream_timeout_seconds)
        self._stats.record(side, reply.status, time.monotonic() - started)
        return replace(reply, headers=(*reply.headers, (SERVED_BY_HEADER, side)))


class _FrontDoorHandler(_SandboxHandler):
    """Hands each request to the front door and sends back what it decides."""

    def __init__(self, *args: Any, door: FrontDoor, **kwargs: Any) -> None:
        self.door = door
        super().__init__(*args, **kwargs)

    def respond(self) -> None:
        request = _ProxyRequest(
            method=self.command,
            target=self.path,
            headers=tuple(self.headers.items()),
            body=self.read_body(),
            client_addr=str(self.client_address[0]),
        )
        self.send_reply(self.door._route(request))
