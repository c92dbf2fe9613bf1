"""The cockpit's keys for the help screen, and its entries in the command palette."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

from textual.app import SystemCommand
from textual.binding import Binding, BindingType

from cockpit.actions.runner import ActionRunner
from cockpit.live.state import State
from cockpit.rules.verdicts import blocking
from screens.cockpit_screen import PANELS, CockpitScreen

Press = Callable[[str, bool], None]


def key_help(
    app_bindings: Sequence[BindingType], runner: ActionRunner | None
) -> list[tuple[str, str]]:
    """Every key the cockpit answers to, from the bindings themselves."""
    keys = [(b.key, b.description) for b in _described(app_bindings)]
    keys += [(b.key, b.description) for b in _described(CockpitScreen.BINDINGS)]
    keys += [(spec.key, f"show the {spec.short_name} panel") for spec in PANELS]
    if runner is not None:
        keys += [(s.key_label, f"{s.title}: {s.description}") for s in runner.actions]
    keys.append(("ctrl+p", "command palette: every command"))
    return list(dict.fromkeys(keys))


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
