"""Opens a session's journal from a loaded config: header, redaction and file in one place.

A live session continues the cutover's newest journal when it is recent, intact and not held by
another process, so one night stays one record and rollback knows every change made in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from cockpit.clock import Clock, system_clock
from cockpit.config import Config, config_digest
from cockpit.journal import (
    JournalBusy,
    JournalError,
    JournalWriter,
    latest_journal,
    read_journal,
    session_header,
)
from cockpit.redact import redactor_for_config

MODES = ("live", "dry-run", "read-only", "replay")


class SessionBusy(Exception):
    """Another cockpit process is writing this cutover's session journal right now."""


def open_session_journal(
    config: Config,
    *,
    config_text: str,
    mode: str,
    environ: Mapping[str, str],
    clock: Clock = system_clock,
    journal_dir: Path | None = None,
    resume: bool = False,
) -> JournalWriter:
    """This session's journal, header (or resume record) written and fsync'ed, secrets redacted.

    resume: continue the newest recent journal of this cutover (SessionBusy when another process
    holds it); a damaged one is left as it is and a new journal begins.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    header = session_header(
        cutover_name=config.cutover.name,
        config_digest=config_digest(config_text),
        mode=mode,
        environ=environ,
        started_at=clock(),
    )
    directory = journal_dir or config.journal_dir
    redactor = redactor_for_config(config, environ)
    previous = resumable_journal(config, directory, clock) if resume else None
    if previous is not None:
        try:
            return JournalWriter.resume(previous, data=header, redactor=redactor, clock=clock)
        except JournalBusy as busy:
            raise SessionBusy(str(busy)) from None
        except (JournalError, OSError):
            pass
    return JournalWriter.create(
        directory, header=header, redactor=redactor, clock=clock, name_hint=config.cutover.name
    )


def resumable_journal(config: Config, directory: Path, clock: Clock) -> Path | None:
    """The newest journal of this cutover whose last record is recent enough to continue."""
    window = timedelta(hours=config.journal.resume_within_hours)
    if not window:
        return None
    path = latest_journal(directory, config.cutover.name)
    if path is None:
        return None
    try:
        records, _ = read_journal(path)
    except JournalError:
        return None
    if not records or records[0].data.get("cutover") != config.cutover.name:
        return None
    return path if clock() - records[-1].t <= window else None
