"""`cockpit serve`: the follow view of a session, read-only, in browsers, through textual-serve.

Each browser that opens the page gets its own `cockpit replay --follow` of the journal, so a
viewer who joins late sees the session as it is now. Three things keep it safe to hand out:
- it binds to loopback unless told otherwise, so it is reached through an SSH tunnel;
- every page and socket path carries a random token printed at start (no token, no page), and
  no access log is written, so the token stays on the operator's terminal;
- what a browser sends as keys or clicks is dropped before it reaches the view: a viewer can
  watch, never act, note or override (the follow view has none of those either).
The view shows only what the journal holds, which was redacted when it was written, and the
follow view sanitizes it again as it draws.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import secrets
import shlex
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from cockpit.exit_codes import EXIT_COULD_NOT_RUN, EXIT_OK

TOKEN_BYTES = 24
VIEW_QUIT_SECONDS = 3.0
VIEW_PREFIX = "/view"
LOOPBACK_NAMES = ("localhost",)
FORWARDED_KINDS = frozenset({"resize", "ping"})
"""What a browser may send on to its view: its size and a ping. Keys, clicks, focus: dropped."""

Say = Callable[[str], None]


@dataclass(frozen=True)
class ServeRequest:
    """What to serve and where: the journal, the address, and whether non-loopback is allowed."""

    journal: Path
    host: str = "127.0.0.1"
    port: int = 8765
    allow_remote: bool = False


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_matches(given: str, token: str) -> bool:
    """The token compared in constant time, so its characters cannot be guessed one by one."""
    return hmac.compare_digest(given.encode(), token.encode())


def viewer_command(journal: Path) -> str:
    """The shell command each browser's view runs: this Python, following the journal without
    the approve key (exec, so the view is the process textual-serve started and can end)."""
    parts = [sys.executable, "-m", "cockpit", "replay", "--follow", "--no-approve", str(journal)]
    return "exec " + shlex.join(parts)


def view_url(host: str, port: int, token: str) -> str:
    shown_host = f"[{host}]" if ":" in host else host
    return f"http://{shown_host}:{port}{VIEW_PREFIX}/{token}/"


def page_html(static_url: str, websocket_url: str) -> str:
    """The one page a viewer loads: textual-serve's terminal, nothing fetched from elsewhere."""
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>cutover-cockpit · read-only view</title>
<link rel="stylesheet" href="{escape(static_url)}css/xterm.css">
<script src="{escape(static_url)}js/textual.js"></script>
<style>
body {{ background: #0c181f; margin: 0; }}
.textual-terminal {{ width: 100vw; height: 100vh; }}
</style>
</head>
<body>
<div class="textual-terminal" data-session-websocket-url="{escape(websocket_url)}"
     data-font-size="16"></div>
</body>
</html>
"""


def make_server(request: ServeRequest, token: str) -> Any:
    """A textual-serve server whose pages need the token and whose views take no input."""
    from aiohttp import WSMsgType, web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server

    class ReadOnlyServer(Server):
        """textual-serve with the token in every path and the browser's input dropped."""

        def __init__(self, command: str, **options: Any) -> None:
            super().__init__(command, **options)
            self.viewers: dict[web.WebSocketResponse, AppService] = {}

        async def _make_app(self) -> web.Application:
            app = web.Application()
            app.add_routes(
                [
                    web.get(f"{VIEW_PREFIX}/{{token}}/", self.handle_index),
                    web.get(f"{VIEW_PREFIX}/{{token}}/ws", self.handle_websocket),
                    web.static("/static", self.statics_path, name="static"),
                ]
            )
            app.on_shutdown.append(self._close_viewers)
            return app

        async def _close_viewers(self, _: web.Application) -> None:
            """Each viewer's socket closed and its view process ended (killed, by its own
            process handle, if it does not quit in time)."""
            viewers = list(self.viewers.items())
            for websocket, _service in viewers:
                with contextlib.suppress(Exception):
                    await websocket.close()
            for _websocket, service in viewers:
                await _end_view(service)

        async def handle_index(self, request: web.Request) -> web.Response:
            given = request.match_info.get("token", "")
            if not token_matches(given, token):
                raise web.HTTPNotFound()
            base = f"{VIEW_PREFIX}/{given}/"
            html = page_html("/static/", _websocket_url(request, f"{base}ws"))
            headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
            return web.Response(text=html, content_type="text/html", headers=headers)

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            if not token_matches(request.match_info.get("token", ""), token):
                raise web.HTTPNotFound()
            return await super().handle_websocket(request)

        async def _process_messages(
            self, websocket: web.WebSocketResponse, app_service: AppService
        ) -> None:
            self.viewers[websocket] = app_service
            try:
                await self._drop_input(websocket, app_service)
            finally:
                self.viewers.pop(websocket, None)

        async def _drop_input(
            self, websocket: web.WebSocketResponse, app_service: AppService
        ) -> None:
            async for message in websocket:
                if message.type != WSMsgType.TEXT:
                    continue
                envelope = _envelope(message.data)
                if envelope is None or envelope[0] not in FORWARDED_KINDS:
                    continue
                kind, data = envelope
                if kind == "resize" and isinstance(data, dict):
                    await _resize(app_service, data)
                elif kind == "ping":
                    await websocket.send_json(["pong", data])

    return ReadOnlyServer(
        viewer_command(request.journal),
        host=request.host,
        port=request.port,
        title="cutover-cockpit",
    )


async def _end_view(service: Any) -> None:
    """Asks a view to quit; kills its process if it has not within VIEW_QUIT_SECONDS."""
    process = getattr(service, "_process", None)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(service.stop(), VIEW_QUIT_SECONDS)
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait(), VIEW_QUIT_SECONDS)


def _websocket_url(request: Any, path: str) -> str:
    """The socket's URL as the browser reached the page (through a tunnel, its own port)."""
    scheme = "wss" if request.secure else "ws"
    return f"{scheme}://{request.host}{path}"


def _envelope(text: str) -> tuple[str, object] | None:
    import json

    try:
        decoded = json.loads(text)
    except ValueError:
        return None
    if not isinstance(decoded, list) or len(decoded) < 2 or not isinstance(decoded[0], str):
        return None
    return decoded[0], decoded[1]


async def _resize(app_service: Any, data: dict[str, object]) -> None:
    width, height = data.get("width"), data.get("height")
    if isinstance(width, int) and isinstance(height, int) and 0 < width < 1000 and 0 < height < 500:
        await app_service.set_terminal_size(width, height)


def serve(request: ServeRequest, say: Say) -> int:
    """Serves until interrupted; 0 after a clean stop, 3 when it cannot start (said why)."""
    problem = _request_problem(request)
    if problem is not None:
        say(f"cockpit serve: {problem}")
        return EXIT_COULD_NOT_RUN
    token = secrets.token_urlsafe(TOKEN_BYTES)
    server = make_server(request, token)
    try:
        asyncio.run(_run(server, request, token, say))
    except OSError as error:
        say(f"cockpit serve: cannot listen on {request.host}:{request.port}: {error.strerror}")
        return EXIT_COULD_NOT_RUN
    return EXIT_OK


def _request_problem(request: ServeRequest) -> str | None:
    if not request.journal.is_file():
        return (
            f"{request.journal} is not a journal file: give the path of a session journal, "
            "or --follow with -c to serve the newest one"
        )
    if not is_loopback(request.host) and not request.allow_remote:
        return (
            f"{request.host} is not a loopback address: the view would be reachable from the "
            "network. Keep the default (127.0.0.1) and use an SSH tunnel, or add --allow-remote"
        )
    return None


async def _run(server: Any, request: ServeRequest, token: str, say: Say) -> None:
    """Listens until SIGINT or SIGTERM, then closes every viewer."""
    from aiohttp import web

    stopped = _stop_on_signals()
    app = await server._make_app()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, request.host, request.port)
    try:
        await site.start()
        port = _bound_port(site, request.port)
        _say_started(request, port, token, say)
        await stopped.wait()
    finally:
        await runner.cleanup()


def _bound_port(site: Any, asked: int) -> int:
    """The port really listened on (asked 0: the one the system chose)."""
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or ()
    for sock in sockets:
        return int(sock.getsockname()[1])
    return asked


def _say_started(request: ServeRequest, port: int, token: str, say: Say) -> None:
    say(f"serving {request.journal.name} read-only at {view_url(request.host, port, token)}")
    say(
        f"from your machine: ssh -N -L {port}:{request.host}:{port} <bastion>, then open the "
        "URL above; viewers can watch, never act. Ctrl-C stops serving."
    )


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, handled from before the URL is said."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    return stopped
