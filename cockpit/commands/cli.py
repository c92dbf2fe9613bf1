"""The `cockpit` command line: argument parsing and exit codes, nothing else."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from cockpit import __version__
from cockpit.commands.completion import SHELLS, complete_if_asked, journal_files, shell_code
from cockpit.exit_codes import (
    EXIT_CODES_HELP,
    EXIT_COULD_NOT_RUN,
    EXIT_INTERRUPTED,
    EXIT_NOT_DONE,
    EXIT_OK,
)
from cockpit.sandbox.commands import add_sandbox_commands

if TYPE_CHECKING:
    from cockpit.config import Config

EXIT_PROBLEM = EXIT_NOT_DONE
EXIT_USAGE = EXIT_COULD_NOT_RUN


class RegistryActionIds:
    """What `cockpit act` accepts: the registry's action ids, read only when first asked for.

    The registry pulls in the config and the backends; `cockpit --version` must stay light.
    """

    def __iter__(self) -> Iterator[str]:
        from cockpit.actions.registry import ACTIONS

        return iter([spec.action_id.value for spec in ACTIONS])

    def __contains__(self, action_id: object) -> bool:
        return action_id in list(self)


ACTION_IDS = RegistryActionIds()

Handler = Callable[[argparse.Namespace], int]


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=Path("cockpit.toml"),
        metavar="FILE",
        help="config file (default: ./cockpit.toml)",
    )


class CockpitParser(argparse.ArgumentParser):
    """argparse, but wrong arguments exit 3 (could not run): 2 is CRIT for `check`."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_COULD_NOT_RUN, f"{self.prog}: error: {message}\n")


