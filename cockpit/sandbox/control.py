"""The runner's control API on loopback (JSON over HTTP), and the client scripts and tests use."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from cockpit.sandbox.scenarios import ScenarioArgs, inject
from cockpit.sandbox.shared import SandboxError

if TYPE_CHECKING:
    from cockpit.sandbox.runner import Sandbox

HOST = "127.0.0.1"


class ControlServer:
    """POST /inject, POST /reset, POST /stop, GET /status, GET /requests against one Sandbox."""

    def __init__(self, sandbox: Sandbox, *, on_stop: Callable[[], None]) -> None:
        self._sandbox = sandbox
        self._on_stop = on_stop
        self._server = ThreadingHTTPServer((HOST, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def handle(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One request's answer; SandboxError becomes a 400 with its message."""
        if (method, path) == ("GET", "/status"):
            return {"ok": True, "status": self._sandbox.status()}
        if (method, path) == ("POST", "/inject"):
            args = ScenarioArgs.from_json(body.get("args") or {})
            return {"ok": True, "detail": inject(self._sandbox, str(body.get("scenario")), args)}
        if (method, path) == ("POST", "/reset"):
            self._sandbox.reset()
            return {"ok": True, "detail": "sandbox reset"}
        if (method, path) == ("GET", "/requests"):
            return {"ok": True, "requests": self._sandbox.requests()}
        if (method, path) == ("POST", "/requests/clear"):
            self._sandbox.clear_requests()
            return {"ok": True, "detail": "request log cleared"}
        if (method, path) == ("POST", "/stop"):
            self._on_stop()
            return {"ok": True, "detail": "stopping"}
        raise SandboxError(f"no such control request: {method} {path}")


def _handler_for(control: ControlServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, reply = 200, control.handle(method, self.path, body)
            except (SandboxError, ValueError, TypeError) as error:
                status, reply = 400, {"ok": False, "error": str(error)}
            except Exception as error:
                status, reply = 500, {"ok": False, "error": f"{type(error).__name__}: {error}"}
            payload = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class ControlClient:
    """Talks to a running sandbox's control API."""

    def __init__(self, url: str, timeout_seconds: float = 60.0) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds

    def inject(self, scenario: str, **args: Any) -> str:
        reply = self._call("POST", "/inject", {"scenario": scenario, "args": args})
        return str(reply.get("detail", ""))

    def reset(self) -> None:
        self._call("POST", "/reset", {})

    def status(self) -> dict[str, Any]:
        status = self._call("GET", "/status", None).get("status", {})
        return status if isinstance(status, dict) else {}

    def requests(self) -> dict[str, Any]:
        """What the sandbox received since the last reset or clear (shape: Sandbox.requests)."""
        requests = self._call("GET", "/requests", None).get("requests", {})
        return requests if isinstance(requests, dict) else {}

    def clear_requests(self) -> None:
        self._call("POST", "/requests/clear", {})

    def request_stop(self) -> None:
        self._call("POST", "/stop", {})

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                reply = json.loads(response.read())
        except urllib.error.HTTPError as error:
            reply = _error_reply(error)
        except (urllib.error.URLError, OSError) as error:
            message = f"the sandbox's control API at {self.url} did not answer: {error}"
            raise SandboxError(message) from None
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise SandboxError(str(reply.get("error") if isinstance(reply, dict) else reply))
        return reply


def _error_reply(error: urllib.error.HTTPError) -> Any:
    try:
        return json.loads(error.read())
    except ValueError:
        return {"ok": False, "error": f"HTTP {error.code}"}
