"""The exit codes every command keeps, so a script can tell a verdict from a failure to run.

check and integrity: 0 OK, 1 WARN / UNKNOWN / STALE (or not yet checked), 2 CRIT (DIFFERENT).
Commands that do something (act, note, approve, verify...): 0 done, 1 not done (refused,
cancelled, blocked, or a journal that does not verify). Every command: 3 when it could not run
at all (bad config, an unreadable or missing file, wrong arguments, an internal error), and
130 after ctrl-c.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_WARN = 1
EXIT_NOT_DONE = 1
EXIT_CRITICAL = 2
EXIT_COULD_NOT_RUN = 3
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "exit codes: 0 OK; 1 WARN, UNKNOWN or STALE (or an action's outcome unknown); 2 CRIT; "
    "3 could not run (bad config, unreadable file, wrong arguments)"
)
