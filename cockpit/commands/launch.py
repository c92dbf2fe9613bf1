"""`cockpit run` and `cockpit demo`: put config, sources, journal and screen together and run."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from cockpit.config import Config, ConfigError, load_config, read_config_text
from cockpit.exit_codes import EXIT_COULD_NOT_RUN
from cockpit.journal.chain import JournalError
from cockpit.journal.opening import SessionBusy, open_session_journal
from cockpit.journal.verify import verify_journal
from cockpit.journal.writer import JournalWriter
from cockpit.review.replay import chain_problem, speed_problem
from cockpit.review.timeline import Timeline

if TYPE_CHECKING:
    from cockpit.app import CockpitApp

MODE_WORDS = {"live": "LIVE", "dry-run": "DRY-RUN", "read-only": "READ-ONLY"}


def run_cockpit(
    config_path: Path, *, mode: str, journal_dir: Path | None, environ: Mapping[str, str]
) -> int:
    """Opens the cockpit on a real environment's config; 3 with a clear message on bad config."""
    try:
        config = load_config(config_path)
        config_text = read_config_text(config_path)
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    try:
        journal = open_session_journal(
            config,
            config_text=config_text,
            mode=mode,
            environ=environ,
            journal_dir=journal_dir,
        )
    except SessionBusy as busy:
        print(
            f"cockpit run: {busy}; watch it with `cockpit run --read-only` or "
            "`cockpit replay --follow`",
            file=sys.stderr,
        )
        return 1
    try:
        _run_app(config, journal, mode, environ)
    finally:
        journal.close()
    print(f"session journal: {journal.path}")
    return 0


def _run_app(config: Config, journal: JournalWriter, mode: str, environ: Mapping[str, str]) -> None:
    compose_app(config, journal, mode, environ).run()


def compose_app(
    config: Config,
    journal: JournalWriter,
    mode: str,
    environ: Mapping[str, str],
    key_clock: Callable[[], float] = time.monotonic,
) -> CockpitApp:
    """The cockpit for one session: sources, actions (none read-only), journal and redaction.

    `key_clock` times the keys (monotonic seconds); tests pass a scripted one.
    """
    from cockpit.actions.runner import ActionRunner, Refresh
    from cockpit.actions.session_log import session_log_of
    from cockpit.app import CockpitApp
    from cockpit.io.backends import build_backends
    from cockpit.io.context import SourceContext
    from cockpit.journal.chain import operator_name
    from cockpit.journal.dns_ttl_history import dns_ttl_seen_for
    from cockpit.redact import redactor_for_config
    from cockpit.sources.base import Source
    from cockpit.sources.build import build_sources

    context = SourceContext(config, environ)

    def runner(refresh: Refresh) -> ActionRunner:
        return ActionRunner(
            config=config,
            mode=mode,
            backends=build_backends(config, environ, context.aws, mode=mode),
            refresh=refresh,
            journal=journal,
            session=session_log_of(journal.path),
        )

    def sources() -> list[Source]:
        """Built after the first frame: reading earlier journals for DNS TTLs takes a moment."""
        context.dns_ttl_seen = dns_ttl_seen_for(config, journal.path.parent)
        return build_sources(context)

    return CockpitApp(
        config=config,
        sources=sources,
        mode=MODE_WORDS.get(mode, mode.upper()),
        journal=journal,
        operator=operator_name(environ),
        redactor=redactor_for_config(config, environ),
        actions=None if mode == "read-only" else runner,
        key_clock=key_clock,
    )


