"""Maintenance mode: what the front door shows (reader) and the switch that turns it on or off.

Reader and writer are separate classes: in --read-only mode no writer is ever built, and in
--dry-run neither is (the plan's calls come from the pure functions at the top). Every method
blocks; the runner calls them in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cockpit.config import (
    AlbMaintenance,
    CommandMaintenance,
    MaintenanceSection,
    WebhookMaintenance,
)
from cockpit.io.context import AwsClients
from cockpit.io.failures import ActionFailed, describe_failure
from cockpit.io.http import PROBE_USER_AGENT, display_url, fetch_http, printable_snippet
from cockpit.io.traffic import fetch_rules
from cockpit.outside import outside_text
from cockpit.redact import redactor_for

PROBE_TIMEOUT_SECONDS = 2.0
PATH_PATTERN = "/*"
OUTPUT_TAIL_LINES = 19
RESPONSE_SNIPPET_CHARS = 200
OUTPUT_LINE_CHARS = 200
FIXED_RESPONSE = "fixed-response"
KILLED_OUTPUT_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class MaintenanceProbe:
    """What maintenance looks like from outside: on, off, or None when it cannot be told.

    detail: the evidence in a few words ("front door answers 503"), or why it is unknown.
    rule_present: ALB backend only, whether a fixed-response rule sits at the configured priority.
    """

    on: bool | None
    detail: str
    probe_status: int | None
    rule_present: bool | None


def backend_name(section: MaintenanceSection) -> str:
    """'alb', 'webhook' or 'command': the one backend the config names."""
    if section.alb is not None:
        return "alb"
    return "webhook" if section.webhook is not None else "command"


# --- pure: what the plan shows ------------------------------------------------------------------


def short_arn(arn: str) -> str:
    """'listener/app/web/50dc…/f2f7…' from a full ELBv2 ARN."""
    return arn.split(":", 5)[-1]


def command_text(argv: Sequence[str]) -> str:
    """The command as a shell would show it, quoted where needed."""
    return shlex.join(argv)


def describe_maintenance_target(section: MaintenanceSection) -> str:
    """The resource a maintenance switch touches, in words for the plan and the journal."""
    if section.alb is not None:
        alb = section.alb
        return (
            f"ALB listener {short_arn(alb.listener_arn)} rule priority {alb.rule_priority} "
            f"(fixed {alb.status_code})"
        )
    if section.webhook is not None:
        hook = section.webhook
        return (
            f"webhook {hook.method} {display_url(hook.on_url)} (off: {display_url(hook.off_url)})"
        )
    assert section.command is not None
    command = section.command
    return f"command {command_text(command.on)} (off: {command_text(command.off)})"


def planned_maintenance_calls(section: MaintenanceSection, turn_on: bool) -> tuple[str, ...]:
    """The exact calls switching maintenance on (or off) will make, as plain text."""
    if section.alb is not None:
        return (_planned_alb_call(section.alb, turn_on),)
    if section.webhook is not None:
        hook = section.webhook
        url = hook.on_url if turn_on else hook.off_url
        token = f" (token from ${hook.token_env})" if hook.token_env else ""
        return (f"HTTP {hook.method} {display_url(url)}{token}",)
    assert section.command is not None
    command = section.command
    argv = command.on if turn_on else command.off
    return (f"run: {command_text(argv)} (timeout {command.timeout_seconds:g} s)",)


def _planned_alb_call(alb: AlbMaintenance, turn_on: bool) -> str:
    listener = short_arn(alb.listener_arn)
    if turn_on:
        return (
            f"elbv2 CreateRule on listener {listener}: priority {alb.rule_priority}, "
            f"path {PATH_PATTERN}, {FIXED_RESPONSE} {alb.status_code} {alb.content_type}"
        )
    return (
        f"elbv2 DeleteRule <rule arn found at priority {alb.rule_priority}> on listener {listener}"
    )


# --- pure: the listener's rules -----------------------------------------------------------------


def rule_at_priority(rules: Sequence[Mapping[str, Any]], priority: int) -> Mapping[str, Any] | None:
    """The non-default rule at `priority` (describe_rules reports priorities as strings)."""
    for rule in rules:
        if not rule.get("IsDefault") and str(rule.get("Priority")) == str(priority):
            return rule
    return None


def fixed_response_config(rule: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The rule's fixed-response settings, or None when it answers some other way."""
    for action in rule.get("Actions", []):
        if action.get("Type") == FIXED_RESPONSE:
            config = action.get("FixedResponseConfig", {})
            return config if isinstance(config, Mapping) else {}
    return None


