"""What the screen draws for one action: its key, title, live guards, and the step it advances."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.actions.spec import ActionSpec
from cockpit.rules.verdicts import GuardResult, blocking


@dataclass(frozen=True)
class ActionRow:
    """What the panel draws for one action, as the session computes it from the registry.

    short_title: the word the one-line action bar uses ("maint-on"); the title when empty.
    advances: the step id of the runbook step a run moves forward, None for none.
    """

    key_label: str
    title: str
    one_way: bool
    guards: tuple[GuardResult, ...]
    running: bool = False
    short_title: str = ""
    advances: str | None = None

    @property
    def blocked(self) -> tuple[GuardResult, ...]:
        return blocking(self.guards)

    @property
    def ready(self) -> bool:
        return not self.running and not self.blocked


def action_row(spec: ActionSpec, guards: tuple[GuardResult, ...], running: bool) -> ActionRow:
    """The row for an action as declared, with these guard verdicts."""
    return ActionRow(
        spec.key_label,
        spec.title,
        spec.one_way,
        guards,
        running,
        spec.short_title,
        None if spec.advances is None else spec.advances.step_id,
    )