@contextmanager
def _signals_end_the_session() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed SSH session) unwind like ctrl-c, so cleanup always runs."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_demo(environ: Mapping[str, str], *, database: str = "streaming") -> int:
    """The sandbox, a story running on it, and the cockpit; everything stopped on the way out.

    database: "streaming" (a replica to promote) or "logical" (a subscription to cut over).
    """
    from cockpit.sandbox.demo_story import LOGICAL_STORY, STORY, DemoStory
    from cockpit.sandbox.files import COCKPIT_LOGICAL_TOML
    from cockpit.sandbox.lifecycle import start_sandbox
    from cockpit.sandbox.shared import SandboxError

    workdir = Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
    print("cockpit demo: starting the local sandbox (a few seconds)…", file=sys.stderr)
    with _signals_end_the_session():
        handle = None
        try:
            handle = start_sandbox(workdir / "sandbox")
            logical = database == "logical"
            journal_dir = handle.directory / "journal"
            story = DemoStory(
                handle.client,
                LOGICAL_STORY if logical else STORY,
                operator_acted=lambda: journal_has_actions(journal_dir),
            )
            story.start()
            config_path = handle.directory / COCKPIT_LOGICAL_TOML if logical else handle.config_path
            try:
                _demo_session(config_path, {**environ, **handle.env})
            finally:
                story.stop()
        except KeyboardInterrupt:
            print("cockpit demo: interrupted", file=sys.stderr)
        except SandboxError as error:
            print(f"cockpit demo: {error}", file=sys.stderr)
            return EXIT_COULD_NOT_RUN
        finally:
            if handle is not None:
                handle.stop()
            _keep_only_journals(workdir)
    return 0


ACTION_RECORD_MARK = b'"kind":"action"'
"""How an action record reads in a journal line (compact JSON; inside a text it is escaped)."""


def journal_has_actions(directory: Path) -> bool:
    """Whether any journal in `directory` holds an action record (the operator pressed one)."""
    for path in directory.glob("*.jsonl"):
        try:
            with path.open("rb") as stream:
                if any(ACTION_RECORD_MARK in line for line in stream):
                    return True
        except OSError:
            continue
    return False


def _demo_session(config_path: Path, environ: Mapping[str, str]) -> None:
    config = load_config(config_path)
    journal = open_session_journal(
        config,
        config_text=read_config_text(config_path),
        mode="live",
        environ=environ,
    )
    try:
        _run_app(config, journal, "live", environ)
    finally:
        journal.close()
        print(f"cockpit demo: session journal kept at {journal.path}", file=sys.stderr)


def _keep_only_journals(workdir: Path) -> None:
    """The sandbox's data goes; the session journal stays for `verify` and `report`."""
    for child in workdir.glob("sandbox/*"):
        if child.name != "journal":
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    if not any(workdir.rglob("*.jsonl")):
        shutil.rmtree(workdir, ignore_errors=True)


def run_replay(path: Path, *, speed: float, follow: bool, approvals_dir: Path | None = None) -> int:
    """Replays (or follows) the journal at `path`; a journal that cannot be shown is said first."""
    command = "cockpit replay --follow" if follow else "cockpit replay"
    problem = speed_problem(speed)
    if problem is not None:
        print(f"{command}: {problem}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    loaded = _load_timeline(path, command)
    if loaded is None:
        return EXIT_COULD_NOT_RUN
    broken = chain_problem(verify_journal(path))
    if follow and broken:
        print(
            f"{command}: cannot follow {path}: {broken}. Replay it without --follow to see "
            f"what it holds, and run `cockpit verify {path}` for the details.",
            file=sys.stderr,
        )
        return EXIT_COULD_NOT_RUN
    from screens.replay_app import ReplayApp

    journal: Timeline | Path = path if follow else loaded
    app = ReplayApp(
        journal,
        journal_path=path,
        follow=follow,
        speed=speed,
        chain_problem=broken,
        approvals_dir=approvals_dir,
    )
    app.run()
    return app.return_code or 0


def _load_timeline(path: Path, command: str) -> Timeline | None:
    """The journal indexed, or None after saying (what, where, how to fix) why it cannot be."""
    if not path.is_file():
        where = (
            "is a directory"
            if path.is_dir()
            else "is not a regular file"
            if path.exists()
            else "does not exist"
        )
        print(
            f"{command}: {path} {where}: give the path of a session journal "
            "(a .jsonl file in the journal.dir of cockpit.toml)",
            file=sys.stderr,
        )
        return None
    try:
        timeline = Timeline.load(path)
    except JournalError as error:
        print(f"{command}: {error}", file=sys.stderr)
        return None
    if not timeline.records:
        print(
            f"{command}: {path} has no complete record: nothing to show "
            f"(run `cockpit verify {path}`)",
            file=sys.stderr,
        )
        return None
    return timeline