def _add_journal_argument(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """JOURNAL, which the shell completes with *.jsonl files."""
    argument = parser.add_argument(
        "journal", type=Path, nargs="?" if optional else None, metavar="JOURNAL"
    )
    argument.completer = journal_files  # type: ignore[attr-defined]


def _command(
    commands: argparse._SubParsersAction[CockpitParser],
    name: str,
    summary: str,
    handler: Handler,
    *,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=summary, epilog=epilog)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = CockpitParser(
        prog="cockpit",
        description="A terminal cockpit for cutover night: live replication lag, target health, "
        "DNS propagation and error rates; guarded actions; a session journal for the postmortem.",
        epilog="Every command exits 3 when it cannot run (bad config, unreadable file, wrong "
        "arguments); see each command's --help for what its other codes mean.",
    )
    parser.add_argument("--version", action="version", version=f"cockpit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CockpitParser)

    run = _command(commands, "run", "open the cockpit on a real environment", _run)
    _add_config_option(run)
    run.add_argument("--dry-run", action="store_true", help="plan and journal, mutate nothing")
    run.add_argument("--read-only", action="store_true", help="no mutating action at all")
    run.add_argument("--journal-dir", type=Path, metavar="DIR", help="override journal.dir")

    demo = _command(commands, "demo", "bring up the sandbox and open the cockpit on it", _demo)
    demo.add_argument(
        "--database",
        choices=("streaming", "logical"),
        default="streaming",
        help="how the demo's database moves: a streaming replica to promote (default) or "
        "logical replication to cut over",
    )

    check = _command(
        commands,
        "check",
        "poll every source once, then every action's guards",
        _check,
        epilog=f"{EXIT_CODES_HELP}. In --json, status is ok, warn, critical, unknown or stale "
        "(the screen's OK, WARN, CRIT, UNKNOWN, STALE); word is the screen's.",
    )
    _add_config_option(check)
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--watch",
        type=float,
        metavar="N",
        help="check again every N seconds until ctrl-c (--json: one document per line); "
        "exits with the last check's code",
    )
    check.add_argument("--count", type=int, metavar="K", help="with --watch: stop after K checks")

    integrity = _command(
        commands,
        "integrity",
        "compare the old and new stores now (exit 0 same, 1 unchecked, 2 different)",
        _integrity,
    )
    _add_config_option(integrity)
    integrity.add_argument(
        "--table", metavar="T", help="check this one table again (schema.table), not the buckets"
    )
    integrity.add_argument("--json", action="store_true", help="machine-readable output")

    act = _command(commands, "act", "run one guarded action from the command line", _act)
    act.add_argument("action", choices=ACTION_IDS, metavar="ACTION", help="%(choices)s")
    _add_config_option(act)
    act.add_argument("--dry-run", action="store_true", help="plan and journal, mutate nothing")
    act.add_argument("--yes", action="store_true", help="skip the y/N prompt (never the guards)")
    act.add_argument(
        "--confirm-name",
        metavar="NAME",
        help="the replica's name, to confirm a promotion without the prompt",
    )
    act.add_argument(
        "--override",
        metavar="REASON",
        help="run despite blocked guards (journaled with REASON; OVERRIDE must still be typed)",
    )
    act.add_argument("--journal-dir", type=Path, metavar="DIR", help="override journal.dir")
    act.add_argument(
        "--break-glass",
        metavar="REASON",
        help="run an action that needs a second operator without one (journaled as BREAK-GLASS "
        "with REASON; OVERRIDE must still be typed)",
    )

    approve = _command(
        commands, "approve", "a second operator approves the pending one-way door", _approve
    )
    _add_config_option(approve)
    approve.add_argument(
        "--run", metavar="RUN_ID", help="the request to approve, when more than one is pending"
    )

    note = _command(commands, "note", "add an operator's note to the session journal", _note)
    note.add_argument("text", nargs="+", metavar="TEXT", help="what happened, in words")
    _add_config_option(note)
    note.add_argument("--journal-dir", type=Path, metavar="DIR", help="override journal.dir")

    replay = _command(commands, "replay", "replay a session journal in the cockpit", _replay)
    _add_journal_argument(replay)
    replay.add_argument("--speed", type=float, default=1.0, metavar="N", help="playback speed")
    replay.add_argument("--follow", action="store_true", help="watch a live session read-only")
    replay.add_argument(
        "-c",
        "--config",
        type=Path,
        metavar="FILE",
        help="with --follow: the cutover's config, for where approvals go (default: an "
        "approvals folder beside the journal)",
    )
    replay.add_argument(
        "--no-approve",
        action="store_true",
        help="with --follow: key A does not approve (the view cockpit serve hands to browsers)",
    )

    serve = _command(
        commands, "serve", "show a session read-only in browsers (loopback + token)", _serve
    )
    _add_journal_argument(serve, optional=True)
    serve.add_argument(
        "--follow",
        action="store_true",
        help="serve the newest session journal of the config's cutover (the live one)",
    )
    _add_config_option(serve)
    serve.add_argument("--port", type=int, default=8765, metavar="N", help="default: 8765")
    serve.add_argument(
        "--host", default="127.0.0.1", metavar="ADDR", help="default: 127.0.0.1 (loopback)"
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (anyone who can reach it and has the token can watch)",
    )

    report = _command(commands, "report", "write a postmortem draft from a journal", _report)
    _add_journal_argument(report)
    report.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: stdout")
    report.add_argument("--format", choices=("md", "json"), default="md")

    verify = _command(
        commands, "verify", "check a journal's hash chain (exit 0 intact, 1 broken)", _verify
    )
    _add_journal_argument(verify)
    verify.add_argument(
        "--anchors",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="also compare with the anchors in FILE (e.g. `journalctl -t cutover-cockpit` "
        "output or a syslog file); repeatable. The sidecar JOURNAL.anchors is always read",
    )

    config = _command(commands, "config", "work with config files", _needs_subcommand)
    config_commands = config.add_subparsers(
        dest="config_command", metavar="SUBCOMMAND", parser_class=CockpitParser
    )
    validate = _command(
        config_commands, "validate", "report every problem in a config file", _validate
    )
    validate.add_argument("file", type=Path, metavar="FILE")

    completion = _command(
        commands,
        "completion",
        "print the shell code that makes cockpit complete (eval it, or add it to ~/.bashrc)",
        _completion,
    )
    completion.add_argument("shell", choices=SHELLS, nargs="?", default="bash")

    sandbox = _command(commands, "sandbox", "the local stand-in infrastructure", _needs_subcommand)
    add_sandbox_commands(sandbox, lambda sub, handler: sub.set_defaults(handler=_sandbox(handler)))
    return parser


def _sandbox(handler: Handler) -> Handler:
    """Sandbox problems (missing binaries, a port in use) are messages, not tracebacks."""

    def guarded(args: argparse.Namespace) -> int:
        from cockpit.sandbox.shared import SandboxError

        try:
            return handler(args)
        except SandboxError as error:
            print(f"cockpit sandbox {args.sandbox_command}: {error}", file=sys.stderr)
            return EXIT_PROBLEM

    return guarded


def _act(args: argparse.Namespace) -> int:
    from cockpit.actions.model import ActionId
    from cockpit.commands.act import ActRequest, run_act

    if args.override is not None and not args.override.strip():
        print("cockpit act: --override needs a reason (it is journaled)", file=sys.stderr)
        return EXIT_USAGE
    if args.break_glass is not None and not args.break_glass.strip():
        print("cockpit act: --break-glass needs a reason (it is journaled)", file=sys.stderr)
        return EXIT_USAGE
    request = ActRequest(
        action_id=ActionId(args.action),
        config_path=args.config,
        dry_run=args.dry_run,
        yes=args.yes,
        confirm_name=args.confirm_name,
        override_reason=args.override,
        journal_dir=args.journal_dir,
        break_glass_reason=args.break_glass,
    )
    return run_act(request, os.environ)


def _approve(args: argparse.Namespace) -> int:
    from cockpit.commands.approve import run_approve

    return run_approve(args.config, run_id=args.run)


def _replay(args: argparse.Namespace) -> int:
    from cockpit.commands.launch import run_replay

    approvals = None
    if args.follow and not args.no_approve:
        approvals = _approvals_dir(args.config, args.journal)
        if approvals is None:
            return EXIT_USAGE
    return run_replay(args.journal, speed=args.speed, follow=args.follow, approvals_dir=approvals)


def _approvals_dir(config_path: Path | None, journal: Path) -> Path | None:
    """The config's approvals folder, or the default one beside the journal; None after saying
    why the config cannot be read."""
    if config_path is None:
        return journal.parent / "approvals"
    from cockpit.config import ConfigError, load_config

    try:
        return load_config(config_path).approvals_dir
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        return None


def _serve(args: argparse.Namespace) -> int:
    from cockpit.commands.serve import ServeRequest, serve

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    journal = _served_journal(args, say)
    if journal is None:
        return EXIT_USAGE
    request = ServeRequest(journal, args.host, args.port, args.allow_remote)
    return serve(request, say)


def _served_journal(args: argparse.Namespace, say: Callable[[str], None]) -> Path | None:
    """JOURNAL as given, or with --follow the newest journal of the config's cutover."""
    if (args.journal is None) == (not args.follow):
        say("cockpit serve: give a JOURNAL or --follow (with -c FILE), not both or neither")
        return None
    if args.journal is not None:
        return Path(args.journal)
    from cockpit.config import ConfigError, load_config
    from cockpit.journal.writer import latest_journal

    try:
        config = load_config(args.config)
    except ConfigError as error:
        say(error.report())
        return None
    journal = latest_journal(config.journal_dir, config.cutover.name)
    if journal is None:
        say(
            f"cockpit serve --follow: no session journal of {config.cutover.name!r} in "
            f"{config.journal_dir}: start the cockpit first (cockpit run -c {args.config})"
        )
    return journal


def _report(args: argparse.Namespace) -> int:
    from cockpit.review.report import run_report

    return run_report(
        args.journal, args.output, args.format, lambda text: print(text, file=sys.stderr)
    )


def _note(args: argparse.Namespace) -> int:
    from cockpit.commands.note import run_note

    return run_note(
        args.config, " ".join(args.text), journal_dir=args.journal_dir, environ=os.environ
    )


def _needs_subcommand(args: argparse.Namespace) -> int:
    print(f"cockpit {args.command}: name a subcommand; see cockpit {args.command} --help")
    return EXIT_USAGE


def _validate(args: argparse.Namespace) -> int:
    from cockpit.config import ConfigError, config_warnings, load_config

    try:
        config = load_config(args.file)
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        return EXIT_USAGE
    sections = [name for name in type(config).model_fields if getattr(config, name) is not None]
    print(f"{args.file}: ok ({', '.join(sections)})")
    for warning in config_warnings(config, os.environ):
        print(f"  warning: {warning}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from cockpit.commands.launch import run_cockpit

    if args.dry_run and args.read_only:
        print("cockpit run: choose --dry-run or --read-only, not both", file=sys.stderr)
        return EXIT_USAGE
    mode = "dry-run" if args.dry_run else "read-only" if args.read_only else "live"
    return run_cockpit(args.config, mode=mode, journal_dir=args.journal_dir, environ=os.environ)


def _demo(args: argparse.Namespace) -> int:
    from cockpit.commands.launch import run_demo

    return run_demo(os.environ, database=args.database)


def _prefixed(
    words: str, describe: Callable[[Config], str | None]
) -> Callable[[Config], str | None]:
    """describe(config) with `words: ` before it, when it says anything."""

    def said(config: Config) -> str | None:
        text = describe(config)
        return None if text is None else f"{words}: {text}"

    return said


def _usable_config(
    path: Path, command: str, why_nothing: Callable[[Config], str | None]
) -> Config | None:
    """The config, or None after saying on stderr why not (its problems, or nothing to do)."""
    from cockpit.config import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        return None
    nothing = why_nothing(config)
    if nothing:
        print(f"cockpit {command}: {nothing}", file=sys.stderr)
        return None
    return config


def _check(args: argparse.Namespace) -> int:
    import json

    from cockpit.commands.check import check_json, describe_empty, run_check, watch
    from cockpit.commands.check_output import print_check

    problem = _watch_problem(args)
    if problem is not None:
        print(f"cockpit check: {problem}", file=sys.stderr)
        return EXIT_USAGE
    config = _usable_config(args.config, "check", _prefixed("nothing to check", describe_empty))
    if config is None:
        return EXIT_USAGE

    def check_once() -> int:
        result = run_check(config, os.environ)
        document = check_json(result, config, os.environ)
        if args.json:
            print(json.dumps(document, indent=None if args.watch else 2), flush=True)
        else:
            print_check(document)
        return result.exit_code

    if args.watch is None:
        return check_once()
    return watch(check_once, args.watch, args.count)


def _watch_problem(args: argparse.Namespace) -> str | None:
    if args.count is not None and args.watch is None:
        return "--count needs --watch N"
    if args.watch is not None and args.watch <= 0:
        return "--watch needs a number of seconds above 0"
    if args.count is not None and args.count < 1:
        return "--count needs at least 1"
    return None


def _integrity(args: argparse.Namespace) -> int:
    import json

    from cockpit.commands.integrity import describe_nothing_to_compare, run_integrity
    from cockpit.redact import redactor_for_config

    why = _prefixed("nothing to compare", describe_nothing_to_compare)
    config = _usable_config(args.config, "integrity", why)
    if config is None:
        return EXIT_USAGE
    redactor = redactor_for_config(config, os.environ)

    def say(line: str) -> None:
        print(f"cockpit integrity: {redactor.text(line)}", file=sys.stderr)

    report = run_integrity(config, os.environ, say=say, table=args.table)
    if args.json:
        print(redactor.text(json.dumps(report.to_json(), indent=2)))
    else:
        _print_integrity_table(report, redactor.text)
    return report.exit_code


def _print_integrity_table(report: Any, redact: Any) -> None:
    """One row per comparison: status in words, what was compared, and what was found."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from cockpit.sources.integrity_buckets import bucket_detail

    table = Table(title="cockpit integrity", expand=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("COMPARED", no_wrap=True)
    table.add_column("DETAIL", ratio=1)
    database = report.database
    for result in database.results if database is not None else ():
        summary = result.summary.removeprefix(f"{result.table}: ")
        table.add_row(Text(result.status), Text(redact(result.table)), Text(redact(summary)))
    if database is not None and database.error:
        table.add_row(Text("UNCHECKED"), Text("databases"), Text(redact(database.error)))
    for bucket in report.buckets:
        compared = f"bucket {bucket.name}: {bucket.old_bucket} → {bucket.new_bucket}"
        detail = bucket_detail(bucket)
        table.add_row(Text(bucket.status), Text(redact(compared)), Text(redact(detail)))
    Console().print(table)


def _completion(args: argparse.Namespace) -> int:
    print(shell_code(args.shell))
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from cockpit.journal.verify import verify_journal

    verification = verify_journal(args.journal, anchor_files=args.anchors)
    stream = sys.stdout if verification.intact else sys.stderr
    print(f"{args.journal}:", file=stream)
    for line in verification.summary():
        print(f"  {line}", file=stream)
    if verification.intact:
        return EXIT_OK
    return EXIT_COULD_NOT_RUN if not args.journal.is_file() else EXIT_NOT_DONE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    complete_if_asked(parser)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:
        print(f"cockpit {args.command}: internal error: {_error_text(error)}", file=sys.stderr)
        if os.environ.get("COCKPIT_DEBUG"):
            traceback.print_exc()
        else:
            print("  (set COCKPIT_DEBUG=1 to see the traceback)", file=sys.stderr)
        return EXIT_COULD_NOT_RUN


def _error_text(error: BaseException) -> str:
    """An unexpected error's repr, redacted and on one visible line: it may quote outside text."""
    from cockpit.outside import outside_text

    return outside_text(repr(error), 500)


if __name__ == "__main__":
    sys.exit(main())
