"""Opens a session's journal from a loaded config: header, redaction and file in one place.

A live session continues the cutover's newest live journal when it is recent and intact, so one
night stays one record and rollback knows every change made in it. Dry-run and read-only
sessions write journals of their own that no live session ever continues. One live process per
cutover at a time: a lock file beside the journals is taken before the first journal exists.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from cockpit.clock import Clock, system_clock
from cockpit.config import Config, config_digest
from cockpit.journal.chain import JournalBusy, JournalError, session_header
from cockpit.journal.reader import journal_header, read_journal
from cockpit.journal.writer import (
    JournalWriter,
    journals_newest_first,
    make_private_directories,
    slug,
)
from cockpit.jsonvalue import JsonValue
from cockpit.redact import Redactor, redactor_for_config

MODES = ("live", "dry-run", "read-only", "replay")
LIVE = "live"
_LOCK_MODE = 0o600


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
) -> JournalWriter:
    """This session's journal, header (or resume record) written and fsync'ed, secrets redacted.

    A live session holds the cutover's lock (SessionBusy when another process does) and
    continues the newest recent live journal; a damaged one is left as it is and a new journal
    begins. Dry-run and read-only sessions always start a journal of their own.
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
    lock = take_cutover_lock(directory, config.cutover.name) if mode == LIVE else None
    try:
        journal = _open(config, directory, header, redactor, clock, resume=mode == LIVE)
    except BaseException:
        if lock is not None:
            os.close(lock)
        raise
    if lock is not None:
        journal.hold_until_closed(lock)
    return journal


def _open(
    config: Config,
    directory: Path,
    header: dict[str, JsonValue],
    redactor: Redactor,
    clock: Clock,
    *,
    resume: bool,
) -> JournalWriter:
    previous = resumable_journal(config, directory, clock) if resume else None
    anchor_syslog = config.journal.anchor_syslog
    if previous is not None:
        try:
            return JournalWriter.resume(
                previous, data=header, redactor=redactor, clock=clock, anchor_syslog=anchor_syslog
            )
        except JournalBusy as busy:
            raise SessionBusy(str(busy)) from None
        except (JournalError, OSError):
            pass
    return JournalWriter.create(
        directory,
        header=header,
        redactor=redactor,
        clock=clock,
        name_hint=config.cutover.name,
        anchor_syslog=anchor_syslog,
    )


def take_cutover_lock(directory: Path, cutover_name: str) -> int:
    """Holds the cutover's live lock (an open file descriptor); SessionBusy when it is taken.

    Taken before any journal is read or created, so two processes starting on an empty journal
    folder cannot both act: the second is told who holds it.
    """
    make_private_directories(directory)
    path = directory / f".{slug(cutover_name)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _LOCK_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(fd)
        os.close(fd)
        raise SessionBusy(
            f"cutover {cutover_name!r} is being run live by another cockpit process{holder}"
        ) from None
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _lock_holder(fd: int) -> str:
    """' (pid 4242)' from the lock file, or '' when it does not say."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def resumable_journal(config: Config, directory: Path, clock: Clock) -> Path | None:
    """The newest live journal of this cutover whose last record is recent enough to continue.

    Dry-run and read-only journals are passed over: they never become the live record.
    """
    window = timedelta(hours=config.journal.resume_within_hours)
    if not window:
        return None
    path = latest_live_journal(directory, config.cutover.name)
    if path is None:
        return None
    try:
        records, _ = read_journal(path)
    except JournalError:
        return None
    if not records or records[0].data.get("cutover") != config.cutover.name:
        return None
    return path if clock() - records[-1].t <= window else None


def latest_live_journal(directory: Path, cutover_name: str) -> Path | None:
    """The most recently written journal of this cutover that a live session opened."""
    for path in journals_newest_first(directory, cutover_name):
        header = journal_header(path)
        if header is not None and header.get("mode") == LIVE:
            return path
    return None
