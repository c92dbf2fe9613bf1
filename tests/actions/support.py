"""Configs and helpers for action tests against the shared sandbox."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from cockpit.actions.model import ActionId
from cockpit.commands.act import ActRequest, run_act
from cockpit.journal.reader import JournalRecord, read_journal
from cockpit.sandbox.files import cockpit_config
from cockpit.sandbox.lifecycle import SandboxHandle

QUICK_GUARDS = {
    "weight_min_dwell_seconds": 0.0,
    "promote_quiet_seconds": 1.0,
    "weight_requires_ttl_preflight": True,
}


def write_config(
    handle: SandboxHandle,
    folder: Path,
    *,
    traffic_backend: str = "route53",
    guards: Mapping[str, Any] | None = None,
    steps: list[int] | None = None,
) -> Path:
    """The sandbox's own config with a journal in `folder` and the guards given."""
    info = {**handle.info, "traffic_backend": traffic_backend}
    config = cockpit_config(info)
    config["journal"] = {"dir": str(folder / "journal"), "anchor_syslog": False}
    config["guards"] = {**config["guards"], **QUICK_GUARDS, **(guards or {})}
    if steps is not None:
        config["traffic"]["steps"] = steps
    path = folder / "cockpit.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def sandbox_environ(handle: SandboxHandle) -> dict[str, str]:
    return {**os.environ, **handle.env}


class Act:
    """`cockpit act` in this process, with scripted answers and the output kept."""

    def __init__(self, handle: SandboxHandle, config_path: Path) -> None:
        self.environ = sandbox_environ(handle)
        self.config_path = config_path
        self.output: list[str] = []

    def __call__(self, action: ActionId, *answers: str, **options: Any) -> int:
        replies = list(answers)
        self.output.clear()
        request = ActRequest(action, self.config_path, **options)
        return run_act(
            request, self.environ, ask=lambda prompt: replies.pop(0), say=self.output.append
        )

    @property
    def text(self) -> str:
        return "\n".join(self.output)


def journal_records(folder: Path) -> list[JournalRecord]:
    """Every record of every journal in folder/journal (a live session keeps to one)."""
    records: list[JournalRecord] = []
    for path in sorted((folder / "journal").glob("*.jsonl")):
        records += read_journal(path)[0]
    return records


def action_records(folder: Path, action: ActionId, phase: str) -> list[dict[str, Any]]:
    return [
        r.data
        for r in journal_records(folder)
        if r.kind == "action" and r.data["action"] == action.value and r.data["phase"] == phase
    ]


def wait_until(condition: Callable[[], bool], what: str, timeout_seconds: float = 30.0) -> None:
    """Polls `condition` until true; fails naming `what` (no assertion on how long it took)."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
