"""HTTP health checks: expected body, the probe's user agent and Host header, config rules."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from cockpit import __version__
from cockpit.config import HttpHealthCheck
from cockpit.io.http import (
    PROBE_USER_AGENT,
    HttpAnswer,
    HttpProbeOptions,
    fetch_http,
    is_probe_user_agent,
)
from cockpit.model import Status
from cockpit.sources.targets import classify_http_answer

URL = "http://10.0.0.1/health"


def test_expected_body_present_or_not() -> None:
    ok, entry = classify_http_answer(HttpAnswer(200, None, b"status: ok", 0.004), 200, URL, "ok")
    assert (ok.status, entry.state) == (Status.OK, "healthy")
    page = b"<html>\x1b[2J<h1>Welcome to nginx!</h1>\n</html>"
    wrong, entry = classify_http_answer(HttpAnswer(200, None, page, 0.004), 200, URL, "ok")
    assert wrong.status is Status.CRITICAL and entry.state == "unhealthy"
    assert wrong.detail == (
        'HTTP 200 in 4.0 ms but the body lacks "ok": '
        "<html>\\x1b[2J<h1>Welcome to nginx!</h1> </html>"
    )
    assert "\x1b" not in wrong.detail and entry.reason is not None
    empty, _ = classify_http_answer(HttpAnswer(200, None, b"", 0.004), 200, URL, "ok")
    assert empty.detail.endswith(": (empty body)")


def test_a_redirect_stays_unhealthy_with_an_expected_body() -> None:
    answer = HttpAnswer(301, "https://x/\x1b[31m", b"ok", 0.001)
    moved, _ = classify_http_answer(answer, 200, URL, "ok")
    assert moved.status is Status.CRITICAL
    assert moved.detail == "redirect (HTTP 301 to https://x/\\x1b[31m) is not healthy"


def test_one_probe_user_agent() -> None:
    assert f"cutover-cockpit/{__version__} probe" == PROBE_USER_AGENT
    assert is_probe_user_agent(PROBE_USER_AGENT)
    assert is_probe_user_agent("cutover-cockpit/0.0.9 probe")
    assert not is_probe_user_agent("cutover-cockpit")
    assert not is_probe_user_agent("Mozilla/5.0 (cutover-cockpit/0.1.0 probe)")


@pytest.fixture
def echo_url() -> Iterator[str]:
    """A loopback server answering with the Host and User-Agent it received."""

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"{self.headers['Host']}|{self.headers['User-Agent']}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/health"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_probe_sends_its_agent_and_the_host_header(echo_url: str) -> None:
    plain = fetch_http(echo_url, 5)
    host_port = echo_url.split("/")[2]
    assert plain.body_start.decode() == f"{host_port}|{PROBE_USER_AGENT}"
    named = fetch_http(echo_url, 5, HttpProbeOptions(host_header="shop.example.com"))
    assert named.body_start.decode() == f"shop.example.com|{PROBE_USER_AGENT}"


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"tls_server_name": "shop.example.com"}, "tls_server_name need an https:// url"),
        ({"ca_file": "/etc/ca.pem"}, "ca_file need an https:// url"),
        ({"host_header": "not a host"}, "is not a DNS name"),
        ({"host_header": "shop.example.com:99999"}, "invalid port"),
        ({"expect_body": ""}, "expect_body"),
    ],
)
def test_config_refuses_inconsistent_checks(keys: dict[str, str], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        HttpHealthCheck.model_validate({"name": "x", "side": "new", "url": URL, **keys})


def test_config_accepts_a_check_by_name() -> None:
    check = HttpHealthCheck.model_validate(
        {
            "name": "x",
            "side": "new",
            "url": "https://10.0.0.1:8443/health",
            "host_header": "shop.example.com:8443",
            "tls_server_name": "shop.example.com",
            "ca_file": "/etc/ca.pem",
            "expect_body": "ok",
        }
    )
    assert HttpProbeOptions.of(check) == HttpProbeOptions(
        "shop.example.com:8443", "shop.example.com", "/etc/ca.pem"
    )
