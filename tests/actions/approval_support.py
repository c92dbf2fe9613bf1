"""A promotion runner without the sandbox, for the two-person rule: fake replica, real files.

The promotion backend is faked at our own adapter boundary (a replica that is in recovery until
promoted); the approvals folder, the journal and the file owners are real.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from cockpit.actions.approval import (
    Approval,
    Person,
    approval_of,
    current_person,
    read_request,
    request_path,
    write_approval,
)
from cockpit.actions.confirmation import Confirmation
from cockpit.actions.model import ActionId
from cockpit.actions.runner import ActionRunner, AwaitingApproval, Prepared, Refresh
from cockpit.clock import FrozenClock
from cockpit.config import Config, load_config
from cockpit.io.backends import Backends, Writers
from cockpit.journal.reader import read_journal
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.live.state import State, apply
from tests.test_guards import GOOD, NOW, SECTIONS
from tests.test_journal import create_writer

REPLICA = "shop-db-new"
OPERATOR = Person("alice-test", 4_242_424)
"""A requester who is not this process's user, so an approval this process writes is another
person's; the uid is one no account here has."""
EXPIRES_MINUTES = 15.0
NOBODY = Person("nobody", 65534)
"""Another user to stand for the second person, where root gives a file away."""
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\x9b"
"""What a hostile file holds: a title change, a screen clear, colour and a C1 control."""


def no_raw_control(text: str) -> bool:
    """Whether `text` would reach a terminal without a control character (line breaks aside)."""
    return not any(
        (ord(char) < 0x20 and char not in "\n\t") or 0x7F <= ord(char) < 0xA0 for char in text
    )


@dataclass
class FakeReplica:
    """A replica in recovery until promoted; counts every promotion."""

    recovering: bool = True
    promotions: int = 0

    def in_recovery(self) -> bool:
        return self.recovering

    def promote(self) -> tuple[str, ...]:
        self.promotions += 1
        self.recovering = False
        return ("SELECT pg_promote(wait => true)",)


def write_approval_config(folder: Path, **approval: Any) -> Path:
    """The guards' test config as a file in `folder`, with its journal there and [approval]."""
    tables = {
        "journal": {"dir": str(folder / "journal"), "anchor_syslog": False},
        "approval": {"expires_minutes": EXPIRES_MINUTES, **approval},
        "guards": {"weight_max_new_p95_ms": 300.0},
    }
    path = folder / "cockpit.toml"
    path.write_text("\n".join([*SECTIONS.values(), tomli_w.dumps(tables)]))
    return path


def approval_config(folder: Path, **approval: Any) -> Config:
    """The guards' test config with a journal in `folder` and an [approval] section."""
    return load_config(write_approval_config(folder, **approval))


def good_state() -> State:
    """Readings on which every promotion guard passes at NOW."""
    state, _ = apply(State(), list(GOOD.values()))
    return state


@dataclass
class Bench:
    """A live runner over a fake replica, its journal and its frozen clock."""

    config: Config
    runner: ActionRunner
    replica: FakeReplica
    journal: JournalWriter
    clock: FrozenClock
    state: State = field(default_factory=good_state)

    @property
    def approvals(self) -> Path:
        return self.config.approvals_dir

    async def prepare(self) -> Prepared:
        prepared = await self.runner.prepare(ActionId.PROMOTE, self.state, actor="alice@bastion")
        assert isinstance(prepared, Prepared), prepared
        return prepared

    async def request(self) -> AwaitingApproval:
        prepared = await self.prepare()
        waiting = await self.runner.request_approval(prepared, Confirmation(typed_word=REPLICA))
        assert isinstance(waiting, AwaitingApproval), waiting
        return waiting

    def approve(self, waiting: AwaitingApproval, reason: str = "lag 0, writes stopped") -> Path:
        """This process approves, as the second person, exactly what the request file holds."""
        return self.approve_as(waiting, self.me, reason)

    def approve_as(self, waiting: AwaitingApproval, approver: Person, reason: str) -> Path:
        request = read_request(request_path(self.approvals, waiting.prepared.run_id))
        return write_approval(self.approvals, approval_of(request, approver, reason, self.clock()))

    def write(self, approval: Approval) -> Path:
        return write_approval(self.approvals, approval)

    @property
    def me(self) -> Person:
        """This process's user: the second person, unless the runner asks as it too."""
        return current_person()

    def phases(self, phase: str) -> list[dict[str, JsonValue]]:
        """The promotion's journal records of `phase`, oldest first."""
        return phases(self.journal, phase)


def phases(journal: JournalWriter, phase: str) -> list[dict[str, JsonValue]]:
    """The action records of `phase` in the journal, oldest first."""
    return [
        record.data
        for record in read_journal(journal.path)[0]
        if record.kind == "action" and record.data.get("phase") == phase
    ]


def promotion_runners(
    config: Config,
    replica: FakeReplica,
    journal: JournalWriter,
    clock: FrozenClock,
    *,
    identity: Person | None = OPERATOR,
    mode: str = "live",
) -> Callable[[Refresh], ActionRunner]:
    """Builds the runner around a refresh, as the cockpit and `act` do, over the fake replica."""
    writers = Writers(None, None, replica) if mode == "live" else None  # type: ignore[arg-type]
    backends = Backends(None, None, replica, writers)  # type: ignore[arg-type]

    def runner(refresh: Refresh) -> ActionRunner:
        return ActionRunner(
            config=config,
            mode=mode,
            backends=backends,
            refresh=refresh,
            journal=journal,
            clock=clock,
            identity=identity,
        )

    return runner


def bench(
    folder: Path, *, identity: Person | None = OPERATOR, mode: str = "live", **approval: Any
) -> Bench:
    """A runner for the promotion with [approval] on, asking as `identity` (None: this user)."""
    config = approval_config(folder, **approval)
    clock = FrozenClock(NOW)
    replica = FakeReplica()
    journal = create_writer(config.journal_dir, clock=clock)
    state = good_state()

    async def refresh() -> State:
        return state

    runners = promotion_runners(config, replica, journal, clock, identity=identity, mode=mode)
    return Bench(config, runners(refresh), replica, journal, clock, state)


def running_as_root() -> bool:
    return os.geteuid() == 0
