"""Maintenance mode backends: the ALB rule against the sandbox, webhook and command on loopback.

The webhook and command backends cannot use AWS. Their tests run a small loopback HTTP server
that stands in for the real front door (and, for the webhook, for the service switching it):
its answer depends on a flag the switch sets, so the reader has something real to probe.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cockpit.config import MaintenanceSection, load_config
from cockpit.io.context import AwsClients
from cockpit.io.failures import ActionFailed
from cockpit.io.maintenance import (
    MaintenanceReader,
    MaintenanceWriter,
    describe_maintenance_target,
    judge_probe,
    output_tail,
    planned_maintenance_calls,
    rule_at_priority,
)
from cockpit.redact import redactor_for, remember_secrets
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.sandbox.test_sandbox import aws_client

LISTENER_ARN = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/50dc6c49/f2f7dc8e"
)
TOKEN = "s3cret-maintenance-token-1234"
TOKEN_ENV = "MAINT_TOKEN"


def alb_section(**alb: Any) -> MaintenanceSection:
    return MaintenanceSection.model_validate(
        {"probe_url": "http://127.0.0.1:8080/", "alb": {"listener_arn": LISTENER_ARN, **alb}}
    )


def webhook_section(base_url: str, **hook: Any) -> MaintenanceSection:
    webhook = {"on_url": f"{base_url}/on", "off_url": f"{base_url}/off", **hook}
    return MaintenanceSection.model_validate({"probe_url": f"{base_url}/", "webhook": webhook})


def command_section(
    probe_url: str | None, on: list[str], off: list[str], **command: Any
) -> MaintenanceSection:
    section: dict[str, Any] = {"command": {"on": tuple(on), "off": tuple(off), **command}}
    if probe_url is not None:
        section["probe_url"] = probe_url
    return MaintenanceSection.model_validate(section)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_status(url: str) -> int:
    """An independent GET of the front door."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# --- pure: the plan -------------------------------------------------------------------------


def test_the_alb_target_and_calls_name_listener_priority_and_response() -> None:
    section = alb_section(rule_priority=7, status_code=503, content_type="text/plain")
    assert describe_maintenance_target(section) == (
        "ALB listener listener/app/web/50dc6c49/f2f7dc8e rule priority 7 (fixed 503)"
    )
    assert planned_maintenance_calls(section, turn_on=True) == (
        "elbv2 CreateRule on listener listener/app/web/50dc6c49/f2f7dc8e: priority 7, "
        "path /*, fixed-response 503 text/plain",
    )
    assert planned_maintenance_calls(section, turn_on=False) == (
        "elbv2 DeleteRule <rule arn found at priority 7> on listener "
        "listener/app/web/50dc6c49/f2f7dc8e",
    )


def test_the_webhook_plan_names_the_token_variable_never_its_value() -> None:
    section = webhook_section("https://ops.example.com/maint", method="PUT", token_env=TOKEN_ENV)
    assert describe_maintenance_target(section) == (
        "webhook PUT https://ops.example.com/maint/on (off: https://ops.example.com/maint/off)"
    )
    assert planned_maintenance_calls(section, turn_on=True) == (
        "HTTP PUT https://ops.example.com/maint/on (token from $MAINT_TOKEN)",
    )
    assert planned_maintenance_calls(section, turn_on=False) == (
        "HTTP PUT https://ops.example.com/maint/off (token from $MAINT_TOKEN)",
    )


def test_the_command_plan_is_the_command_line_and_its_timeout() -> None:
    section = command_section(None, ["./maint.sh", "on"], ["./maint.sh", "off", "now please"])
    assert describe_maintenance_target(section) == (
        "command ./maint.sh on (off: ./maint.sh off 'now please')"
    )
    assert planned_maintenance_calls(section, turn_on=True) == (
        "run: ./maint.sh on (timeout 60 s)",
    )
    assert planned_maintenance_calls(section, turn_on=False) == (
        "run: ./maint.sh off 'now please' (timeout 60 s)",
    )


# --- pure: telling on from off ----------------------------------------------------------------


def test_probe_and_rule_agreeing_decide_and_disagreeing_make_it_unknown() -> None:
    on = judge_probe(503, None, True, None, 503, 1)
    assert (on.on, on.detail, on.probe_status, on.rule_present) == (
        True,
        "front door answers 503",
        503,
        True,
    )
    assert judge_probe(200, None, False, None, 503, 1).on is False
    split = judge_probe(200, None, True, None, 503, 1)
    assert split.on is None
    assert split.detail == (
        "fixed-response rule at priority 1 is in place but the front door answers 200 "
        "(maintenance answers 503)"
    )
    assert judge_probe(503, None, False, None, 503, 1).on is None


