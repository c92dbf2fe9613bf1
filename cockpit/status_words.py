"""Each status in words, as the screen, `cockpit check` and the report say it, with the style
that keeps it readable without colour. JSON keeps the enum's value ("critical")."""

from __future__ import annotations

from cockpit.model import Status

STATUS_WORDS = {
    Status.OK: "OK",
    Status.WARN: "WARN",
    Status.CRITICAL: "CRIT",
    Status.UNKNOWN: "UNKNOWN",
    Status.STALE: "STALE",
}
STATUS_STYLES = {
    Status.OK: "green",
    Status.WARN: "bold yellow",
    Status.CRITICAL: "bold reverse red",
    Status.UNKNOWN: "reverse magenta",
    Status.STALE: "bold underline magenta",
}
"""Worst states the most visible even without colour: OK plain, WARN bold, CRIT bold reverse,
UNKNOWN reverse, STALE bold underlined; colours are the terminal's own ANSI ones."""
STATUS_MEANINGS = {
    Status.OK: "read, fresh and within its limits",
    Status.WARN: "read and fresh, but needs watching (lag building, a resolver on the old answer)",
    Status.CRITICAL: "read and fresh, and over a limit: stop and decide, or roll back",
    Status.STALE: "the last reading is older than its limit: what it shows may no longer be true",
    Status.UNKNOWN: "could not be read (error, timeout, no data); guards block on it, never pass",
}
"""What each status word means, for the help screen."""
