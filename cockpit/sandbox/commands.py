"""`cockpit sandbox up|down|status|inject`: what the command line does with a sandbox."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cockpit.sandbox.scenarios import SCENARIOS, ScenarioArgs
from cockpit.sandbox.shared import SandboxError

DEFAULT_DIR = Path(".cockpit-sandbox")


def add_sandbox_commands(sandbox: argparse.ArgumentParser, set_handler: Any) -> None:
    """Adds up, down, status and inject under `cockpit sandbox`."""
    commands = sandbox.add_subparsers(
        dest="sandbox_command", metavar="SUBCOMMAND", parser_class=type(sandbox)
    )
    up = commands.add_parser("up", help="start the sandbox in the background")
    up.add_argument("--foreground", action="store_true", help="run here; ctrl-c stops it")
    up.add_argument("--ttl", type=int, default=30, help="DNS TTL of the app record (s)")
    up.add_argument("--resolvers", type=int, default=3, help="caching resolvers to run")
    up.add_argument("--rate", type=float, default=20.0, help="traffic, requests per second")
    up.add_argument("--traffic-backend", choices=("route53", "alb"), default="route53")
    down = commands.add_parser("down", help="stop everything the sandbox started")
    status = commands.add_parser("status", help="show what the sandbox is running")
    inject = commands.add_parser("inject", help="apply a scenario: a fault or a load")
    inject.add_argument("scenario", choices=list(SCENARIOS), metavar="SCENARIO")
    inject.add_argument("--side", choices=("old", "new"), help="which side (default new)")
    inject.add_argument("--resolver", type=int, help="resolver index (default: the last)")
    inject.add_argument("--ratio", type=float, help="error ratio 0..1 (error-burst)")
    inject.add_argument("--ms", type=float, help="added latency in ms (latency)")
    inject.add_argument(
        "--rows-per-second", type=int, help="write load (lag-spike, writes-on, logical-lag)"
    )
    inject.add_argument("--steps", type=int, help="nextval calls (logical-sequence-behind)")
    inject.add_argument("--for", dest="for_seconds", type=float, help="undo after SECONDS")
    width = max(map(len, SCENARIOS))
    inject.epilog = "scenarios:\n" + "\n".join(
        f"  {s.name:<{width}} {s.summary}" for s in SCENARIOS.values()
    )
    inject.formatter_class = argparse.RawDescriptionHelpFormatter
    for parser, handler in ((up, _up), (down, _down), (status, _status), (inject, _inject)):
        parser.add_argument(
            "--dir",
            type=Path,
            default=DEFAULT_DIR,
            metavar="DIR",
            help=f"the sandbox's folder (default: {DEFAULT_DIR})",
        )
        set_handler(parser, handler)


def _up(args: argparse.Namespace) -> int:
    from cockpit.sandbox.lifecycle import start_sandbox
    from cockpit.sandbox.runner import SandboxOptions
    from cockpit.sandbox.runner_process import run

    options = SandboxOptions(
        dns_ttl_seconds=args.ttl,
        caching_resolvers=args.resolvers,
        traffic_rate_per_second=args.rate,
        traffic_backend=args.traffic_backend,
    )
    if args.foreground:
        return run(args.dir.resolve(), options)
    print(f"starting the sandbox in {args.dir.resolve()} ...", file=sys.stderr)
    try:
        handle = start_sandbox(args.dir, options)
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped", file=sys.stderr)
        return 130
    _print_summary(handle.info, args.dir)
    return 0


def _print_summary(info: dict[str, Any], directory: Path) -> None:
    dns = info["dns"]
    print(f"sandbox up in {info['startup_seconds']} s")
    print(f"  config        {info['config']}")
    print(f"  front door    {info['http']['front_door']}")
    print(f"  primary       {info['postgres']['primary_dsn_without_password']}")
    print(f"  replica       {info['postgres']['replica_dsn_without_password']}")
    print(f"  aws           {info['aws']['endpoint_url']} ({info['aws']['region']})")
    print(
        f"  dns           authoritative {dns['authoritative']}, "
        f"resolvers {', '.join(dns['resolvers'])}"
    )
    print(f"  endpoints     {directory.resolve() / 'sandbox.json'}")
    print(f"stop it with: cockpit sandbox down --dir {directory}")


def _down(args: argparse.Namespace) -> int:
    from cockpit.sandbox.lifecycle import stop_sandbox

    stopped = stop_sandbox(args.dir)
    if not stopped:
        print(f"no sandbox was running in {args.dir.resolve()}")
    for line in stopped:
        print(f"stopped {line}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from cockpit.sandbox.lifecycle import find_sandbox

    try:
        handle = find_sandbox(args.dir)
        status = handle.client.status()
    except SandboxError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(json.dumps(status, indent=2))
    return 0


def _inject(args: argparse.Namespace) -> int:
    from cockpit.sandbox.lifecycle import find_sandbox

    fields = ("side", "resolver", "ratio", "ms", "rows_per_second", "steps", "for_seconds")
    values = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    try:
        ScenarioArgs.from_json(values)
        detail = find_sandbox(args.dir).client.inject(args.scenario, **values)
    except SandboxError as error:
        print(f"cockpit sandbox inject: {error}", file=sys.stderr)
        return 1
    print(detail)
    return 0
