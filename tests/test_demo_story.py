"""The demo's story leaves the weights to the operator once they have acted.

The story talks to the sandbox's control API; here that client is replaced at our own
boundary by one that records what it was asked to inject.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cockpit.commands.launch import journal_has_actions
from cockpit.sandbox.demo_story import Beat, DemoStory


class RecordingClient:
    def __init__(self) -> None:
        self.injected: list[str] = []

    def inject(self, scenario: str, **args: Any) -> str:
        self.injected.append(scenario)
        return "ok"


STORY = (Beat(0, "traffic-split", {"ratio": 0.25}), Beat(0, "lag-spike"), Beat(0, "error-burst"))


def told(acted: bool) -> tuple[list[str], list[str]]:
    client = RecordingClient()
    story = DemoStory(client, STORY, operator_acted=lambda: acted)  # type: ignore[arg-type]
    story.start()
    deadline = time.monotonic() + 30
    while len(client.injected) + len(story.skipped) < len(STORY):
        assert time.monotonic() < deadline, "the story did not tell its first cycle"
        time.sleep(0.01)
    story.stop()
    return client.injected[: len(STORY)], story.skipped


def test_before_the_operator_acts_the_story_sets_the_weights() -> None:
    injected, skipped = told(acted=False)
    assert injected == ["traffic-split", "lag-spike", "error-burst"] and skipped == []


def test_after_the_operator_acts_it_no_longer_touches_them() -> None:
    injected, skipped = told(acted=True)
    assert injected[:2] == ["lag-spike", "error-burst"] and skipped[0] == "traffic-split"


def test_an_action_record_in_the_journal_means_the_operator_acted(tmp_path: Path) -> None:
    journal = tmp_path / "20261204T010000Z-demo-1.jsonl"
    journal.write_text('{"seq":1,"kind":"note","data":{"text":"\\"kind\\":\\"action\\""}}\n')
    assert not journal_has_actions(tmp_path), "the words inside a note do not count"
    with journal.open("a") as stream:
        stream.write('{"seq":2,"t":"2026-12-04T01:00:00Z","kind":"action","data":{}}\n')
    assert journal_has_actions(tmp_path)
    assert not journal_has_actions(tmp_path / "missing")
