"""DNS and traffic panels drawn from readings recorded on the sandbox, at 80x24 and at 160x48."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult

from cockpit.config import DnsRecord
from cockpit.model import Reading, SignalKind, Status, reading_from_json
from cockpit.sources.dns import (
    RecordView,
    ServerAnswer,
    record_detail,
    record_status,
    record_values,
)
from tests.ui.samples import without_gutter
from widgets import dns_panel
from widgets.dns_panel import DnsPanel, detailed_lines_at_least
from widgets.panel import DetailLine, SignalPanel
from widgets.traffic_panel import Split, TrafficPanel, bar_cells, members_lines


def server(
    label: str,
    address: str,
    role: str,
    answers: list[str],
    ttl: int | None,
    matches: str,
    error: str | None = None,
) -> dict[str, Any]:
    """One server entry of a DNS reading, in the form `cockpit check --json` prints it."""
    return {
        "resolver": label,
        "address": address,
        "role": role,
        "answers": answers,
        "ttl": ttl,
        "matches": matches,
        "error": error,
    }


# Recorded with `cockpit check --json` on `cockpit sandbox up` (resolver faults injected with
# `cockpit sandbox inject`, weights set through the stand-in Route 53 and ALB APIs); the
# "App.cutover.test" and "missing.cutover.test" records come from a config that expects a wrong
# address and a name that does not exist, with max_ttl_seconds = 10.
RECORDED: dict[str, dict[str, Any]] = {
    "dns_not_switched": {
        "signal": "dns:app.cutover.test",
        "kind": "dns",
        "status": "ok",
        "observed_at": "2026-11-23T00:55:43.657333+00:00",
        "values": {
            "record_type": "A",
            "new_answers": ["127.0.20.1"],
            "old_answers": ["127.0.10.1"],
            "converged_fraction": 0.0,
            "resolvers": [
                server("cache-1", "127.0.0.2:57593", "resolver", ["127.0.10.1"], 30, "old"),
                server("cache-2", "127.0.0.3:49403", "resolver", ["127.0.10.1"], 30, "old"),
                server("cache-3", "127.0.0.4:56037", "resolver", ["127.0.10.1"], 30, "old"),
                server("unbound", "127.0.0.5:49071", "resolver", ["127.0.10.1"], 30, "old"),
                server(
                    "authoritative", "127.0.0.1:50514", "authoritative", ["127.0.10.1"], 30, "old"
                ),
            ],
            "old_expires_in_seconds": 30,
            "old_gone_at": "2026-11-23T00:56:14Z",
            "authoritative_ttl_seconds": 30,
            "ttl_preflight_ok": True,
            "authoritative_matches": "old",
            "new_count": 0,
            "old_count": 4,
            "other_count": 0,
            "error_count": 0,
        },
        "detail": "not switched yet: authoritative and 4/4 resolvers answer old",
        "stale_after_seconds": 4.0,
    },
    "dns_propagating_with_errors": {
        "signal": "dns:app.cutover.test",
        "kind": "dns",
        "status": "warn",
        "observed_at": "2026-11-23T00:55:56.826141+00:00",
        "values": {
            "record_type": "A",
            "new_answers": ["127.0.20.1"],
            "old_answers": ["127.0.10.1"],
            "converged_fraction": 0.0,
            "resolvers": [
                server("cache-1", "127.0.0.2:57593", "resolver", ["127.0.10.1"], 17, "old"),
                server("cache-2", "127.0.0.3:49403", "resolver", [], None, "error", "SERVFAIL"),
                server(
                    "cache-3",
                    "127.0.0.4:56037",
                    "resolver",
                    [],
                    None,
                    "error",
                    "timeout after 0.8 s",
                ),
                server("unbound", "127.0.0.5:49071", "resolver", ["127.0.10.1"], 17, "old"),
                server(
                    "authoritative", "127.0.0.1:50514", "authoritative", ["127.0.20.1"], 30, "new"
                ),
            ],
            "old_expires_in_seconds": 17,
            "old_gone_at": "2026-11-23T00:56:14Z",
            "authoritative_ttl_seconds": 30,
            "ttl_preflight_ok": True,
            "authoritative_matches": "new",
            "new_count": 0,
            "old_count": 2,
            "other_count": 0,
            "error_count": 2,
        },
        "detail": (
            "propagating: 0/4 new, 2 old (last old answer expires in 17 s, at "
            "00:56:14Z); 2 not answering (cache-2: SERVFAIL, cache-3: timeout "
            "after 0.8 s)"
        ),
        "stale_after_seconds": 4.0,
    },
    "dns_poll_failed": {
        "signal": "dns:app.cutover.test",
        "kind": "dns",
        "status": "unknown",
        "observed_at": "2026-11-23T00:56:05.660611+00:00",
        "values": {"error": "timeout after 1 s"},
        "detail": "timeout after 1 s",
        "stale_after_seconds": 4.0,
    },
    "dns_nobody_answers": {
        "signal": "dns:app.cutover.test",
        "kind": "dns",
        "status": "critical",
        "observed_at": "2026-11-23T00:56:22.097178+00:00",
        "values": {
            "record_type": "A",
            "new_answers": ["127.0.20.1"],
            "old_answers": ["127.0.10.1"],
            "converged_fraction": None,
            "resolvers": [
                server(
                    "cache-1",
                    "127.0.0.2:57593",
                    "resolver",
                    [],
                    None,
                    "error",
                    "timeout after 0.8 s",
                ),
                server(
                    "cache-2",
                    "127.0.0.3:49403",
                    "resolver",
                    [],
                    None,
                    "error",
                    "timeout after 0.8 s",
                ),
                server(
                    "cache-3",
                    "127.0.0.4:56037",
                    "resolver",
                    [],
                    None,
                    "error",
                    "timeout after 0.8 s",
                ),
                server(
                    "unbound",
                    "127.0.0.5:49071",
                    "resolver",
                    [],
                    None,
                    "error",
                    "timeout after 0.8 s",
                ),
                server(
                    "authoritative",
                    "127.0.0.1:50514",
                    "authoritative",
                    [],
                    None,
                    "error",
                    "timeout after 0.8 s",
                ),
            ],
            "old_expires_in_seconds": None,
            "old_gone_at": None,
            "authoritative_ttl_seconds": None,
            "ttl_preflight_ok": None,
            "authoritative_matches": "error",
            "new_count": 0,
            "old_count": 0,
            "other_count": 0,
            "error_count": 4,
        },
        "detail": "authoritative servers not answering: authoritative: timeout after 0.8 s",
        "stale_after_seconds": 4.0,
    },
    "dns_propagating_three_of_four": {
        "signal": "dns:app.cutover.test",
        "kind": "dns",
        "status": "warn",
        "observed_at": "2026-11-23T00:57:25.453294+00:00",
        "values": {
            "record_type": "A",
            "new_answers": ["127.0.20.1"],
            "old_answers": ["127.0.10.1"],
            "converged_fraction": 0.75,
            "resolvers": [
                server("cache-1", "127.0.0.2:57593", "resolver", ["127.0.10.1"], 30, "old"),
                server("cache-2", "127.0.0.3:49403", "resolver", ["127.0.20.1"], 30, "new"),
                server("cache-3", "127.0.0.4:56037", "resolver", ["127.0.20.1"], 30, "new"),
                server("unbound", "127.0.0.5:49071", "resolver", ["127.0.20.1"], 30, "new"),
                server(
                    "authoritative", "127.0.0.1:50514", "authoritative", ["127.0.20.1"], 30, "new"
                ),
            ],
            "old_expires_in_seconds": 30,
            "old_gone_at": "2026-11-23T00:57:56Z",
            "authoritative_ttl_seconds": 30,
            "ttl_preflight_ok": True,
            "authoritative_matches": "new",
            "new_count": 3,
            "old_count": 1,
            "other_count": 0,
            "error_count": 0,
        },
        "detail": "propagating: 3/4 new, 1 old (last old answer expires in 30 s, at 00:57:56Z)",
        "stale_after_seconds": 4.0,
    },
    "dns_wrong_answer_preflight_failed": {
        "signal": "dns:App.cutover.test",
        "kind": "dns",
        "status": "critical",
        "observed_at": "2026-11-23T00:57:43.068051+00:00",
        "values": {
            "record_type": "A",
            "new_answers": ["127.0.99.9"],
            "old_answers": ["127.0.10.1"],
            "converged_fraction": 0.0,
            "resolvers": [
                server("cache-1", "127.0.0.2:57593", "resolver", ["127.0.10.1"], 30, "old"),
                server("cache-2", "127.0.0.3:49403", "resolver", ["127.0.20.1"], 13, "other"),
                server("cache-3", "127.0.0.4:56037", "resolver", ["127.0.20.1"], 13, "other"),
                server("unbound", "127.0.0.5:49071", "resolver", ["127.0.20.1"], 12, "other"),
                server(
                    "authoritative", "127.0.0.1:50514", "authoritative", ["127.0.20.1"], 30, "other"
                ),
            ],
            "old_expires_in_seconds": 30,
            "old_gone_at": "2026-11-23T00:58:14Z",
            "authoritative_ttl_seconds": 30,
            "ttl_preflight_ok": False,
            "authoritative_matches": "other",
            "new_count": 0,
            "old_count": 1,
            "other_count": 3,
            "error_count": 0,
        },
        "detail": (
            "wrong answer (neither old nor new): cache-2: 127.0.20.1, cache-3: "
            "127.0.20.1, unbound: 127.0.20.1 and 1 more; TTL preflight failed: "
            "authoritative TTL 30 s > max 10 s"
        ),
        "stale_after_seconds": 4.0,
    },
    "dns_propagating_preflight_failed": {
        "signal": "dns:app.cutover.test",
        "kind": "dns",
        "status": "warn",
        "observed_at": "2026-11-23T00:57:43.068051+00:00",
        "values": {
            "record_type": "A",
            "new_answers": ["127.0.20.1"],
            "old_answers": ["127.0.10.1"],
            "converged_fraction": 0.75,
            "resolvers": [
                server("cache-1", "127.0.0.2:57593", "resolver", ["127.0.10.1"], 30, "old"),
                server("cache-2", "127.0.0.3:49403", "resolver", ["127.0.20.1"], 13, "new"),
                server("cache-3", "127.0.0.4:56037", "resolver", ["127.0.20.1"], 13, "new"),
                server("unbound", "127.0.0.5:49071", "resolver", ["127.0.20.1"], 12, "new"),
                server(
                    "authoritative", "127.0.0.1:50514", "authoritative", ["127.0.20.1"], 30, "new"
                ),
            ],
            "old_expires_in_seconds": 30,
            "old_gone_at": "2026-11-23T00:58:14Z",
            "authoritative_ttl_seconds": 30,
            "ttl_preflight_ok": False,
            "authoritative_matches": "new",
            "new_count": 3,
            "old_count": 1,
            "other_count": 0,
            "error_count": 0,
        },
        "detail": (
            "propagating: 3/4 new, 1 old (last old answer expires in 30 s, at "
            "00:58:14Z); TTL preflight failed: authoritative TTL 30 s > max 10 s"
        ),
        "stale_after_seconds": 4.0,
    },
    "dns_nxdomain": {
        "signal": "dns:missing.cutover.test",
        "kind": "dns",
        "status": "critical",
        "observed_at": "2026-11-23T00:57:43.068051+00:00",
        "values": {
            "record_type": "A",
            "new_answers": ["127.0.20.1"],
            "old_answers": ["127.0.10.1"],
            "converged_fraction": None,
            "resolvers": [
                server("cache-1", "127.0.0.2:57593", "resolver", [], None, "error", "SERVFAIL"),
                server("cache-2", "127.0.0.3:49403", "resolver", [], None, "error", "NXDOMAIN"),
                server("cache-3", "127.0.0.4:56037", "resolver", [], None, "error", "NXDOMAIN"),
                server("unbound", "127.0.0.5:49071", "resolver", [], None, "error", "NXDOMAIN"),
                server(
                    "authoritative",
                    "127.0.0.1:50514",
                    "authoritative",
                    [],
                    None,
                    "error",
                    "NXDOMAIN",
                ),
            ],
            "old_expires_in_seconds": None,
            "old_gone_at": None,
            "authoritative_ttl_seconds": None,
            "ttl_preflight_ok": None,
            "authoritative_matches": "error",
            "new_count": 0,
            "old_count": 0,
            "other_count": 0,
            "error_count": 4,
        },
        "detail": "authoritative servers not answering: authoritative: NXDOMAIN",
        "stale_after_seconds": 4.0,
    },
    "dns_converged": {
        "signal": "dns:app.cutover.test",
        "kind": "dns",
        "status": "ok",
        "observed_at": "2026-11-23T00:58:50.826135+00:00",
        "values": {
            "record_type": "A",
            "new_answers": ["127.0.20.1"],
            "old_answers": ["127.0.10.1"],
            "converged_fraction": 1.0,
            "resolvers": [
                server("cache-1", "127.0.0.2:57593", "resolver", ["127.0.20.1"], 30, "new"),
                server("cache-2", "127.0.0.3:49403", "resolver", ["127.0.20.1"], 30, "new"),
                server("cache-3", "127.0.0.4:56037", "resolver", ["127.0.20.1"], 30, "new"),
                server("unbound", "127.0.0.5:49071", "resolver", ["127.0.20.1"], 30, "new"),
                server(
                    "authoritative", "127.0.0.1:50514", "authoritative", ["127.0.20.1"], 30, "new"
                ),
            ],
            "old_expires_in_seconds": 0,
            "old_gone_at": None,
            "authoritative_ttl_seconds": 30,
            "ttl_preflight_ok": True,
            "authoritative_matches": "new",
            "new_count": 4,
            "old_count": 0,
            "other_count": 0,
            "error_count": 0,
        },
        "detail": "converged: 4/4 resolvers answer the new address",
        "stale_after_seconds": 4.0,
    },
    "traffic_route53_first_step": {
        "signal": "traffic",
        "kind": "traffic",
        "status": "ok",
        "observed_at": "2026-11-23T00:55:43.657788+00:00",
        "values": {
            "weights": {"old": 100.0, "new": 0.0},
            "raw_weights": {"old": 100, "new": 0},
            "backend": "route53",
            "steps": [0, 5, 10, 25, 50, 75, 100],
            "step_index": 0,
            "next_step_percent": 5,
            "previous_step_percent": None,
            "ttl_seconds": 30,
            "maintenance_rule": None,
        },
        "detail": "old 100 % / new 0 % (step 1 of 7: 0 %)",
        "stale_after_seconds": 8.0,
    },
    "traffic_route53_last_step": {
        "signal": "traffic",
        "kind": "traffic",
        "status": "ok",
        "observed_at": "2026-11-23T00:55:56.644554+00:00",
        "values": {
            "weights": {"old": 0.0, "new": 100.0},
            "raw_weights": {"old": 0, "new": 100},
            "backend": "route53",
            "steps": [0, 5, 10, 25, 50, 75, 100],
            "step_index": 6,
            "next_step_percent": None,
            "previous_step_percent": 75,
            "ttl_seconds": 30,
            "maintenance_rule": None,
        },
        "detail": "old 0 % / new 100 % (step 7 of 7: 100 %)",
        "stale_after_seconds": 8.0,
    },
    "traffic_route53_between_steps": {
        "signal": "traffic",
        "kind": "traffic",
        "status": "warn",
        "observed_at": "2026-11-23T00:56:10.089013+00:00",
        "values": {
            "weights": {"old": 70.0, "new": 30.0},
            "raw_weights": {"old": 70, "new": 30},
            "backend": "route53",
            "steps": [0, 5, 10, 25, 50, 75, 100],
            "step_index": None,
            "next_step_percent": 50,
            "previous_step_percent": 25,
            "ttl_seconds": 30,
            "maintenance_rule": None,
        },
        "detail": "new 30 % is not a planned step (between 25 % and 50 %)",
        "stale_after_seconds": 8.0,
    },
    "traffic_route53_set_missing": {
        "signal": "traffic",
        "kind": "traffic",
        "status": "critical",
        "observed_at": "2026-11-23T00:57:50.840121+00:00",
        "values": {
            "weights": None,
            "raw_weights": {"old": 0, "new": None},
            "backend": "route53",
            "steps": [0, 5, 10, 25, 50, 75, 100],
            "step_index": None,
            "next_step_percent": None,
            "previous_step_percent": None,
            "ttl_seconds": 30,
            "maintenance_rule": None,
        },
        "detail": (
            "weighted record set 'green' (the new side) not found "
            "(app.cutover.test A in zone 97HYRPAUV6HBOWVSV29H0O)"
        ),
        "stale_after_seconds": 8.0,
    },
    "traffic_poll_failed": {
        "signal": "traffic",
        "kind": "traffic",
        "status": "unknown",
        "observed_at": "2026-11-23T00:57:48.848741+00:00",
        "values": {"error": "AWS error ListenerNotFound: The specified listener does not exist."},
        "detail": "AWS error ListenerNotFound: The specified listener does not exist.",
        "stale_after_seconds": 8.0,
    },
    "traffic_alb_maintenance_rule": {
        "signal": "traffic",
        "kind": "traffic",
        "status": "ok",
        "observed_at": "2026-11-23T00:58:06.249232+00:00",
        "values": {
            "weights": {"old": 75.0, "new": 25.0},
            "raw_weights": {"old": 75, "new": 25},
            "backend": "alb",
            "steps": [0, 5, 10, 25, 50, 75, 100],
            "step_index": 3,
            "next_step_percent": 50,
            "previous_step_percent": 10,
            "ttl_seconds": None,
            "maintenance_rule": True,
        },
        "detail": (
            "old 75 % / new 25 % (step 4 of 7: 25 %); a fixed-response rule sits "
            "in front of the forward (maintenance on?)"
        ),
        "stale_after_seconds": 8.0,
    },
    "traffic_route53_both_zero": {
        "signal": "traffic",
        "kind": "traffic",
        "status": "warn",
        "observed_at": "2026-11-23T00:58:14.130826+00:00",
        "values": {
            "weights": {"old": 50.0, "new": 50.0},
            "raw_weights": {"old": 0, "new": 0},
            "backend": "route53",
            "steps": [0, 5, 10, 25, 50, 75, 100],
            "step_index": 4,
            "next_step_percent": 75,
            "previous_step_percent": 25,
            "ttl_seconds": 30,
            "maintenance_rule": None,
        },
        "detail": "both weights are 0: Route 53 answers evenly, old 50 % / new 50 %",
        "stale_after_seconds": 8.0,
    },
    "traffic_alb_both_zero": {
        "signal": "traffic",
        "kind": "traffic",
        "status": "warn",
        "observed_at": "2026-11-23T00:58:15.893751+00:00",
        "values": {
            "weights": None,
            "raw_weights": {"old": 0, "new": 0},
            "backend": "alb",
            "steps": [0, 5, 10, 25, 50, 75, 100],
            "step_index": None,
            "next_step_percent": None,
            "previous_step_percent": None,
            "ttl_seconds": None,
            "maintenance_rule": True,
        },
        "detail": (
            "both target group weights are 0: the ALB's split is undefined; a "
            "fixed-response rule sits in front of the forward (maintenance on?)"
        ),
        "stale_after_seconds": 8.0,
    },
}


def recorded(name: str, **values: Any) -> Reading:
    """A recorded reading, with `values` replaced when given."""
    data = dict(RECORDED[name])
    if values:
        data["values"] = {**data["values"], **values}
    return reading_from_json(data)


def after(reading: Reading, seconds: float) -> datetime:
    return reading.observed_at + timedelta(seconds=seconds)


class Host(App[None]):
    """A bare app holding one panel, its height set as the cockpit grid would."""

    def __init__(self, panel: SignalPanel, panel_height: int | None = None) -> None:
        super().__init__()
        self._panel = panel
        self._panel_height = panel_height

    def compose(self) -> ComposeResult:
        if self._panel_height is not None:
            self._panel.styles.height = self._panel_height
        yield self._panel


@dataclass(frozen=True)
class Drawn:
    """What a mounted panel showed: its content as text, with and without styles."""

    text: str
    styled: str
    content_height: int


async def drawn(
    panel: SignalPanel,
    readings: tuple[Reading, ...],
    now: datetime,
    size: tuple[int, int] = (80, 24),
    panel_height: int | None = None,
) -> tuple[Drawn, SignalPanel]:
    """The panel's content (and the panel, for its title and classes) after `readings`."""
    async with Host(panel, panel_height).run_test(size=size) as pilot:
        panel.now = now
        panel.readings = readings
        await pilot.pause()
        shown = Drawn(exported(panel, False), exported(panel, True), panel.size.height)
        return shown, panel