def is_maintenance_rule(rule: Mapping[str, Any], alb: AlbMaintenance) -> bool:
    """Whether the rule is a fixed response with the configured status: ours, in effect."""
    config = fixed_response_config(rule)
    return config is not None and str(config.get("StatusCode")) == str(alb.status_code)


def describe_rule(rule: Mapping[str, Any]) -> str:
    """'rule listener-rule/app/… (forward)' or '(fixed-response 500)', to name a foreign rule."""
    config = fixed_response_config(rule)
    kinds = ", ".join(str(action.get("Type")) for action in rule.get("Actions", []))
    what = f"{FIXED_RESPONSE} {config.get('StatusCode')}" if config is not None else kinds
    return f"rule {short_arn(str(rule.get('RuleArn', '?')))} ({what or 'no actions'})"


def judge_probe(
    probe_status: int | None,
    probe_problem: str | None,
    rule_present: bool | None,
    rule_problem: str | None,
    expect_status: int,
    priority: int | None,
) -> MaintenanceProbe:
    """Maintenance on/off from the front door's answer and the ALB rule; None when they disagree.

    When only one of the two is known it decides alone, and the detail says what was missing.
    """
    by_probe = None if probe_status is None else probe_status == expect_status
    door = None if probe_status is None else f"front door answers {probe_status}"
    rule = None if rule_present is None else _rule_words(rule_present, priority)
    if by_probe is not None and rule_present is not None and by_probe != rule_present:
        detail = f"{rule} but the {door} (maintenance answers {expect_status})"
        return MaintenanceProbe(None, detail, probe_status, rule_present)
    if door is not None:
        missing = f" (ALB rule not read: {rule_problem})" if rule_problem else ""
        return MaintenanceProbe(by_probe, door + missing, probe_status, rule_present)
    if rule is not None:
        missing = f" (front door not probed: {probe_problem})" if probe_problem else ""
        return MaintenanceProbe(rule_present, rule + missing, None, rule_present)
    problems = [p for p in (probe_problem, rule_problem) if p]
    return MaintenanceProbe(None, "; ".join(problems) or "nothing to tell from", None, None)


def _rule_words(rule_present: bool, priority: int | None) -> str:
    if rule_present:
        return f"fixed-response rule at priority {priority} is in place"
    return f"no fixed-response rule at priority {priority}"


# --- reading -----------------------------------------------------------------------------------


class MaintenanceReader:
    """Tells whether maintenance is on: the front door's answer, and for the ALB its rule."""

    def __init__(
        self, section: MaintenanceSection, aws: AwsClients, environ: Mapping[str, str]
    ) -> None:
        self._section = section
        self._aws = aws
        self._environ = environ

    def read(self) -> MaintenanceProbe:
        """Blocking; never raises: what cannot be read is unknown, with the reason."""
        probe_status, probe_problem = self._probe()
        rule_present, rule_problem = self._rule_present()
        priority = self._section.alb.rule_priority if self._section.alb else None
        return judge_probe(
            probe_status,
            probe_problem,
            rule_present,
            rule_problem,
            self._section.probe_expect_status,
            priority,
        )

    def _probe(self) -> tuple[int | None, str | None]:
        url = self._section.probe_url
        if url is None:
            return None, "no maintenance.probe_url configured to look at the front door"
        try:
            return fetch_http(url, PROBE_TIMEOUT_SECONDS).status_code, None
        except Exception as error:
            reason = describe_failure(error, timeout_seconds=PROBE_TIMEOUT_SECONDS)
            return None, f"probe {display_url(url)} failed: {reason}"

    def _rule_present(self) -> tuple[bool | None, str | None]:
        alb = self._section.alb
        if alb is None:
            return None, None
        try:
            rules = fetch_rules(self._aws.client("elbv2"), alb.listener_arn)
        except Exception as error:
            return None, f"listener rules unreadable: {describe_failure(error)}"
        rule = rule_at_priority(rules, alb.rule_priority)
        return rule is not None and fixed_response_config(rule) is not None, None


# --- switching ---------------------------------------------------------------------------------