def test_one_known_side_decides_alone_and_says_what_was_missing() -> None:
    rule_only = judge_probe(None, "probe http://x/ failed: connection refused", True, None, 503, 2)
    assert rule_only.on is True
    assert rule_only.detail == (
        "fixed-response rule at priority 2 is in place "
        "(front door not probed: probe http://x/ failed: connection refused)"
    )
    probe_only = judge_probe(200, None, None, "listener rules unreadable: access denied", 503, 2)
    assert (probe_only.on, probe_only.detail) == (
        False,
        "front door answers 200 (ALB rule not read: listener rules unreadable: access denied)",
    )
    neither = judge_probe(
        None, "probe failed: timeout", None, "rules unreadable: throttled", 503, 2
    )
    assert (neither.on, neither.detail) == (
        None,
        "probe failed: timeout; rules unreadable: throttled",
    )


def test_rule_at_priority_skips_the_default_rule() -> None:
    rules = [
        {"RuleArn": "a", "Priority": "default", "IsDefault": True},
        {"RuleArn": "b", "Priority": "1", "IsDefault": False},
    ]
    assert rule_at_priority(rules, 1) == rules[1]
    assert rule_at_priority(rules, 2) is None


def test_output_tail_keeps_the_last_lines() -> None:
    output = "\n".join(f"line {n}" for n in range(1, 31)) + "\n\n"
    tail = output_tail(output)
    assert len(tail) == 19
    assert tail[0] == "  line 12" and tail[-1] == "  line 30"


# --- ALB, against the sandbox -----------------------------------------------------------------


@dataclass
class AlbRig:
    """The sandbox's maintenance section with its reader and writer, and an independent client."""

    sandbox: SandboxHandle
    section: MaintenanceSection
    aws: AwsClients

    @property
    def reader(self) -> MaintenanceReader:
        return MaintenanceReader(self.section, self.aws, self.sandbox.env)

    @property
    def writer(self) -> MaintenanceWriter:
        return MaintenanceWriter(self.section, self.aws, self.sandbox.env)

    @property
    def front_door(self) -> str:
        return str(self.sandbox.info["http"]["front_door"]) + "/"

    def rules_at(self, priority: int) -> list[dict[str, Any]]:
        """An independent describe_rules: the rules at `priority`."""
        listener_arn = self.sandbox.info["aws"]["listener_arn"]
        rules = aws_client(self.sandbox, "elbv2").describe_rules(ListenerArn=listener_arn)
        return [rule for rule in rules["Rules"] if rule["Priority"] == str(priority)]


@pytest.fixture
def alb(sandbox: SandboxHandle) -> AlbRig:
    config = load_config(sandbox.config_path)
    assert config.maintenance is not None and config.maintenance.alb is not None
    return AlbRig(sandbox, config.maintenance, AwsClients(config.aws, sandbox.env))


