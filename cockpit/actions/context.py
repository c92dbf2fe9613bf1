"""What every action's steps work with: the config, the backends and what changed so far.

Every step is blocking (boto3, psycopg, HTTP); the runner calls them in a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from cockpit.actions.model import Inverse
from cockpit.config import Config
from cockpit.io.backends import Backends, Writers
from cockpit.io.failures import ActionFailed
from cockpit.jsonvalue import JsonValue

Progress = Callable[[str, dict[str, JsonValue]], None]
T = TypeVar("T")

UNDONE = "undone"
"""The phase rollback journals for each resource it has put back."""


class ChangesSoFar(Protocol):
    """What this cutover changed so far, as a step reads it (the session log is one)."""

    @property
    def baseline(self) -> Mapping[str, JsonValue] | None: ...

    @property
    def inverses(self) -> tuple[Inverse, ...]: ...


def _no_progress(phase: str, data: dict[str, JsonValue]) -> None:
    return None


@dataclass(frozen=True)
class StepContext:
    """What a step works with: the config, the session's backends and what it changed so far.

    progress: journals an intermediate step (rollback records each inverse it has undone).
    """

    config: Config
    backends: Backends
    session: ChangesSoFar
    progress: Progress = field(default=_no_progress)


def writers_of(context: StepContext) -> Writers:
    """The writers; ActionFailed when this session may not change anything."""
    if context.backends.writers is None:
        raise ActionFailed("this session cannot change anything (read-only or dry-run)")
    return context.backends.writers


def required(backend: T | None, what: str) -> T:
    """The backend; ActionFailed naming the config section when there is none."""
    if backend is None:
        raise ActionFailed(f"no [{what}] backend in the config")
    return backend