class MaintenanceWriter:
    """Switches maintenance on or off through the configured backend; returns the evidence."""

    def __init__(
        self, section: MaintenanceSection, aws: AwsClients, environ: Mapping[str, str]
    ) -> None:
        self._section = section
        self._aws = aws
        self._environ = environ

    def switch(self, turn_on: bool) -> tuple[str, ...]:
        """Blocking; raises ActionFailed, worded for the operator, when the switch fails."""
        if self._section.alb is not None:
            return _AlbSwitch(self._section.alb, self._aws.client("elbv2")).switch(turn_on)
        if self._section.webhook is not None:
            return _call_webhook(self._section.webhook, self._environ, turn_on)
        assert self._section.command is not None
        return _run_command(self._section.command, self._environ, turn_on)


@dataclass(frozen=True)
class _AlbSwitch:
    """A fixed-response rule at the configured priority: created for on, deleted for off."""

    alb: AlbMaintenance
    client: Any

    @property
    def listener(self) -> str:
        return short_arn(self.alb.listener_arn)

    def switch(self, turn_on: bool) -> tuple[str, ...]:
        rules = self._call("DescribeRules", lambda: fetch_rules(self.client, self.alb.listener_arn))
        existing = rule_at_priority(rules, self.alb.rule_priority)
        return self._turn_on(existing) if turn_on else self._turn_off(existing)

    def _turn_on(self, existing: Mapping[str, Any] | None) -> tuple[str, ...]:
        if existing is not None and is_maintenance_rule(existing, self.alb):
            arn = short_arn(str(existing.get("RuleArn")))
            return (f"elbv2: maintenance rule {arn} already at priority {self._priority}: done",)
        if existing is not None:
            raise ActionFailed(
                f"maintenance on: listener {self.listener} already has "
                f"{describe_rule(existing)} at priority {self._priority}; remove it or set "
                "maintenance.alb.rule_priority to a free priority"
            )
        answer = self._call("CreateRule", self._create_rule)
        arn = short_arn(str(answer.get("Rules", [{}])[0].get("RuleArn", "?")))
        return (
            f"elbv2 CreateRule on listener {self.listener}: rule {arn} at priority "
            f"{self._priority}, {FIXED_RESPONSE} {self.alb.status_code} "
            f"(request id {_request_id(answer)})",
        )

    def _turn_off(self, existing: Mapping[str, Any] | None) -> tuple[str, ...]:
        if existing is None:
            return (f"elbv2: no rule at priority {self._priority}: maintenance already off",)
        if fixed_response_config(existing) is None:
            raise ActionFailed(
                f"maintenance off: listener {self.listener} has {describe_rule(existing)} at "
                f"priority {self._priority}, not a fixed response; it was left in place: check "
                "maintenance.alb.rule_priority"
            )
        rule_arn = str(existing.get("RuleArn"))
        answer = self._call("DeleteRule", lambda: self.client.delete_rule(RuleArn=rule_arn))
        return (
            f"elbv2 DeleteRule {short_arn(rule_arn)} on listener {self.listener} "
            f"(request id {_request_id(answer)})",
        )

    @property
    def _priority(self) -> int:
        return self.alb.rule_priority

    def _create_rule(self) -> Any:
        return self.client.create_rule(
            ListenerArn=self.alb.listener_arn,
            Priority=self.alb.rule_priority,
            Conditions=[{"Field": "path-pattern", "Values": [PATH_PATTERN]}],
            Actions=[
                {
                    "Type": FIXED_RESPONSE,
                    "FixedResponseConfig": {
                        "StatusCode": str(self.alb.status_code),
                        "ContentType": self.alb.content_type,
                        "MessageBody": self.alb.message_body,
                    },
                }
            ],
        )

    def _call(self, operation: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as error:
            raise ActionFailed(
                f"maintenance: elbv2 {operation} on listener {self.listener} failed: "
                f"{describe_failure(error)}"
            ) from error


def _request_id(answer: Mapping[str, Any]) -> str:
    return str(answer.get("ResponseMetadata", {}).get("RequestId") or "not reported")


# --- webhook ------------------------------------------------------------------------------------


def _webhook_token(hook: WebhookMaintenance, environ: Mapping[str, str]) -> str | None:
    if hook.token_env is None:
        return None
    token = environ.get(hook.token_env)
    if not token:
        raise ActionFailed(
            f"maintenance webhook: ${hook.token_env} (maintenance.webhook.token_env) is not set "
            "in this shell; export it and try again"
        )
    return token


def _call_webhook(
    hook: WebhookMaintenance, environ: Mapping[str, str], turn_on: bool
) -> tuple[str, ...]:
    """One request to the on or off URL; any answer but 2xx (redirects included) fails."""
    token = _webhook_token(hook, environ)
    redactor = redactor_for([token] if token else [])
    url = hook.on_url if turn_on else hook.off_url
    call = redactor.text(f"HTTP {hook.method} {display_url(url)}")
    try:
        status, body = _send(hook.method, url, token, hook.timeout_seconds)
    except Exception as error:
        reason = describe_failure(error, timeout_seconds=hook.timeout_seconds)
        raise ActionFailed(
            f"maintenance webhook {call} failed: {redactor.text(reason)}; check the URL and that "
            "the service is up"
        ) from None
    answer = redactor.text(printable_snippet(body, RESPONSE_SNIPPET_CHARS))
    said = f": {answer}" if answer else ""
    if not 200 <= status < 300:
        raise ActionFailed(
            f"maintenance webhook {call} answered HTTP {status}{said}; maintenance was not "
            "switched: check the service's logs, then retry"
        )
    return (f"{call} → HTTP {status}{said}",)


def _send(method: str, url: str, token: str | None, timeout_seconds: float) -> tuple[int, bytes]:
    """One request with an empty body, redirects not followed; (status, start of the body)."""
    import http.client

    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout_seconds)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"User-Agent": PROBE_USER_AGENT}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(RESPONSE_SNIPPET_CHARS * 4)
    finally:
        connection.close()


