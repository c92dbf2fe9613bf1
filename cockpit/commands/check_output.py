"""What `cockpit check` prints for a person: every signal and every action's guards, in the
screen's own status words, so the output survives a terminal without colour."""

from __future__ import annotations

from typing import Any

from cockpit.jsonvalue import JsonValue, json_items, json_object, json_text
from cockpit.model import Status
from cockpit.status_words import STATUS_STYLES, STATUS_WORDS


def status_word(value: JsonValue) -> str:
    """'CRIT' for "critical": the word the screen uses for a JSON status."""
    try:
        return STATUS_WORDS[Status(str(value))]
    except ValueError:
        return str(value).upper()


def guard_lines(guards: JsonValue) -> list[tuple[str, str, str]]:
    """(action, READY or BLOCKED, the reasons) for every action, in the registry's order."""
    lines = []
    for entry in json_items(guards):
        action = json_object(entry)
        results = [json_object(result) for result in json_items(action.get("guards"))]
        reasons = [json_text(r.get("reason")) for r in results if r.get("passed") is False]
        ready = action.get("ready") is True
        lines.append(
            (json_text(action.get("action")), "READY" if ready else "BLOCKED", "; ".join(reasons))
        )
    return lines


def print_check(document: Any) -> None:
    """The readings, then every action's guards, loose ends, and the overall word."""
    from rich.console import Console

    console = Console()
    console.print(_readings_table(document))
    console.print(_guards_table(document))
    for loose_end in document.get("loose_ends", []):
        console.print(f"UNKNOWN action outcome: {loose_end}", markup=False, highlight=False)
    overall = status_word(document["status"])
    console.print(f"overall: {overall}", markup=False, highlight=False)


def _readings_table(document: Any) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"cockpit check at {document['checked_at'][:19]}Z", expand=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("SIGNAL", no_wrap=True)
    table.add_column("DETAIL", ratio=1)
    for reading in document["readings"]:
        word = status_word(reading["status"])
        status = _status(reading["status"])
        style = "dim" if status is None else STATUS_STYLES[status]
        table.add_row(Text(word, style=style), Text(reading["signal"]), Text(reading["detail"]))
    return table


def _guards_table(document: Any) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="guards: what each action would do now", expand=True)
    table.add_column("ACTION", no_wrap=True)
    table.add_column("GUARDS", no_wrap=True)
    table.add_column("WHY NOT", ratio=1)
    for action, verdict, reasons in guard_lines(document.get("guards")):
        style = "green" if verdict == "READY" else "bold yellow"
        table.add_row(Text(action), Text(verdict, style=style), Text(reasons))
    return table


def _status(value: object) -> Status | None:
    try:
        return Status(str(value))
    except ValueError:
        return None
