"""One HTTP GET as the cockpit makes it: its own user agent, a real Host and SNI, no redirects."""

from __future__ import annotations

import http.client
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cockpit import __version__
from cockpit.config import HttpHealthCheck
from cockpit.outside import outside_text

BODY_SNIPPET_CHARS = 80
BODY_READ_BYTES = 16384
# Every HTTP request the cockpit makes says this, so access logs can leave the probes out.
PROBE_USER_AGENT = f"cutover-cockpit/{__version__} probe"
_PROBE_AGENT_PREFIX, _PROBE_AGENT_SUFFIX = "cutover-cockpit/", " probe"


@dataclass(frozen=True)
class HttpAnswer:
    """What a health URL answered: status, redirect target, the start of the body, latency."""

    status_code: int
    location: str | None
    body_start: bytes
    latency_seconds: float


def is_probe_user_agent(user_agent: str) -> bool:
    """Whether an access log's user agent is a cockpit's probe (of this or any version)."""
    return user_agent.startswith(_PROBE_AGENT_PREFIX) and user_agent.endswith(_PROBE_AGENT_SUFFIX)


@dataclass(frozen=True)
class HttpProbeOptions:
    """How to reach a target by its real name before DNS points there.

    host_header is sent as Host; tls_server_name is sent as SNI and is the name the
    certificate must carry (instead of the URL's host); ca_file's CAs are trusted instead of
    the system's, as with curl --cacert.
    """

    host_header: str | None = None
    tls_server_name: str | None = None
    ca_file: str | None = None

    @classmethod
    def of(cls, check: HttpHealthCheck) -> HttpProbeOptions:
        return cls(check.host_header, check.tls_server_name, check.ca_file)


class _NamedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection whose SNI and certificate name check use a given server name."""

    def __init__(self, *args: Any, server_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        context = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(self.sock, server_hostname=self._server_name)


def _connection(
    url: str, timeout_seconds: float, options: HttpProbeOptions
) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    if parts.scheme != "https":
        return http.client.HTTPConnection(host, port, timeout=timeout_seconds)
    context = ssl.create_default_context(cafile=options.ca_file)
    return _NamedHTTPSConnection(
        host,
        port,
        timeout=timeout_seconds,
        context=context,
        server_name=options.tls_server_name or host,
    )


def fetch_http(
    url: str, timeout_seconds: float, options: HttpProbeOptions | None = None
) -> HttpAnswer:
    """One GET of `url` (http or https), redirects not followed; raises when nothing answers."""
    options = options or HttpProbeOptions()
    parts = urlsplit(url)
    connection = _connection(url, timeout_seconds, options)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"User-Agent": PROBE_USER_AGENT}
    if options.host_header:
        headers["Host"] = options.host_header
    started = time.perf_counter()
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body_start = response.read(BODY_READ_BYTES)
        latency_seconds = time.perf_counter() - started
        return HttpAnswer(
            response.status, response.getheader("Location"), body_start, latency_seconds
        )
    finally:
        connection.close()


def display_url(url: str) -> str:
    """The URL without any user:password@ part, fit for the screen and the journal."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def printable_snippet(body: bytes, limit: int = BODY_SNIPPET_CHARS) -> str:
    """The body's first `limit` printable characters, whitespace runs made single spaces."""
    return outside_text(body.decode("utf-8", errors="replace"), limit)
