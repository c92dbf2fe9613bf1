"""`cockpit note TEXT`: an operator's note into this cutover's session journal, from a shell."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from cockpit.clock import Clock, system_clock
from cockpit.config import ConfigError, load_config, read_config_text
from cockpit.exit_codes import EXIT_COULD_NOT_RUN, EXIT_NOT_DONE, EXIT_OK
from cockpit.journal.chain import operator_name
from cockpit.journal.opening import SessionBusy, open_session_journal

NOTE_KIND = "note"


def run_note(
    config_path: Path,
    text: str,
    *,
    journal_dir: Path | None,
    environ: Mapping[str, str],
    say: Callable[[str], None] = print,
    clock: Clock = system_clock,
) -> int:
    """Appends the note (fsync'ed, secrets removed) to the session's journal; 0 when written."""
    if not text.strip():
        say("cockpit note: the note is empty; write what happened, e.g. cockpit note 'db paused'")
        return EXIT_COULD_NOT_RUN
    try:
        config = load_config(config_path)
        config_text = read_config_text(config_path)
    except ConfigError as error:
        say(error.report())
        return EXIT_COULD_NOT_RUN
    try:
        journal = open_session_journal(
            config,
            config_text=config_text,
            mode="live",
            environ=environ,
            clock=clock,
            journal_dir=journal_dir,
        )
    except SessionBusy as busy:
        say(f"cockpit note: {busy}: press n in that cockpit to add the note there")
        return EXIT_NOT_DONE
    with journal:
        journal.append(
            NOTE_KIND, {"text": text.strip(), "operator": operator_name(environ)}, sync=True
        )
    say(f"note added to {journal.path}")
    return EXIT_OK