def exported(panel: SignalPanel, styles: bool) -> str:
    """The panel's render() at its content width, as plain text or with ANSI styles."""
    console = Console(
        width=panel.size.width,
        file=io.StringIO(),
        record=True,
        color_system="standard" if styles else None,
        force_terminal=styles,
    )
    console.print(panel.render())
    return without_gutter(console.export_text(styles=styles))


def is_dim(styled_line: str) -> bool:
    """Whether an ANSI-styled line starts dimmed (SGR 2)."""
    return bool(re.match(r"\x1b\[(?:\d+;)*2[;m]", styled_line))


def lines_of(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


def squeezed(text: str) -> str:
    """The text with runs of spaces made one, so assertions do not depend on column padding."""
    return re.sub(r" +", " ", text)


# --- DNS ------------------------------------------------------------------------------------


async def test_dns_ok_not_switched_at_80_shows_every_resolver_and_the_countdown() -> None:
    reading = recorded("dns_not_switched")
    shown, panel = await drawn(DnsPanel(), (reading,), after(reading, 2))
    text = shown.text
    lines = lines_of(text)
    assert lines[0] == "OK app.cutover.test A  0 % converged (0/4)  old gone by 00:56:14Z (in 29 s)"
    assert "TTL 30 s, preflight ok ✓" in text
    assert squeezed(lines[2]).strip() == (
        "cache-1 OLD 30s cache-2 OLD 30s cache-3 OLD 30s unbound OLD 30s"
    )
    assert squeezed(lines[3]).strip() == "auth: authoritative OLD 30s"
    assert lines[-1] == "2s ago"
    assert panel.border_title == "DNS · OK · 2s"
    assert panel.has_class("-ok")


async def test_dns_warn_errors_show_their_reason_at_80() -> None:
    reading = recorded("dns_propagating_with_errors")
    shown, panel = await drawn(DnsPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert text.startswith("WARN app.cutover.test A  0 % converged (0/4)\n")
    assert "old gone by 00:56:14Z (in 16 s)" in text
    assert "cache-2 ERR SERVFAIL" in squeezed(text)
    assert "cache-3 ERR timeout" in squeezed(text)
    assert "cache-1 OLD 17s" in squeezed(text)
    assert "auth: authoritative NEW 30s" in squeezed(text)
    assert panel.has_class("-warn")
    assert all(len(line) <= 76 for line in lines_of(text))


async def test_dns_countdown_turns_into_overdue_once_the_expiry_passed() -> None:
    reading = recorded("dns_propagating_with_errors")
    shown, _ = await drawn(DnsPanel(), (reading,), after(reading, 20))
    text = shown.text
    assert "old gone by 00:56:14Z (due 3 s ago)" in text


async def test_dns_unknown_poll_failure_says_why_and_never_zero_percent() -> None:
    reading = recorded("dns_poll_failed")
    shown, panel = await drawn(DnsPanel(), (reading,), after(reading, 1))
    text = shown.text
    assert text.startswith("UNKNOWN app.cutover.test  — converged  poll failed: timeout after 1 s")
    assert "0 %" not in text
    assert panel.border_title == "DNS · UNKNOWN · 1s"
    assert panel.has_class("-unknown")


async def test_dns_critical_when_nobody_answers_shows_dash_not_zero() -> None:
    reading = recorded("dns_nobody_answers")
    shown, panel = await drawn(DnsPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert text.startswith("CRIT app.cutover.test A  — converged (no resolver answered)\n")
    assert "old expiry unknown" in text
    assert "TTL preflight unknown: no authoritative TTL" in text
    assert "auth: authoritative ERR timeout after 0.8 s" in squeezed(text)
    assert "0 %" not in text
    assert panel.has_class("-critical")


async def test_dns_partial_convergence_counts_new_over_resolvers() -> None:
    reading = recorded("dns_propagating_three_of_four")
    shown, _ = await drawn(DnsPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert text.startswith("WARN app.cutover.test A  75 % converged (3/4)\n")
    assert "old gone by 00:57:56Z (in 29 s)" in text
    assert "cache-1 OLD 30s cache-2 NEW 30s" in squeezed(text)


async def test_dns_wrong_answer_and_failed_preflight_in_words() -> None:
    reading = recorded("dns_wrong_answer_preflight_failed")
    shown, panel = await drawn(DnsPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert text.startswith("CRIT App.cutover.test A  0 % converged (0/4)\n")
    assert "TTL preflight FAILED: 30 s is above the max ✗" in text
    assert "cache-2 OTHER 13s" in squeezed(text)
    assert "auth: authoritative OTHER 30s" in squeezed(text)
    assert panel.has_class("-critical")


async def test_dns_preflight_names_the_limit_when_the_reading_carries_it() -> None:
    ok = recorded("dns_converged", max_ttl_seconds=60)
    failed = recorded("dns_propagating_preflight_failed", max_ttl_seconds=10)
    ok_shown, _ = await drawn(DnsPanel(), (ok,), after(ok, 2))
    ok_text = ok_shown.text
    failed_shown, _ = await drawn(DnsPanel(), (failed,), after(failed, 2))
    failed_text = failed_shown.text
    assert "TTL 30 s ≤ max 60 s, preflight ok ✓" in ok_text
    assert "TTL preflight FAILED: 30 s > max 10 s ✗" in failed_text


async def test_dns_converged_is_ok_with_no_old_answers_left() -> None:
    reading = recorded("dns_converged")
    shown, _ = await drawn(DnsPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert text.startswith("OK app.cutover.test A  100 % converged (4/4)  no old answers left\n")
    assert "old gone by" not in text


async def test_dns_stale_reading_is_labelled_and_dimmed() -> None:
    reading = recorded("dns_converged")
    shown, panel = await drawn(DnsPanel(), (reading,), after(reading, 10))
    text = shown.text
    assert text.startswith("STALE app.cutover.test A  100 % converged (4/4)")
    assert lines_of(text)[-1] == "STALE, 10s old"
    assert panel.border_title == "DNS · STALE · 10s"
    assert panel.has_class("-stale")
    assert is_dim(shown.styled.split("\n")[0])


async def test_dns_stale_record_among_fresh_ones_carries_its_own_age() -> None:
    fresh = recorded("dns_converged")
    old = recorded("dns_nxdomain")
    now = after(fresh, 1)
    shown, panel = await drawn(DnsPanel(), (fresh, old), now, size=(160, 48))
    lines = lines_of(shown.text)
    age = int(old.age_seconds(now))
    assert lines[0].startswith("OK app.cutover.test A  100 % converged (4/4)")
    assert lines[1].startswith("STALE missing.cutover.test A  — converged (no resolver answered)")
    assert lines[1].endswith(f"STALE, {age // 60}m{age % 60:02d}s old")
    assert is_dim(shown.styled.split("\n")[1])
    assert not is_dim(shown.styled.split("\n")[0])
    assert panel.has_class("-stale")


async def test_dns_at_160_draws_resolvers_as_columns_with_full_reasons() -> None:
    readings = (
        recorded("dns_wrong_answer_preflight_failed"),
        recorded("dns_propagating_preflight_failed"),
        recorded("dns_nxdomain"),
    )
    now = after(readings[-1], 2)
    shown, panel = await drawn(DnsPanel(), readings, now, size=(160, 48))
    text = shown.text
    lines = [squeezed(line) for line in lines_of(text)]
    assert lines[0].startswith("CRIT App.cutover.test A 0 % converged (0/4) old gone by 00:58:14Z")
    assert lines[1].startswith("WARN app.cutover.test A 75 % converged (3/4) old gone by")
    assert lines[2].startswith("CRIT missing.cutover.test A — converged (no resolver answered)")
    assert lines[3] == "record cache-1 cache-2 cache-3 unbound authoritative (auth)"
    assert lines[4] == "App.cutover.test OLD 30s OTHER 13s OTHER 13s OTHER 12s OTHER 30s"
    assert lines[5] == "app.cutover.test OLD 30s NEW 13s NEW 13s NEW 12s NEW 30s"
    assert (
        lines[6]
        == "missing.cutover.test ERR SERVFAIL ERR NXDOMAIN ERR NXDOMAIN ERR NXDOMAIN ERR NXDOMAIN"
    )
    assert panel.border_title is not None and panel.border_title.startswith("DNS · CRIT")


async def test_dns_at_160_error_reasons_are_not_cut() -> None:
    reading = recorded("dns_propagating_with_errors")
    shown, _ = await drawn(DnsPanel(), (reading,), after(reading, 2), size=(160, 48))
    text = shown.text
    assert "ERR timeout after 0.8 s" in text
    assert "old gone by 00:56:14Z (in 16 s)  TTL 30 s, preflight ok ✓" in text


async def test_dns_many_records_at_80_become_one_line_each() -> None:
    readings = (
        recorded("dns_wrong_answer_preflight_failed"),
        recorded("dns_propagating_preflight_failed"),
        recorded("dns_nxdomain"),
    )
    shown, _ = await drawn(DnsPanel(), readings, after(readings[-1], 2), panel_height=12)
    text = shown.text
    lines = lines_of(text)
    assert lines == [
        "CRIT App.cutover.test  0 %  new 0 · old 1 · other 3  worst: cache-2 OTHER",
        "WARN app.cutover.test  75 %  new 3 · old 1  worst: cache-1 OLD",
        "CRIT missing.cutover.test  —  new 0 · err 4  worst: cache-1 ERR, cache-2 ERR",
        "last old answer gone by 00:58:14Z (in 29 s)",
        "TTL preflight FAILED for 2/3 records: App.cutover.test, app.cutover.test",
    ]
    assert len(lines) <= shown.content_height


async def test_dns_in_a_cockpit_grid_cell_stays_within_50_columns() -> None:
    readings = (
        recorded("dns_wrong_answer_preflight_failed"),
        recorded("dns_propagating_preflight_failed"),
        recorded("dns_nxdomain"),
    )
    shown, _ = await drawn(DnsPanel(), readings, after(readings[-1], 2), (54, 24), 14)
    assert lines_of(shown.text) == [
        "CRIT App.cutover.test  0 %",
        "  new 0 · old 1 · other 3  worst: cache-2 OTHER",
        "WARN app.cutover.test  75 %",
        "  new 3 · old 1  worst: cache-1 OLD",
        "CRIT missing.cutover.test  —",
        "  new 0 · err 4  worst: cache-1 ERR, cache-2 ERR",
        "last old answer gone by 00:58:14Z (in 29 s)",
        "TTL preflight FAILED for 2/3 records: App.cutover…",
    ]


async def test_dns_one_record_in_a_grid_cell_keeps_the_detail() -> None:
    reading = recorded("dns_propagating_with_errors")
    shown, _ = await drawn(DnsPanel(), (reading,), after(reading, 2), (54, 24), 14)
    assert [squeezed(line) for line in lines_of(shown.text)] == [
        "WARN app.cutover.test A 0 % converged (0/4)",
        " old gone by 00:56:14Z (in 16 s)",
        " TTL 30 s, preflight ok ✓",
        " cache-1 OLD 17s cache-2 ERR SERVFAIL",
        " cache-3 ERR timeout… unbound OLD 17s",
        " auth: authoritative NEW 30s",
        "2s ago",
    ]


async def test_dns_more_records_than_rows_shows_the_worst_first_and_scrolls_to_the_rest() -> None:
    converged = recorded("dns_converged")
    calm = tuple(replace(converged, signal_id=f"dns:ok-{n}.cutover.test") for n in range(12))
    wrong = recorded("dns_wrong_answer_preflight_failed")
    wrong = replace(wrong, observed_at=converged.observed_at)
    panel = DnsPanel()
    async with Host(panel, 12).run_test(size=(80, 24)) as pilot:
        panel.now, panel.readings = after(converged, 2), (*calm, wrong)
        await pilot.pause()
        lines = lines_of(exported(panel, False))
        assert len(lines) == panel.size.height == 10
        assert lines[0].startswith("CRIT App.cutover.test")
        assert lines[1] == "OK ok-0.cutover.test  100 %  new 4"
        assert lines[-1] == "▼ 6 more"
        panel.show_end()
        await pilot.pause()
        lines = lines_of(exported(panel, False))
        assert lines[0] == "▲ 6 more"
        assert lines[-3] == "OK ok-11.cutover.test  100 %  new 4"
        assert lines[-1].startswith("TTL preflight FAILED for 1/13 records")


async def test_dns_without_readings_waits_and_unconfigured_says_so() -> None:
    shown, _ = await drawn(DnsPanel(), (), datetime.fromisoformat("2026-11-23T01:00:00+00:00"))
    text = shown.text
    assert text.strip() == "waiting for the first reading…"
    panel = DnsPanel()
    panel.configured = False
    shown, _ = await drawn(panel, (), datetime.fromisoformat("2026-11-23T01:00:00+00:00"))
    text = shown.text
    assert text.strip() == "not configured"


def crowd(resolvers: int, records: int) -> tuple[Reading, ...]:
    """`records` readings of `resolvers` resolvers each (a third of them new), as the source
    builds them, through JSON as a journal holds them."""
    observed_at = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    readings = []
    for number in range(records):
        record = DnsRecord.model_validate(
            {"name": f"r{number}.shop.test", "expect": "127.0.20.1", "old": "127.0.10.1"}
        )
        answers = tuple(
            ServerAnswer(
                label=f"resolver-{index}",
                address=f"127.0.1.{index}:53",
                role="resolver",
                answers=("127.0.20.1",) if index % 3 == 0 else ("127.0.10.1",),
                ttl_seconds=30 - index % 30,
                matches="new" if index % 3 == 0 else "old",
                error=None,
            )
            for index in range(resolvers)
        )
        view = RecordView(record, answers, (), 60, observed_at)
        data = {
            "signal": f"dns:{record.name}",
            "kind": "dns",
            "status": record_status(view).value,
            "observed_at": observed_at.isoformat(),
            "values": json.loads(json.dumps(record_values(view))),
            "detail": record_detail(view),
            "stale_after_seconds": 10.0,
        }
        readings.append(reading_from_json(data))
    return tuple(readings)


@pytest.mark.parametrize(("size", "panel_height"), [((80, 24), None), ((160, 48), 14)])
async def test_dns_a_hundred_resolvers_per_record_draw_no_cell_that_cannot_show(
    size: tuple[int, int], panel_height: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn_cells: list[object] = []
    draw_cell = dns_panel.answer_text

    def counted(*args: Any) -> Text:
        drawn_cells.append(args)
        return draw_cell(*args)

    monkeypatch.setattr(dns_panel, "answer_text", counted)
    readings = crowd(100, 10)
    shown, _ = await drawn(DnsPanel(), readings, after(readings[0], 1), size, panel_height)
    lines = lines_of(shown.text)
    assert drawn_cells == []
    assert [line.split("  worst: ")[0] for line in lines[:10]] == [
        f"WARN r{number}.shop.test  34 %  new 34 · old 66" for number in range(10)
    ]
    assert lines[10:] == [
        "last old answer gone by 01:00:29Z (in 28 s)",
        "TTL preflight ok for 0/10 records, 10 unknown",
    ]


async def test_dns_a_summary_row_opens_into_every_server() -> None:
    readings = crowd(100, 10)
    _, panel = await drawn(DnsPanel(), readings, after(readings[0], 1))
    row = panel.panel_rows()[0]
    assert callable(row.detail)
    detail = row.detail()
    assert detail.title == "dns:r0.shop.test"
    assert DetailLine("resolvers", "100", 0) in detail.lines
    assert sum(1 for line in detail.lines if line.label == "• resolver") == 100


@pytest.mark.parametrize("width", [54, 80, 120, 160])
async def test_dns_the_detailed_layout_is_never_shorter_than_its_floor(width: int) -> None:
    first = recorded("dns_wrong_answer_preflight_failed")
    readings = (
        first,
        replace(recorded("dns_propagating_with_errors"), observed_at=first.observed_at),
        replace(recorded("dns_nxdomain"), observed_at=first.observed_at),
    )
    shown, _ = await drawn(DnsPanel(), readings, after(first, 2), (width, 60))
    assert lines_of(shown.text)[-1] == "2s ago", "the detailed layout must be the one shown"
    assert detailed_lines_at_least(readings, width - 4) <= len(lines_of(shown.text))


# --- traffic --------------------------------------------------------------------------------


async def test_traffic_ok_first_step_at_80() -> None:
    reading = recorded("traffic_route53_first_step")
    shown, panel = await drawn(TrafficPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert lines_of(text) == [
        "OK old 100 % / new 0 % (step 1 of 7: 0 %)",
        "old 100 % | new 0 %  step 1 of 7 · next 5 %",
        "old " + "█" * 68 + " new",
        "plan [0] → 5 → 10 → 25 → 50 → 75 → 100",
        "Route 53 weighted records · TTL 30 s · raw old 100 / new 0",
        "2s ago",
    ]
    assert panel.border_title == "TRAFFIC · OK · 2s"


async def test_traffic_between_steps_marks_where_it_stands() -> None:
    reading = recorded("traffic_route53_between_steps")
    shown, panel = await drawn(TrafficPanel(), (reading,), after(reading, 2))
    text = shown.text
    lines = lines_of(text)
    assert lines[0] == "WARN new 30 % is not a planned step (between 25 % and 50 %)"
    assert lines[1] == "old 70 % | new 30 %  not a planned step: between 25 % and 50 %"
    assert lines[2] == "old " + "█" * 48 + "░" * 20 + " new"
    assert lines[3] == "plan 0 → 5 → 10 → 25 → [now 30 %] → 50 → 75 → 100"
    assert panel.has_class("-warn")


async def test_traffic_alb_with_a_maintenance_rule_brackets_the_current_step() -> None:
    reading = recorded("traffic_alb_maintenance_rule")
    shown, _ = await drawn(TrafficPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert "old 75 % | new 25 %  step 4 of 7 · next 50 %" in text
    assert "plan 0 → 5 → 10 → [25] → 50 → 75 → 100" in text
    assert "ALB weighted forward · raw old 75 / new 25 · maintenance rule in front: yes" in text
    assert "TTL" not in text


async def test_traffic_critical_missing_set_has_no_bar_and_says_why() -> None:
    reading = recorded("traffic_route53_set_missing")
    shown, panel = await drawn(TrafficPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert text.startswith("CRIT weights unknown: weighted record set 'green' (the new side)")
    assert "█" not in text and "░" not in text
    assert "current step unknown" in text
    assert "raw old 0 / new —" in text
    assert "| new" not in text and "old 0 %" not in text
    assert panel.has_class("-critical")


async def test_traffic_unknown_poll_failure_has_no_bar_and_no_numbers() -> None:
    reading = recorded("traffic_poll_failed")
    shown, panel = await drawn(TrafficPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert lines_of(text) == [
        "UNKNOWN weights unknown: AWS error ListenerNotFound: The specified listener",
        "does not exist.",
        "2s ago",
    ]
    assert panel.has_class("-unknown")


async def test_traffic_alb_with_both_weights_zero_is_unknown_not_zero_percent() -> None:
    reading = recorded("traffic_alb_both_zero")
    shown, _ = await drawn(TrafficPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert "weights unknown: both target group weights are 0" in text
    assert "old 0 %" not in text and "new 0 %" not in text
    assert "█" not in text


async def test_traffic_route53_with_both_weights_zero_splits_evenly() -> None:
    reading = recorded("traffic_route53_both_zero")
    shown, _ = await drawn(TrafficPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert "old 50 % | new 50 %  step 5 of 7 · next 75 %" in text
    assert "old " + "█" * 34 + "░" * 34 + " new" in text


async def test_traffic_half_known_weights_are_unknown() -> None:
    reading = recorded("traffic_route53_first_step", weights={"old": 100.0, "new": None})
    shown, _ = await drawn(TrafficPanel(), (reading,), after(reading, 2))
    text = shown.text
    assert "weights unknown" in text
    assert "█" not in text


async def test_traffic_stale_reading_is_labelled_and_dimmed() -> None:
    reading = recorded("traffic_alb_maintenance_rule")
    shown, panel = await drawn(TrafficPanel(), (reading,), after(reading, 20))
    text = shown.text
    assert text.startswith("STALE old 75 % / new 25 %")
    assert lines_of(text)[-1] == "STALE, 20s old"
    assert panel.has_class("-stale")
    assert is_dim(shown.styled.split("\n")[0])


async def test_traffic_at_160_stretches_the_bar() -> None:
    reading = recorded("traffic_route53_between_steps")
    shown, _ = await drawn(TrafficPanel(), (reading,), after(reading, 2), size=(160, 48))
    text = shown.text
    bar = next(line for line in lines_of(text) if line.startswith("old █"))
    assert len(bar) == 156
    assert bar.count("░") == round(148 * 0.3)


async def test_traffic_in_the_cockpit_grid_column_breaks_between_steps() -> None:
    reading = recorded("traffic_route53_between_steps")
    shown, _ = await drawn(TrafficPanel(), (reading,), after(reading, 2), size=(40, 24))
    text = shown.text
    assert "plan 0 → 5 → 10 → 25 → [now 30 %]\n  → 50 → 75 → 100" in text
    assert all(len(line) <= 36 for line in lines_of(text))


def test_bar_gives_a_small_share_at_least_one_cell() -> None:
    assert bar_cells(Split(99.96, 0.04), 68) == (67, 1)
    assert bar_cells(Split(0.04, 99.96), 68) == (1, 67)
    assert bar_cells(Split(100.0, 0.0), 68) == (68, 0)
    assert bar_cells(Split(75.0, 25.0), 68) == (51, 17)


def test_a_set_with_a_canary_lists_every_member_and_its_true_share() -> None:
    members = [
        {"label": "old", "role": "old", "weight": 90, "share_percent": 900 / 11},
        {"label": "new", "role": "new", "weight": 10, "share_percent": 100 / 11},
        {"label": "canary", "role": "other", "weight": 10, "share_percent": 100 / 11},
    ]
    reading = Reading(
        signal_id="traffic",
        kind=SignalKind.TRAFFIC,
        status=Status.OK,
        observed_at=datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
        values={"members": members},
        detail="",
    )

    lines = [line.plain for line in members_lines(reading, 80)]

    assert lines == ["members old 90 = 81.8 % · new 10 = 9.1 % · canary 10 = 9.1 %"]
    two = Reading(
        signal_id="traffic",
        kind=SignalKind.TRAFFIC,
        status=Status.OK,
        observed_at=datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
        values={"members": members[:2]},
        detail="",
    )
    assert members_lines(two, 80) == []
