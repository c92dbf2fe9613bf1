"""Shell commands typed into the cockpit by mistake run nothing: a corpus typed key by key.

The corpus is typed into the live cockpit on the shared sandbox, one key at a time with enter
after each line, while the cockpit's key clock moves a random 30–250 ms per key and now and then
1–3 s between lines (people stop typing). Some lines end with the line editing a shell takes
(ctrl+w or ctrl+u then ctrl+y to yank the text back, ctrl+a, ctrl+c), so the confirm key itself
is among what is typed. The clock is scripted rather than waited for: typing some 7,500 keys in
real time would take many minutes, which CI cannot afford. The random generator is seeded, so
every run types with the same rhythm. After a key that opens a plan, typing waits until the plan
is on screen, as it would be long before the next key of a typist.

Each key is sent as `pilot.press` sends it (a Key event posted to the app, judged before any
binding), but then waits only until the app has finished with that key, hop by hop along the
widgets it travels through; `pilot.press` waits for the whole process to go idle, tens of
milliseconds a key, which for this corpus alone would take several minutes.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from textual import events
from textual.keys import _character_to_key
from textual.message_pump import MessagePump
from textual.pilot import Pilot

from cockpit.actions.model import ActionId
from cockpit.app import CockpitApp
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.actions.support import journal_records
from tests.actions.test_act_sandbox import mutating_requests_since
from tests.actions.test_app_actions import SIZE, cockpit, guards_pass, key_clock, settle_until
from tests.key_timing import KeyClock, until

CORPUS = Path(__file__).parent / "fixtures" / "shell_commands.txt"
SEED = 20240601
KEY_GAP_SECONDS = (0.03, 0.25)
LINE_PAUSE_SECONDS = (1.0, 3.0)
LINE_PAUSE_CHANCE = 0.3
EDIT_CHANCE = 0.25
PLAIN_ENDING = ("enter",)
EDITED_ENDINGS = (
    ("ctrl+w", "ctrl+y", "enter"),
    ("ctrl+u", "ctrl+y", "enter"),
    ("ctrl+a", "ctrl+e", "enter"),
    ("ctrl+c",),
)
CHARACTERS = {"enter": "\r"}


def corpus_lines() -> list[str]:
    """The shell commands, one a line."""
    return [line for line in CORPUS.read_text().splitlines() if line]


def preparing(app: CockpitApp) -> bool:
    """An action key was taken and its plan is not on screen yet."""
    press = app.keys.press
    return press is not None and press.shown_at is None


async def handled(node: MessagePump) -> None:
    """Returns once `node` has handled every message already in its queue."""
    done = asyncio.Event()
    if node.call_later(done.set):
        await done.wait()


async def press(app: CockpitApp, key: str, character: str | None) -> None:
    """Sends one key as the terminal does; returns when the app and its widgets are done with it.

    The key goes to the app, then to the focused widget (or the screen), and bubbles back up to
    the app, where the bindings run: each of those queues is waited on in that order.
    """
    app.post_message(events.Key(key, character))
    await handled(app)
    for node in (app.focused or app.screen).ancestors_with_self:
        await handled(node)


def keys_of(line: str, ending: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """The (key, character) pairs for the line and its ending, keys named as pilot names them."""
    typed: list[tuple[str, str | None]] = [(_character_to_key(c), c) for c in line]
    return typed + [(key, CHARACTERS.get(key)) for key in ending]


def ending_of(rng: random.Random) -> tuple[str, ...]:
    """Enter, or now and then some line editing first (or ctrl+c instead)."""
    return rng.choice(EDITED_ENDINGS) if rng.random() < EDIT_CHANCE else PLAIN_ENDING


async def type_line(pilot: Pilot[None], clock: KeyClock, line: str, rng: random.Random) -> None:
    """Each key a typist's gap after the one before; a plan may open in between."""
    app = pilot.app
    assert isinstance(app, CockpitApp)
    for key, character in keys_of(line, ending_of(rng)):
        clock.advance(rng.uniform(*KEY_GAP_SECONDS))
        await press(app, key, character)
        await until(lambda: not preparing(app), "the plan of a pressed key")
    assert app.is_running, f"typing {line!r} closed the cockpit"


def action_phases(folder: Path) -> list[tuple[str, str, str]]:
    """(action, phase, why) of every action record in the session's journal."""
    records = [r.data for r in journal_records(folder) if r.kind == "action"]
    return [(r["action"], r["phase"], str(r.get("why", ""))) for r in records]


def runs_left_open(folder: Path) -> set[str]:
    """Runs the journal has planned but not completed (a press still being answered)."""
    records = [r.data for r in journal_records(folder) if r.kind == "action"]
    planned = {r["run"] for r in records if r["phase"] == "planned"}
    return planned - {r["run"] for r in records if r["phase"] == "completed"}


def test_the_corpus_has_enough_ordinary_commands() -> None:
    lines = corpus_lines()
    assert len(lines) >= 200
    assert any(line.startswith("mysql") for line in lines)
    assert any("apt-get install -y" in line for line in lines)


async def test_typing_shell_commands_into_the_cockpit_runs_nothing(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    before = sandbox.client.requests()
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            clock = key_clock(app)
            await settle_until(pilot, lambda: guards_pass(app, ActionId.MAINTENANCE_ON), "guards")
            for line in corpus_lines():
                if rng.random() < LINE_PAUSE_CHANCE:
                    clock.advance(rng.uniform(*LINE_PAUSE_SECONDS))
                await type_line(pilot, clock, line, rng)
            await until(lambda: not runs_left_open(tmp_path), "every press to end")
    finally:
        journal.close()
    phases = action_phases(tmp_path)
    assert not [p for p in phases if p[1] in ("confirmed", "started", "override")]
    assert any(p[1] == "cancelled" and p[2].startswith("typing detected") for p in phases)
    assert mutating_requests_since(sandbox, before) == []
    promotions = sandbox.client.requests()["postgres"]["pg_promote_calls"]
    assert promotions == before["postgres"]["pg_promote_calls"]