def test_alb_on_puts_the_front_door_in_maintenance_and_off_takes_it_out(alb: AlbRig) -> None:
    before = alb.reader.read()
    assert (before.on, before.probe_status, before.rule_present) == (False, 200, False)

    (evidence,) = alb.writer.switch(True)
    assert evidence.startswith("elbv2 CreateRule on listener listener/app/")
    assert "at priority 1, fixed-response 503 (request id " in evidence
    assert "not reported" not in evidence
    assert http_status(alb.front_door) == 503
    (rule,) = alb.rules_at(1)
    assert rule["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "503"
    assert rule["Conditions"][0]["Values"] == ["/*"]
    on = alb.reader.read()
    assert (on.on, on.probe_status, on.rule_present) == (True, 503, True)
    assert on.detail == "front door answers 503"

    (evidence,) = alb.writer.switch(False)
    assert evidence.startswith("elbv2 DeleteRule listener-rule/app/")
    assert "(request id " in evidence
    assert http_status(alb.front_door) == 200
    assert alb.rules_at(1) == []
    off = alb.reader.read()
    assert (off.on, off.probe_status, off.rule_present) == (False, 200, False)


def test_alb_on_twice_leaves_one_rule(alb: AlbRig) -> None:
    alb.writer.switch(True)
    (evidence,) = alb.writer.switch(True)
    assert "already at priority 1: done" in evidence
    assert len(alb.rules_at(1)) == 1
    assert alb.reader.read().on is True


def test_alb_off_when_already_off_is_done(alb: AlbRig) -> None:
    assert alb.rules_at(1) == []
    (evidence,) = alb.writer.switch(False)
    assert evidence == "elbv2: no rule at priority 1: maintenance already off"
    assert alb.reader.read().on is False


def forward_rule_at(rig: AlbRig, priority: int) -> str:
    """Someone else's rule (a forward to the old group) at `priority`; its ARN."""
    aws = rig.sandbox.info["aws"]
    answer = aws_client(rig.sandbox, "elbv2").create_rule(
        ListenerArn=aws["listener_arn"],
        Priority=priority,
        Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": aws["target_groups"]["old"]}],
    )
    return str(answer["Rules"][0]["RuleArn"])


def test_alb_never_touches_a_foreign_rule_at_its_priority(alb: AlbRig) -> None:
    foreign = forward_rule_at(alb, 1)
    with pytest.raises(ActionFailed) as on_failed:
        alb.writer.switch(True)
    assert "already has rule listener-rule/app/" in str(on_failed.value)
    assert "(forward) at priority 1" in str(on_failed.value)
    assert "maintenance.alb.rule_priority" in str(on_failed.value)
    with pytest.raises(ActionFailed, match=r"\(forward\) at priority 1, not a fixed response"):
        alb.writer.switch(False)
    assert [rule["RuleArn"] for rule in alb.rules_at(1)] == [foreign]
    assert http_status(alb.front_door) == 200


def test_alb_errors_are_worded_and_the_reader_falls_back_to_the_probe(alb: AlbRig) -> None:
    missing = alb.section.alb.model_copy(  # type: ignore[union-attr]
        update={"listener_arn": alb.sandbox.info["aws"]["listener_arn"][:-4] + "0000"}
    )
    section = alb.section.model_copy(update={"alb": missing})
    writer = MaintenanceWriter(section, alb.aws, alb.sandbox.env)
    with pytest.raises(ActionFailed) as failed:
        writer.switch(True)
    message = str(failed.value)
    assert message.startswith("maintenance: elbv2 DescribeRules on listener listener/app/")
    assert "failed: AWS error ListenerNotFound" in message
    assert "Traceback" not in message
    probe = MaintenanceReader(section, alb.aws, alb.sandbox.env).read()
    assert (probe.on, probe.rule_present, probe.probe_status) == (False, None, 200)
    assert probe.detail.startswith("front door answers 200 (ALB rule not read: listener rules")


def test_a_probe_at_an_app_behind_the_door_disagrees_with_the_rule(alb: AlbRig) -> None:
    """The old app itself answers 200 while the ALB answers 503: the reader refuses to guess."""
    section = alb.section.model_copy(update={"probe_url": alb.sandbox.info["http"]["old"] + "/"})
    alb.writer.switch(True)
    probe = MaintenanceReader(section, alb.aws, alb.sandbox.env).read()
    assert (probe.on, probe.probe_status, probe.rule_present) == (None, 200, True)
    assert "is in place but the front door answers 200" in probe.detail


# --- a loopback front door for the webhook and command backends --------------------------------


@dataclass
class StandIn:
    """A front door answering 503 while `maintenance()` says so; records what it was sent."""

    maintenance: Callable[[], bool]
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    answer_status: int = 200
    answer_location: str | None = None
    echo_authorization: bool = False
    switched_to: list[bool] = field(default_factory=list)


def stand_in_handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_GET(self) -> None:
            status = 503 if stand_in.maintenance() else 200
            self._reply(status, b"down for maintenance" if status == 503 else b"shop")

        def do_POST(self) -> None:
            self._switch()

        def do_PUT(self) -> None:
            self._switch()

        def _switch(self) -> None:
            authorization = self.headers.get("Authorization")
            stand_in.requests.append((self.command, self.path, authorization))
            if stand_in.answer_status < 300 and self.path in ("/on", "/off"):
                stand_in.switched_to.append(self.path == "/on")
            body = f"switched; you sent {authorization}" if stand_in.echo_authorization else "ok"
            self._reply(stand_in.answer_status, body.encode())

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            if stand_in.answer_location:
                self.send_header("Location", stand_in.answer_location)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@dataclass
class Served:
    """A running stand-in and its base URL."""

    stand_in: StandIn
    url: str


def serve(stand_in: StandIn) -> Iterator[Served]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), stand_in_handler(stand_in))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(stand_in, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def webhook_door() -> Iterator[Served]:
    """The stand-in as both the webhook service and the front door it switches."""
    stand_in = StandIn(maintenance=lambda: False)
    stand_in.maintenance = lambda: bool(stand_in.switched_to and stand_in.switched_to[-1])
    yield from serve(stand_in)


NO_AWS = AwsClients(None, {})
TOKEN_ENVIRON = {TOKEN_ENV: TOKEN}


# --- webhook ------------------------------------------------------------------------------------


def test_webhook_switches_with_the_bearer_token_and_the_probe_follows(
    webhook_door: Served,
) -> None:
    section = webhook_section(webhook_door.url, token_env=TOKEN_ENV)
    reader = MaintenanceReader(section, NO_AWS, TOKEN_ENVIRON)
    writer = MaintenanceWriter(section, NO_AWS, TOKEN_ENVIRON)
    assert reader.read().on is False

    assert writer.switch(True) == (f"HTTP POST {webhook_door.url}/on → HTTP 200: ok",)
    assert webhook_door.stand_in.requests == [("POST", "/on", f"Bearer {TOKEN}")]
    on = reader.read()
    assert (on.on, on.probe_status, on.rule_present) == (True, 503, None)

    assert writer.switch(False) == (f"HTTP POST {webhook_door.url}/off → HTTP 200: ok",)
    assert webhook_door.stand_in.requests[-1] == ("POST", "/off", f"Bearer {TOKEN}")
    assert reader.read().on is False


def test_webhook_put_without_a_token_sends_no_authorization(webhook_door: Served) -> None:
    section = webhook_section(webhook_door.url, method="PUT")
    MaintenanceWriter(section, NO_AWS, {}).switch(True)
    assert webhook_door.stand_in.requests == [("PUT", "/on", None)]


def test_webhook_token_never_appears_in_evidence_even_when_echoed(webhook_door: Served) -> None:
    webhook_door.stand_in.echo_authorization = True
    section = webhook_section(webhook_door.url, token_env=TOKEN_ENV)
    evidence = MaintenanceWriter(section, NO_AWS, TOKEN_ENVIRON).switch(True)
    assert webhook_door.stand_in.requests == [("POST", "/on", f"Bearer {TOKEN}")]
    assert "you sent Bearer ***" in evidence[0]
    assert TOKEN not in "\n".join(evidence)


def test_webhook_http_500_fails_worded_without_the_token(webhook_door: Served) -> None:
    webhook_door.stand_in.answer_status = 500
    webhook_door.stand_in.echo_authorization = True
    section = webhook_section(webhook_door.url, token_env=TOKEN_ENV)
    with pytest.raises(ActionFailed) as failed:
        MaintenanceWriter(section, NO_AWS, TOKEN_ENVIRON).switch(True)
    message = str(failed.value)
    assert message.startswith(
        f"maintenance webhook HTTP POST {webhook_door.url}/on answered HTTP 500"
    )
    assert "maintenance was not switched" in message
    assert TOKEN not in message
    assert MaintenanceReader(section, NO_AWS, TOKEN_ENVIRON).read().on is False


def test_webhook_redirect_is_not_followed_and_fails(webhook_door: Served) -> None:
    webhook_door.stand_in.answer_status = 302
    webhook_door.stand_in.answer_location = "http://127.0.0.1:9/elsewhere"
    section = webhook_section(webhook_door.url)
    with pytest.raises(ActionFailed, match="answered HTTP 302"):
        MaintenanceWriter(section, NO_AWS, {}).switch(True)
    assert len(webhook_door.stand_in.requests) == 1


def test_webhook_without_its_token_in_the_environment_sends_nothing(webhook_door: Served) -> None:
    section = webhook_section(webhook_door.url, token_env=TOKEN_ENV)
    with pytest.raises(ActionFailed, match=r"\$MAINT_TOKEN .* is not set in this shell"):
        MaintenanceWriter(section, NO_AWS, {}).switch(True)
    assert webhook_door.stand_in.requests == []


def test_webhook_that_nobody_answers_fails_worded() -> None:
    section = webhook_section(f"http://127.0.0.1:{free_port()}", token_env=TOKEN_ENV)
    with pytest.raises(ActionFailed, match="failed: connection refused; check the URL"):
        MaintenanceWriter(section, NO_AWS, TOKEN_ENVIRON).switch(False)
    probe = MaintenanceReader(section, NO_AWS, TOKEN_ENVIRON).read()
    assert probe.on is None
    assert probe.detail.endswith("failed: connection refused")


# --- command ------------------------------------------------------------------------------------


def script(folder: Path, name: str, body: str) -> str:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "maintenance.flag"


@pytest.fixture
def marker_door(marker: Path) -> Iterator[Served]:
    """The stand-in front door answering 503 while the marker file says 'on'."""
    on = lambda: marker.exists() and marker.read_text().strip() == "on"  # noqa: E731
    yield from serve(StandIn(maintenance=on))


SWITCH_SCRIPT = """\
echo "maintenance $1 requested in $(pwd)"
echo "$1" > "$MAINT_MARKER"
echo "done"
"""


def test_command_switches_through_the_script_and_the_probe_follows(
    tmp_path: Path, marker: Path, marker_door: Served
) -> None:
    switch = script(tmp_path, "maint.sh", SWITCH_SCRIPT)
    section = command_section(marker_door.url + "/", [switch, "on"], [switch, "off"])
    environ = {"PATH": os.environ["PATH"], "MAINT_MARKER": str(marker)}
    writer = MaintenanceWriter(section, NO_AWS, environ)
    reader = MaintenanceReader(section, NO_AWS, environ)
    assert reader.read().on is False

    assert writer.switch(True) == (
        f"run: {switch} on → exit 0",
        f"  maintenance on requested in {Path.cwd()}",
        "  done",
    )
    assert marker.read_text() == "on\n"
    assert (reader.read().on, reader.read().probe_status) == (True, 503)

    writer.switch(False)
    assert marker.read_text() == "off\n"
    assert reader.read().on is False


def test_command_exit_3_fails_with_the_tail_of_its_output(tmp_path: Path, marker: Path) -> None:
    failing = script(
        tmp_path,
        "broken.sh",
        'for n in $(seq 1 40); do echo "progress $n"; done\n'
        'echo "cannot reach the CDN" >&2\n'
        "exit 3\n",
    )
    section = command_section(None, [failing, "on"], [failing, "off"])
    with pytest.raises(ActionFailed) as failed:
        MaintenanceWriter(section, NO_AWS, dict(os.environ)).switch(True)
    lines = str(failed.value).splitlines()
    assert lines[0] == (
        f"maintenance command `{failing} on` exited with 3; maintenance was not switched: "
        "fix the command or run it by hand"
    )
    assert lines[1] == "last output:"
    assert lines[-1] == "  cannot reach the CDN"
    assert lines[-2] == "  progress 40"
    assert len(lines) == 2 + 19
    assert "progress 21" not in lines


def test_command_output_is_redacted_whole_spelled_out_and_cut(tmp_path: Path) -> None:
    secret = "cmd-secret-0123456789abcdef"
    remember_secrets(redactor_for([secret]))
    noisy = script(
        tmp_path,
        "noisy.sh",
        "printf 'deploy \\033]0;PWNED\\007 %s\\n' \"$(head -c 190 /dev/zero | tr '\\0' x)"
        f' {secret}"\nexit 1\n',
    )
    section = command_section(None, [noisy, "on"], [noisy, "off"])
    with pytest.raises(ActionFailed) as failed:
        MaintenanceWriter(section, NO_AWS, dict(os.environ)).switch(True)
    shown = str(failed.value).splitlines()[-1]
    assert shown.startswith("  deploy \\x1b]0;PWNED\\x07 xxx") and shown.endswith("…")
    assert "\x1b" not in str(failed.value) and secret[:8] not in str(failed.value)


def is_running(pid: int) -> bool:
    """Whether `pid` is alive (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_command_timeout_kills_it_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    hanging = script(
        tmp_path,
        "hang.sh",
        f'echo "waiting for the lock"\nsleep 300 &\necho $! > {pid_file}\nwait\n',
    )
    section = command_section(None, [hanging], [hanging], timeout_seconds=3.0)
    with pytest.raises(ActionFailed) as failed:
        MaintenanceWriter(section, NO_AWS, dict(os.environ)).switch(True)
    message = str(failed.value)
    assert message.startswith(f"maintenance command `{hanging}` did not finish within 3 s")
    assert "maintenance.command.timeout_seconds" in message
    assert message.endswith("last output:\n  waiting for the lock")
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while is_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_running(child)


def test_command_not_found_is_worded(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-script.sh")
    section = command_section(None, [missing, "on"], [missing, "off"])
    with pytest.raises(ActionFailed, match=r"no-such-script\.sh not found; check maintenance"):
        MaintenanceWriter(section, NO_AWS, dict(os.environ)).switch(True)


def test_command_without_a_probe_url_cannot_tell_and_says_so(tmp_path: Path) -> None:
    switch = script(tmp_path, "maint.sh", SWITCH_SCRIPT)
    section = command_section(None, [switch, "on"], [switch, "off"])
    probe = MaintenanceReader(section, NO_AWS, {}).read()
    assert probe.on is None
    assert "no maintenance.probe_url configured" in probe.detail
