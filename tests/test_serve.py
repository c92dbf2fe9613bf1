"""`cockpit serve` without a browser: loopback only unless asked, no page or socket without the
token, a page that fetches nothing from elsewhere, and a clean stop on SIGTERM.

The journal here is any file: no viewer is started until a browser opens the socket (the
browser test in tests/ui/test_serve_browser.py does that against a live session).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from cockpit.commands.serve import is_loopback, page_html, token_matches, viewer_command
from tests.serve_support import ServeProcess


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServeProcess, str]]:
    journal = tmp_path / "20261204T010000Z-shop-1.jsonl"
    journal.write_text("{}\n")
    server = ServeProcess(journal)
    try:
        yield server, server.url()
    finally:
        server.stop()


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_only_loopback_addresses_count_as_loopback() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.9.9.9", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "bastion.example"))


def test_the_token_must_match_exactly() -> None:
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc") and not token_matches("", "abc")


def test_each_viewer_follows_the_journal_in_place_of_the_shell() -> None:
    command = viewer_command(Path("/srv/journal dir/it's.jsonl"))
    assert command.startswith(f"exec {sys.executable} -m cockpit replay --follow --no-approve ")
    assert command.endswith("'/srv/journal dir/it'\"'\"'s.jsonl'")


def test_the_page_escapes_what_it_is_given_and_loads_nothing_from_elsewhere() -> None:
    page = page_html("/static/", 'ws://h/view/t/ws"><script>')
    assert 'data-session-websocket-url="ws://h/view/t/ws&quot;&gt;&lt;script&gt;"' in page
    assert "https://" not in page and "http://" not in page


def test_a_non_loopback_address_is_refused_unless_allowed(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    journal.write_text("{}\n")
    command = [sys.executable, "-m", "cockpit", "serve", str(journal), "--host", "0.0.0.0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 3
    assert "0.0.0.0 is not a loopback address" in result.stderr
    assert "--allow-remote" in result.stderr and "Traceback" not in result.stderr


def test_journal_or_follow_is_required_and_follow_needs_a_session(tmp_path: Path) -> None:
    cockpit = [sys.executable, "-m", "cockpit", "serve"]
    neither = subprocess.run(cockpit, capture_output=True, text=True, timeout=60, check=False)
    assert neither.returncode == 3 and "give a JOURNAL or --follow" in neither.stderr
    config = tmp_path / "cockpit.toml"
    config.write_text('[cutover]\nname = "shop"\n[journal]\ndir = "journal"\n')
    follow = subprocess.run(
        [*cockpit, "--follow", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert follow.returncode == 3
    assert "no session journal of 'shop'" in follow.stderr and "Traceback" not in follow.stderr


def test_no_page_without_the_token(served: tuple[ServeProcess, str]) -> None:
    server, url = served
    base, token = url.rstrip("/").rsplit("/", 1)
    root = base.removesuffix("/view")
    assert status_of(url) == 200
    assert status_of(f"{base}/{token[:-1]}x/") == 404
    assert status_of(f"{base}/") == 404
    assert status_of(f"{root}/") == 404
    assert status_of(f"{root}/ws") == 404
    with urllib.request.urlopen(url, timeout=10) as response:
        page = response.read().decode()
    assert f"/view/{token}/ws" in page and "googleapis" not in page
    assert token not in "\n".join(server.said[1:]), "the token is said once, at start"


def test_no_socket_without_the_token(served: tuple[ServeProcess, str]) -> None:
    _, url = served
    base, token = url.rstrip("/").rsplit("/", 1)
    wrong = f"{base.replace('http://', 'ws://')}/{token[:-1]}x/ws"

    async def connect() -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(wrong):
                    return 101
            except aiohttp.WSServerHandshakeError as error:
                return error.status

    assert asyncio.run(connect()) == 404


def test_sigterm_stops_it_cleanly(served: tuple[ServeProcess, str]) -> None:
    server, _ = served
    assert server.stop() == 0
    assert not any("Traceback" in line for line in server.said)