# --- command ------------------------------------------------------------------------------------


def output_tail(output: str, lines: int = OUTPUT_TAIL_LINES) -> tuple[str, ...]:
    """The last `lines` non-empty lines of a command's output, each cleaned, cut and indented."""
    kept = [line for line in output.splitlines() if line.strip()]
    return tuple(f"  {outside_text(line, OUTPUT_LINE_CHARS)}" for line in kept[-lines:])


def _run_command(
    command: CommandMaintenance, environ: Mapping[str, str], turn_on: bool
) -> tuple[str, ...]:
    """Runs the on or off command (no shell, this working directory) within its timeout."""
    argv = command.on if turn_on else command.off
    shown = command_text(argv)
    exit_code, output, timed_out = _execute(argv, environ, command.timeout_seconds)
    tail = output_tail(output)
    if timed_out:
        raise ActionFailed(
            "\n".join(
                (
                    f"maintenance command `{shown}` did not finish within "
                    f"{command.timeout_seconds:g} s and was killed; check what it waits for "
                    "(or raise maintenance.command.timeout_seconds), then retry",
                    *_last_output(tail),
                )
            )
        )
    if exit_code != 0:
        raise ActionFailed(
            "\n".join(
                (
                    f"maintenance command `{shown}` exited with {exit_code}; maintenance was not "
                    "switched: fix the command or run it by hand",
                    *_last_output(tail),
                )
            )
        )
    return (f"run: {shown} → exit 0", *tail)


def _last_output(tail: tuple[str, ...]) -> tuple[str, ...]:
    return ("last output:", *tail) if tail else ("no output",)


def _execute(
    argv: Sequence[str], environ: Mapping[str, str], timeout_seconds: float
) -> tuple[int | None, str, bool]:
    """(exit code, stdout and stderr together, whether it timed out).

    The command runs in its own process group so a timeout stops its children too.
    """
    shown = command_text(argv)
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(environ),
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ActionFailed(
            f"maintenance command `{shown}`: {argv[0]} not found; check maintenance.command "
            "(a relative path is taken from the directory the cockpit was started in)"
        ) from None
    except OSError as error:
        raise ActionFailed(
            f"maintenance command `{shown}` could not start: {error.strerror}; check that "
            f"{argv[0]} is executable"
        ) from None
    try:
        output, _ = process.communicate(timeout=timeout_seconds)
        return process.returncode, _decoded(output), False
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return None, _decoded(_remaining_output(process)), True


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kills the command's process group (its id is the command's own pid)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _remaining_output(process: subprocess.Popen[bytes]) -> bytes | None:
    """What the killed command had written; nothing if something it started holds the pipe."""
    try:
        output, _ = process.communicate(timeout=KILLED_OUTPUT_WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        return None
    return output


def _decoded(output: bytes | None) -> str:
    return (output or b"").decode("utf-8", errors="replace")
