"""The demo's story, told on a loop through the sandbox's control API.

Each cycle: traffic split 75/25, lag that builds and drains, an error burst on the new side,
then a DNS switch to the new side with one resolver stuck on the old answer for a while. With
the database moving by logical replication, the lag is the subscription's, and the publisher's
sequences move ahead of the subscriber's.

The weights are the operator's once they have acted: from the first action on, the story no
longer sets them (it would undo their steps), and lag, errors and resolvers go on as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cockpit.sandbox.control import ControlClient
from cockpit.sandbox.shared import SandboxError

CYCLE_SECONDS = 180.0
OPERATOR_OWNED = frozenset({"traffic-split"})
"""Scenarios that change what the operator steers: skipped once the operator has acted."""


@dataclass(frozen=True)
class Beat:
    """At `at_seconds` into each cycle, inject `scenario` with `args`."""

    at_seconds: float
    scenario: str
    args: dict[str, Any] = field(default_factory=dict)


STORY = (
    Beat(0, "traffic-split", {"ratio": 0.25}),
    Beat(5, "lag-spike", {"rows_per_second": 3000, "for_seconds": 20}),
    Beat(40, "error-burst", {"side": "new", "ratio": 0.2, "for_seconds": 15}),
    Beat(70, "resolver-stuck", {"resolver": 0, "for_seconds": 80}),
    Beat(72, "traffic-split", {"ratio": 1.0}),
    Beat(160, "traffic-split", {"ratio": 0.25}),
)


LOGICAL_STORY = (
    Beat(0, "traffic-split", {"ratio": 0.25}),
    Beat(5, "logical-lag", {"rows_per_second": 1500}),
    Beat(25, "logical-catch-up"),
    Beat(30, "logical-sequence-behind", {"steps": 200}),
    *STORY[2:],
)


class DemoStory:
    """Runs STORY in a background thread until stopped; a failed beat is skipped, not fatal.

    operator_acted: whether the operator has run an action yet (read before each beat).
    """

    def __init__(
        self,
        client: ControlClient,
        story: tuple[Beat, ...] = STORY,
        operator_acted: Callable[[], bool] = lambda: False,
    ) -> None:
        self._client = client
        self._story = story
        self._operator_acted = operator_acted
        self.skipped: list[str] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._tell, name="demo-story", daemon=True)
        self.failures: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)

    def _tell(self) -> None:
        while not self._stopped.is_set():
            elapsed = 0.0
            for beat in self._story:
                if self._stopped.wait(beat.at_seconds - elapsed):
                    return
                elapsed = beat.at_seconds
                self._play(beat)
            if self._stopped.wait(CYCLE_SECONDS - elapsed):
                return

    def _play(self, beat: Beat) -> None:
        if beat.scenario in OPERATOR_OWNED and self._operator_acted():
            self.skipped.append(beat.scenario)
            return
        try:
            self._client.inject(beat.scenario, **beat.args)
        except SandboxError as error:
            self.failures.append(f"{beat.scenario}: {error}")
