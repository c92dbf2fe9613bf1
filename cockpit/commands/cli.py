"""The `cockpit` command line: argument parsing and exit codes, nothing else."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit import __version__
from cockpit.sandbox.commands import add_sandbox_commands

if TYPE_CHECKING:
    from cockpit.config import Config

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2


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


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=summary)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cockpit",
        description="A terminal cockpit for cutover night: live replication lag, target health, "
        "DNS propagation and error rates; guarded actions; a session journal for the postmortem.",
    )
    parser.add_argument("--version", action="version", version=f"cockpit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

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
        commands, "check", "poll every source once, then the guards (exit 0/1/2)", _check
    )
    _add_config_option(check)
    check.add_argument("--json", action="store_true", help="machine-readable output")

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
    replay.add_argument("journal", type=Path, metavar="JOURNAL")
    replay.add_argument("--speed", type=float, default=1.0, metavar="N", help="playback speed")
    replay.add_argument("--follow", action="store_true", help="watch a live session read-only")

    report = _command(commands, "report", "write a postmortem draft from a journal", _report)
    report.add_argument("journal", type=Path, metavar="JOURNAL")
    report.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: stdout")
    report.add_argument("--format", choices=("md", "json"), default="md")

    verify = _command(
        commands, "verify", "check a journal's hash chain (exit 0 intact, 1 broken)", _verify
    )
    verify.add_argument("journal", type=Path, metavar="JOURNAL")
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
    config_commands = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    validate = _command(
        config_commands, "validate", "report every problem in a config file", _validate
    )
    validate.add_argument("file", type=Path, metavar="FILE")

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

    return run_replay(args.journal, speed=args.speed, follow=args.follow)


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

    from cockpit.commands.check import check_json, describe_empty, run_check

    config = _usable_config(args.config, "check", _prefixed("nothing to check", describe_empty))
    if config is None:
        return EXIT_USAGE
    result = run_check(config, os.environ)
    document = check_json(result, config, os.environ)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        _print_check_table(document)
    return result.exit_code


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


def _print_check_table(document: Any) -> None:
    """Status spelled out in words, so it survives a terminal without colour."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    styles = {"ok": "green", "warn": "yellow", "critical": "bold red", "unknown": "magenta"}
    table = Table(title=f"cockpit check at {document['checked_at'][:19]}Z", expand=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("SIGNAL", no_wrap=True)
    table.add_column("DETAIL", ratio=1)
    for reading in document["readings"]:
        status = reading["status"]
        table.add_row(
            Text(status.upper(), style=styles.get(status, "dim")),
            Text(reading["signal"]),
            Text(reading["detail"]),
        )
    console = Console()
    console.print(table)
    for loose_end in document.get("loose_ends", []):
        console.print(f"UNKNOWN action outcome: {loose_end}", markup=False, highlight=False)
    console.print(f"overall: {document['status'].upper()}", markup=False, highlight=False)


def _verify(args: argparse.Namespace) -> int:
    from cockpit.journal.verify import verify_journal

    verification = verify_journal(args.journal, anchor_files=args.anchors)
    stream = sys.stdout if verification.intact else sys.stderr
    print(f"{args.journal}:", file=stream)
    for line in verification.summary():
        print(f"  {line}", file=stream)
    return EXIT_OK if verification.intact else EXIT_PROBLEM


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        print(f"cockpit {args.command}: internal error: {_error_text(error)}", file=sys.stderr)
        if os.environ.get("COCKPIT_DEBUG"):
            traceback.print_exc()
        else:
            print("  (set COCKPIT_DEBUG=1 to see the traceback)", file=sys.stderr)
        return EXIT_PROBLEM


def _error_text(error: BaseException) -> str:
    """An unexpected error's repr, redacted and on one visible line: it may quote outside text."""
    from cockpit.outside import outside_text

    return outside_text(repr(error), 500)


if __name__ == "__main__":
    sys.exit(main())
