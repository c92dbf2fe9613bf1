"""Hostile text from every source never reaches a terminal, and no secret escapes, end to end.

Each source reads a peer that answers with escapes and echoes secrets: an HTTP health
endpoint (status line and body), a Prometheus error, an AWS-shaped XML error, a DNS server
with control bytes in names, a PostgreSQL server's FATAL text, an access log, a maintenance
webhook's error page. The assertions are on the raw bytes each command writes (stdout, the
screen through a pseudo-terminal), on the journal file, and on the reports made from it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cockpit.deliberate_input import QUIET_BEFORE_SECONDS
from tests.hostile_servers import Secrets, hostile_dns, hostile_http, hostile_postgres

# Terminal control the hostile peers send; none of it may be written by the cockpit. (The
# cockpit's screen has escapes and bells of its own, so these are the injected sequences.)
INJECTED = (
    b"\x1b]0;PWNED",  # set the window/pane title
    b"PWNED-TITLE\x07",  # the bell that ends it
    b"\x1b[2J",  # clear the screen
    b"\xc2\x9b",  # C1 CSI, which some terminals take for ESC [
    b"\xe2\x80\xae",  # right-to-left override
)
ACCESS_LOG_LINES = (
    '127.0.0.1 - - [03/Dec/2026:02:00:00 +0000] "GET /\x1b]0;PWNED-LOG\x07 HTTP/1.1" 500 1 "-" '
    '"\x1b[2J"\n',
    "\x1b]0;PWNED-LOG\x07 not a log line at all\n",
)
SCREEN_SIZE = (200, 60)


@dataclass(frozen=True)
class Hostile:
    """A config whose every source reads a hostile peer, and the environment it needs."""

    config_path: Path
    journal_dir: Path
    env: dict[str, str]
    secrets: Secrets


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Hostile]:
    secrets = Secrets()
    access_log = tmp_path / "access.log"
    access_log.write_text("".join(ACCESS_LOG_LINES), encoding="utf-8")
    with hostile_http(secrets) as url, hostile_dns() as resolver, hostile_postgres() as dsn:
        config = tmp_path / "hostile.toml"
        postgres_section = {"dsn": dsn, "password_env": "HOSTILE_PG_PASSWORD"}
        config.write_text(
            _config_text(url, resolver, postgres_section, access_log, tmp_path / "journal")
        )
        env = {
            **os.environ,
            "HOSTILE_PG_PASSWORD": secrets.db_password,
            "HOSTILE_WEBHOOK_TOKEN": secrets.webhook_token,
            "HOSTILE_SHOP_TOKEN": secrets.shop_api_token,
            "AWS_ACCESS_KEY_ID": "AKIAHOSTILEEXAMPLE12",
            "AWS_SECRET_ACCESS_KEY": "hostile-secret-access-key-value",
            "TZ": "UTC",
        }
        yield Hostile(config, tmp_path / "journal", env, secrets)


def _config_text(
    url: str, resolver: str, postgres: dict[str, str], access_log: Path, journal: Path
) -> str:
    return f"""
[cutover]
name = "hostile"
refresh_seconds = 1.0

[journal]
dir = {json.dumps(str(journal))}

[aws]
region = "eu-west-1"
endpoint_url = "{url}"
max_attempts = 1

[replication.postgres]
primary_dsn = {json.dumps(postgres["dsn"])}
replica_dsn = {json.dumps(postgres["dsn"])}
password_env = "{postgres["password_env"]}"

[[targets.http]]
name = "hostile-app"
side = "new"
url = "{url}/health"

[dns]
resolvers = ["{resolver}"]
records = [{{ name = "app.hostile.test", type = "A", expect = ["192.0.2.1"], old = ["192.0.2.2"] }}]

[errors.prometheus]
url = "{url}"
old_error_ratio_query = "old"
new_error_ratio_query = "new"

[[errors.access_logs]]
side = "old"
path = {json.dumps(str(access_log))}
format = "combined"

[traffic.route53]
hosted_zone_id = "ZHOSTILE"
record_name = "app.hostile.test"
record_type = "A"
old_set_identifier = "old"
new_set_identifier = "new"

