"""Opens a session's journal from a loaded config: header, redaction and file in one place."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cockpit.clock import Clock, system_clock
from cockpit.config import Config, config_digest
from cockpit.journal import JournalWriter, session_header
from cockpit.redact import redactor_for_config

MODES = ("live", "dry-run", "read-only", "replay")


def open_session_journal(
    config: Config,
    *,
    config_text: str,
    mode: str,
    environ: Mapping[str, str],
    clock: Clock = system_clock,
    journal_dir: Path | None = None,
) -> JournalWriter:
    """A new journal for this session, its header written and fsync'ed, secrets redacted."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    header = session_header(
        cutover_name=config.cutover.name,
        config_digest=config_digest(config_text),
        mode=mode,
        environ=environ,
        started_at=clock(),
    )
    return JournalWriter.create(
        journal_dir or config.journal_dir,
        header=header,
        redactor=redactor_for_config(config, environ),
        clock=clock,
        name_hint=config.cutover.name,
    )
