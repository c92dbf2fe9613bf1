"""The cockpit's keys for the help screen, and its entries in the command palette."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

from textual.app import SystemCommand
from textual.binding import Binding, BindingType

from cockpit.actions.registry import ACTIONS
from cockpit.actions.runner import ActionRunner
from cockpit.live.state import State
from cockpit.model import Status
from cockpit.rules.verdicts import blocking
from screens.cockpit_screen import PANELS, CockpitScreen
from widgets.event_log import EventLogPanel
from widgets.formatting import STATUS_MEANINGS, key_text
from widgets.panel import ScrollPanel

Press = Callable[[str, bool], None]


PANEL_MEANINGS = {
    "overview": "go/no-go: each family's status, key number and age; the next step's verdict",
    "replication": "replication lag: bytes and seconds behind, catch-up rate and ETA",
    "targets": "target health: the old and new targets and HTTP health checks",
    "dns": "DNS propagation: what each resolver answers now and the TTL it has left",
    "errors": "error rates: 5xx ratio and latency on the old and the new side",
    "traffic": "traffic weights: the old / new split, the step plan, what was read back",
    "runbook": "runbook: the cutover checklist; steps the signals prove tick themselves",
    "events": "event log: status changes, guard changes, actions and notes",
    "actions": "actions: each guarded key, ready or blocked, and the facts its guards read",
    "integrity": "integrity: old and new database table by table, and buckets, as last checked",
}
"""What each panel shows, by panel id, for the help screen."""


def key_help(
    app_bindings: Sequence[BindingType], actions: Sequence[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """Every key an app with the cockpit screen answers to, once each, as people write keys."""
    keys = [binding_help(b) for b in _described(app_bindings)]
    keys += [binding_help(b) for b in _described(CockpitScreen.BINDINGS) if not _panel_key(b)]
    keys.append(panel_keys_help())
    keys += [binding_help(b) for b in _described([*ScrollPanel.BINDINGS, *EventLogPanel.BINDINGS])]
    keys += actions
    keys.append((key_text("ctrl+p"), "command palette: every command"))
    once: dict[str, str] = {}
    for key, does in keys:
        once.setdefault(key, does)
    return list(once.items())


def action_keys_help(runner: ActionRunner | None) -> list[tuple[str, str]]:
    """The action keys: what each does, or that a read-only session cannot run it."""
    if runner is not None and runner.actions:
        return [(s.key_label, f"{s.title}: {s.description}") for s in runner.actions]
    return [(s.key_label, f"{s.title}: not in a read-only session") for s in ACTIONS]


def binding_help(binding: Binding) -> tuple[str, str]:
    """A binding's key as people write it, and what it does."""
    key = binding.key_display or key_text(binding.key.split(",")[0])
    return key, binding.tooltip or binding.description


def panel_keys_help() -> tuple[str, str]:
    """One line for the number keys, '1–8', instead of one per panel."""
    return (
        f"{PANELS[0].key}–{PANELS[-1].key}",
        "show that panel: alone below 120x36, a taller row in the grid",
    )


def panel_help() -> list[tuple[str, str]]:
    """Each panel's label in the status line, and what the panel shows."""
    return [(f"{s.key} {s.short_name}", PANEL_MEANINGS.get(s.panel_id, "")) for s in PANELS]


def status_help() -> list[tuple[Status, str]]:
    """Each status word and what it means."""
    return list(STATUS_MEANINGS.items())


def panel_commands(show_panel: Callable[[str], None]) -> Iterable[SystemCommand]:
    for spec in PANELS:
        show = partial(show_panel, spec.panel_id)
        yield SystemCommand(f"Panel: {spec.short_name}", f"Show panel {spec.key}", show)


def action_commands(
    runner: ActionRunner | None, state: State, press: Press
) -> Iterable[SystemCommand]:
    """Each action, and an override entry for each one its guards block right now."""
    if runner is None:
        return
    for spec in runner.actions:
        plain = partial(press, spec.action_id.value, False)
        yield SystemCommand(
            f"Action: {spec.title}", f"{spec.description} (key {spec.key_label})", plain
        )
        blocked = blocking(runner.guards(spec.action_id, state))
        if blocked:
            override = partial(press, spec.action_id.value, True)
            why = f"blocked: {blocked[0].reason}; type OVERRIDE and a reason to go on"
            yield SystemCommand(f"Override guards: {spec.title}", why, override)


def _described(bindings: Sequence[BindingType]) -> list[Binding]:
    return [b for b in bindings if isinstance(b, Binding) and b.description]


def _panel_key(binding: Binding) -> bool:
    return any(binding.key == spec.key for spec in PANELS)