[maintenance]
probe_url = "{url}/probe"

[maintenance.webhook]
on_url = "{url}/webhook-on"
off_url = "{url}/webhook-off"
token_env = "HOSTILE_WEBHOOK_TOKEN"
timeout_seconds = 5.0

[secrets]
env = ["HOSTILE_SHOP_TOKEN"]
"""


def cockpit(hostile: Hostile, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *map(str, args)],
        capture_output=True,
        timeout=180,
        check=False,
        env=hostile.env,
        stdin=subprocess.DEVNULL,
    )


def assert_clean(output: bytes, secrets: Secrets, where: str) -> None:
    """No injected terminal control, and no piece of any secret (8 characters or more)."""
    for sequence in INJECTED:
        assert sequence not in output, f"{where} wrote {sequence!r}"
    text = output.decode("utf-8", errors="replace")
    for secret in secrets.values():
        pieces = {secret[start : start + 8] for start in range(len(secret) - 7)}
        leaked = sorted(piece for piece in pieces if piece in text)
        assert not leaked, f"{where} leaked {leaked} of a secret"


def assert_plain(output: bytes, where: str) -> None:
    """Output for a pipe: no escape character at all, only line breaks and tabs as controls."""
    assert b"\x1b" not in output, f"{where} wrote an escape character"
    controls = {byte for byte in output if byte < 0x20 and byte not in (0x0A, 0x09)}
    assert not controls, f"{where} wrote control bytes {sorted(controls)}"
    assert_no_c1(output, where)


def assert_no_c1(output: bytes, where: str) -> None:
    text = output.decode("utf-8", errors="replace")
    c1 = {char for char in text if 0x80 <= ord(char) <= 0x9F}
    assert not c1, f"{where} wrote C1 controls {sorted(c1)}"


def journal_of(hostile: Hostile) -> Path:
    found = sorted(hostile.journal_dir.glob("*.jsonl"))
    assert found, f"no journal in {hostile.journal_dir}"
    return found[-1]


# --- headless commands ------------------------------------------------------------------------


def test_check_prints_hostile_text_spelled_out_and_no_secret(hostile: Hostile) -> None:
    human = cockpit(hostile, "check", "-c", hostile.config_path)
    as_json = cockpit(hostile, "check", "-c", hostile.config_path, "--json")

    for name, result in (("check", human), ("check --json", as_json)):
        assert result.returncode in (1, 2), result.stderr.decode(errors="replace")
        assert_plain(result.stdout + result.stderr, name)
        assert_clean(result.stdout + result.stderr, hostile.secrets, name)
    readings = {r["signal"]: r for r in json.loads(as_json.stdout)["readings"]}
    # The hostile text arrived, spelled out, from each kind of peer.
    assert "\\x1b]0;PWNED-TITLE\\x07" in readings["targets:hostile-app"]["detail"]
    assert "db down; api ***" in readings["targets:hostile-app"]["detail"]
    assert "PWNED-PROM" in readings["errors:prometheus:new"]["detail"]
    assert "\\x9b2J PWNED-AWS \\u202e" in readings["traffic"]["detail"]
    assert "PWNED-PG" in readings["replication"]["detail"]
    assert "pwned-dns" in json.dumps(readings["dns:app.hostile.test"]).lower()


def test_act_output_and_its_journal_hold_no_secret_and_no_escape(hostile: Hostile) -> None:
    result = cockpit(hostile, "act", "maintenance-on", "-c", hostile.config_path, "--yes")

    output = result.stdout + result.stderr
    assert result.returncode == 1, output.decode(errors="replace")
    assert b"answered HTTP 500" in output
    assert_plain(output, "act")
    assert_clean(output, hostile.secrets, "act")
    journal = journal_of(hostile).read_bytes()
    assert b"answered HTTP 500" in journal
    assert b"\\u001b" not in journal and b"\\u0007" not in journal
    assert_clean(journal, hostile.secrets, "the act journal")
    for report_format in ("md", "json"):
        report = cockpit(hostile, "report", journal_of(hostile), "--format", report_format)
        assert report.returncode == 0, report.stderr.decode(errors="replace")
        assert b"answered HTTP 500" in report.stdout
        assert_plain(report.stdout + report.stderr, f"report --format {report_format}")
        assert_clean(report.stdout, hostile.secrets, f"report --format {report_format}")
    verify = cockpit(hostile, "verify", journal_of(hostile))
    assert verify.returncode == 0, verify.stderr.decode(errors="replace")
    assert b"anchors" in verify.stdout  # the sidecar written beside it was checked too
    assert_plain(verify.stdout + verify.stderr, "verify")


# --- the screen, through a pseudo-terminal ----------------------------------------------------


class Terminal:
    """A process on a pseudo-terminal of a fixed size; every byte it writes is kept."""

    def __init__(self, command: list[str], env: dict[str, str], size: tuple[int, int]) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.primary, secondary = pty.openpty()
        columns, rows = size
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.process = subprocess.Popen(
            command,
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            env={**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)},
            start_new_session=True,
        )
        os.close(secondary)
        self.output = bytearray()

    def read_until(self, wanted: bytes, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while wanted not in self.output:
            alive = self._read(0.5)
            if time.monotonic() > deadline or (not alive and self.process.poll() is not None):
                tail = bytes(self.output[-3000:]).decode(errors="replace")
                raise AssertionError(f"{wanted!r} never appeared; last output:\n{tail}")

    def _read(self, seconds: float) -> bool:
        ready, _, _ = select.select([self.primary], [], [], seconds)
        if not ready:
            return True
        try:
            chunk = os.read(self.primary, 65536)
        except OSError:
            return False
        self.output += chunk
        return bool(chunk)

    def send(self, keys: bytes) -> None:
        os.write(self.primary, keys)

    def finish(self, seconds: float) -> None:
        """Reads until the process exits; stops it (by its own PID) if it does not."""
        deadline = time.monotonic() + seconds
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        while self._read(0.1) and select.select([self.primary], [], [], 0)[0]:
            pass
        os.close(self.primary)


def run_on_screen(hostile: Hostile, *args: str | Path, until: bytes) -> bytes:
    command = [sys.executable, "-m", "cockpit", *map(str, args)]
    terminal = Terminal(command, hostile.env, SCREEN_SIZE)
    try:
        terminal.read_until(until, 120)
        # The operator's pause before `q`: a quit right after other input is taken for typing.
        time.sleep(QUIET_BEFORE_SECONDS + 0.2)
        terminal.send(b"q")
        terminal.finish(60)
    finally:
        if terminal.process.poll() is None:
            os.killpg(terminal.process.pid, signal.SIGTERM)
    return bytes(terminal.output)


def assert_screen_clean(output: bytes, secrets: Secrets, where: str) -> None:
    """The cockpit draws with escapes of its own; none of the injected ones may be among them."""
    assert_clean(output, secrets, where)
    assert_no_c1(output, where)


def test_the_screen_and_its_replay_draw_hostile_text_spelled_out(hostile: Hostile) -> None:
    live = run_on_screen(
        hostile, "run", "--read-only", "-c", hostile.config_path, until=b"PWNED-TITLE"
    )
    assert b"\\x1b]0;PWNED-TITLE" in live
    assert_screen_clean(live, hostile.secrets, "the cockpit screen")

    journal = journal_of(hostile)
    assert_clean(journal.read_bytes(), hostile.secrets, "the session journal")
    verify = cockpit(hostile, "verify", journal)
    assert verify.returncode == 0, verify.stderr.decode(errors="replace")
    replayed = run_on_screen(hostile, "replay", journal, until=b"PWNED-TITLE")
    assert b"\\x1b]0;PWNED-TITLE" in replayed
    assert_screen_clean(replayed, hostile.secrets, "cockpit replay")
    report = cockpit(hostile, "report", journal)
    assert_plain(report.stdout + report.stderr, "report of the screen session")
    assert_clean(report.stdout, hostile.secrets, "report of the screen session")
