"""The cockpit against its peer: a `watch`-style shell loop of standard CLIs doing the same checks.

Run: .venv/bin/python benchmarks/peer.py [--window 25] [--rounds 2]

On one sandbox, one at a time and interleaved round by round, each in its own 80x24 tmux pane:
- the trivial Textual app refreshing four panels at 1 Hz (the baseline every CPU figure has);
- the peer: a bash loop that, once per cycle, asks what the cockpit's sources ask (psql with the
  cockpit's own replication queries on both ends; aws with --endpoint-url for target health,
  the ALB listener's rules, Route 53's weighted records and CloudWatch's metric queries; dig to
  every resolver and the authoritative server; curl on every health URL and the front door;
  tail | awk on both access logs), prints the answers, then `sleep 1`;
- the cockpit on the same sandbox with every source polled every second.
CPU is each process's own (every thread) plus its reaped children; the peer is measured over
whole cycles. Its refresh is slower than 1 s (a cycle takes time), so the ratio is given twice:
as measured, and at the same refresh (the peer's CPU per cycle, once a second).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (
    TRIVIAL_APP,
    PaneApp,
    Table,
    Tmux,
    cpu_seconds,
    every_panel_has_data,
    every_source_at,
    median,
    percent,
    read_toml,
    use_this_checkout,
    wait_until,
    write_config,
)
from cockpit.sandbox.lifecycle import SandboxHandle, start_sandbox
from cockpit.sources import errors_cloudwatch
from cockpit.sources.replication_postgres import PRIMARY_SQL, REPLICA_SQL

RATIO_TARGET = 30.0
SETTLE_SECONDS = 5.0
MIN_CYCLES = 3
CYCLES_FILE = "cycles.log"


# --- the peer's script -------------------------------------------------------------------------


@dataclass
class PeerScript:
    text: str
    missing: list[str]
    aws_via: str


def peer_script(handle: SandboxHandle, config: dict[str, Any], work: Path) -> PeerScript:
    """The bash loop: every check the cockpit's sources make, once per cycle, then sleep 1."""
    missing: list[str] = []
    aws_via = "aws CLI" if shutil.which("aws") else "python -c boto3 (no aws CLI installed)"
    lines = [
        "#!/bin/bash",
        f"export PGPASSWORD={_q(handle.env[config['replication']['postgres']['password_env']])}",
        "export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=''",
        "while true; do",
        "  started=$EPOCHREALTIME",
        "  printf '\\033[H\\033[2J'",
        *_psql_lines(config, work),
        *_aws_lines(config, work),
        *_dig_lines(config, missing),
        *_curl_lines(config),
        *_access_log_lines(config),
        f'  echo "$started $EPOCHREALTIME" >> {_q(str(work / CYCLES_FILE))}',
        "  sleep 1",
        "done",
    ]
    return PeerScript("\n".join(lines) + "\n", missing, aws_via)


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _psql_lines(config: dict[str, Any], work: Path) -> list[str]:
    postgres = config["replication"]["postgres"]
    (work / "primary.sql").write_text(PRIMARY_SQL)
    (work / "replica.sql").write_text(REPLICA_SQL)
    return [
        f"  psql {_q(postgres['primary_dsn'])} -XAtq -f {_q(str(work / 'primary.sql'))}",
        f"  psql {_q(postgres['replica_dsn'])} -XAtq -f {_q(str(work / 'replica.sql'))}",
    ]


class Shell(str):
    """A value the shell must expand (a command substitution): not quoted."""


def _aws(config: dict[str, Any], service: str, operation: str, **arguments: Any) -> str:
    """One AWS call, with the aws CLI when installed, else a boto3 one-liner."""
    endpoint = config["aws"]["endpoint_url"]
    region = config["aws"]["region"]
    if shutil.which("aws"):
        flags = " ".join(f"--{_dashed(k)} {_cli_value(v)}" for k, v in arguments.items())
        aws = f"aws --endpoint-url {endpoint} --region {region} --output text"
        return f"  {aws} {service} {operation} {flags}"
    call = (
        "import boto3,json,sys; c=boto3.client(sys.argv[1],endpoint_url=sys.argv[2],"
        "region_name=sys.argv[3]); print(getattr(c,sys.argv[4])(**json.loads(sys.argv[5])))"
    )
    named = {_camel(k): _python_value(v) for k, v in arguments.items()}
    return (
        f"  {sys.executable} -c {_q(call)} {service} {endpoint} {region} "
        f"{operation.replace('-', '_')} {_dq(json.dumps(named))}"
    )


def _cli_value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, Shell) else _q(str(value))


def _python_value(value: Any) -> Any:
    """What boto3 takes: a file:// argument's content, other values as they are."""
    if isinstance(value, str) and value.startswith("file://"):
        return json.loads(Path(value.removeprefix("file://")).read_text())
    return value


def _dq(text: str) -> str:
    """Double-quoted for bash: $(...) inside still expands."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    return f'"{escaped}"'


def _dashed(name: str) -> str:
    return name.replace("_", "-")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _aws_lines(config: dict[str, Any], work: Path) -> list[str]:
    lines = [
        _aws(config, "elbv2", "describe-target-health", target_group_arn=group["arn"])
        for group in config["targets"]["target_groups"]
    ]
    route53 = config["traffic"]["route53"]
    lines.append(
        _aws(
            config,
            "route53",
            "list-resource-record-sets",
            hosted_zone_id=route53["hosted_zone_id"],
            start_record_name=route53["record_name"],
            start_record_type=route53["record_type"],
        )
    )
    lines.append(
        _aws(
            config,
            "elbv2",
            "describe-rules",
            listener_arn=config["maintenance"]["alb"]["listener_arn"],
        )
    )
    return lines + _cloudwatch_lines(config, work)


def _cloudwatch_lines(config: dict[str, Any], work: Path) -> list[str]:
    """The cockpit's two get_metric_data requests (counts, p95), over its window."""
    section = config["errors"]
    cloudwatch = section["cloudwatch"]
    load_balancer = errors_cloudwatch.load_balancer_dimension(cloudwatch["load_balancer_arn"])
    groups = {
        side: errors_cloudwatch.target_group_dimension(cloudwatch[f"{side}_target_group_arn"])
        for side in ("old", "new")
    }
    period = cloudwatch["period_seconds"]
    window = max(section["window_seconds"], period)
    lines = []
    for name, metrics in (
        ("counts", errors_cloudwatch.COUNT_METRICS),
        ("p95", errors_cloudwatch.P95_METRICS),
    ):
        queries = errors_cloudwatch.metric_queries(load_balancer, groups, period, metrics)
        path = work / f"{name}.json"
        path.write_text(json.dumps(queries))
        lines.append(
            _aws(
                config,
                "cloudwatch",
                "get-metric-data",
                metric_data_queries=f"file://{path}",
                start_time=Shell(f"$(date -u -d '-{window} sec' +%FT%TZ)"),
                end_time=Shell("$(date -u +%FT%TZ)"),
                scan_by="TimestampAscending",
            )
        )
    return lines


def _dig_lines(config: dict[str, Any], missing: list[str]) -> list[str]:
    if shutil.which("dig") is None:
        missing.append("dig is not installed (apt-get install bind9-dnsutils): the peer skips DNS")
        return []
    dns = config["dns"]
    servers = [r["address"] for r in dns["resolvers"]] + [
        a["address"] for a in dns["authoritative"]
    ]
    lines = []
    for record in dns["records"]:
        for server in servers:
            host, port = server.rsplit(":", 1)
            lines.append(
                f"  dig @{host} -p {port} +tries=1 +time=2 +noall +answer "
                f"{record['name']} {record.get('type', 'A')}"
            )
    return lines


def _curl_lines(config: dict[str, Any]) -> list[str]:
    lines = []
    for check in config["targets"]["http"]:
        flags = ["-s", "-o /dev/null", "-w '%{http_code} %{time_total}\\n'", "--max-time 2"]
        url = check["url"]
        if check.get("host_header"):
            flags.append(f"-H {_q('Host: ' + check['host_header'])}")
        if check.get("ca_file"):
            flags.append(f"--cacert {_q(check['ca_file'])}")
        if check.get("tls_server_name"):
            name = check["tls_server_name"]
            host_port = url.split("://", 1)[1].split("/", 1)[0]
            host, port = host_port.rsplit(":", 1)
            flags.append(f"--connect-to {name}:{port}:{host}:{port}")
            url = url.replace(host_port, f"{name}:{port}", 1)
        lines.append(f"  curl {' '.join(flags)} {_q(url)}")
    probe = config["maintenance"]["probe_url"]
    lines.append(f"  curl -s -o /dev/null -w '%{{http_code}}\\n' --max-time 2 {_q(probe)}")
    return lines


def _access_log_lines(config: dict[str, Any]) -> list[str]:
    count = "'{n++; if ($9 ~ /^5/) e++} END {printf \"%d requests, %d 5xx\\n\", n, e}'"
    return [
        f"  tail -n 2000 {_q(log['path'])} | awk {count}"
        for log in config["errors"].get("access_logs", [])
    ]


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Window:
    cpu_percent: float
    cpu_per_cycle: float | None = None
    cycle_seconds: float | None = None
    period_seconds: float | None = None


def measure_app(app: PaneApp, ready: Callable[[str], bool], window: float) -> Window:
    app.wait_for(ready, 90, f"{app.session} ready")
    time.sleep(SETTLE_SECONDS)
    before, started = cpu_seconds(app.pid), time.perf_counter()
    time.sleep(window)
    used = cpu_seconds(app.pid) - before
    app.stop()
    return Window(100 * used / (time.perf_counter() - started))


def measure_peer(app: PaneApp, cycles_file: Path, window: float) -> Window:
    """CPU over whole cycles: sampled as each cycle ends, when its commands have been reaped."""

    def cycles() -> list[tuple[float, float]]:
        if not cycles_file.exists():
            return []
        pairs = (line.split() for line in cycles_file.read_text().splitlines())
        return [(float(a), float(b)) for a, b in pairs]

    def next_cycle_end() -> int:
        ended = len(cycles())
        wait_until(lambda: len(cycles()) > ended, 120, "the peer's next cycle")
        return len(cycles())

    next_cycle_end()
    first = next_cycle_end()  # the first cycle warms caches; counting starts after the second
    before, started = cpu_seconds(app.pid), time.perf_counter()
    last = first
    while time.perf_counter() - started < window or last - first < MIN_CYCLES:
        last = next_cycle_end()
    used, elapsed = cpu_seconds(app.pid) - before, time.perf_counter() - started
    app.stop()
    counted = last - first
    walls = [end - start for start, end in cycles()[first:last]]
    return Window(
        cpu_percent=100 * used / elapsed,
        cpu_per_cycle=used / counted,
        cycle_seconds=median(walls),
        period_seconds=elapsed / counted,
    )


def run(args: argparse.Namespace, scratch: Path) -> None:
    handle = start_sandbox(scratch / "sandbox")
    tmux = Tmux(scratch)
    try:
        config = read_toml(handle.config_path)
        fast = write_config(every_source_at(config, 1.0), scratch / "every-1s.toml")
        script = peer_script(handle, config, scratch)
        (scratch / "peer.sh").write_text(script.text)
        trivial_app = scratch / "trivial.py"
        trivial_app.write_text(TRIVIAL_APP)
        results: dict[str, list[Window]] = {"trivial": [], "peer": [], "cockpit": []}
        for round_number in range(args.rounds):
            print(f"round {round_number + 1} of {args.rounds} …", file=sys.stderr)
            trivial = tmux.launch(f"trivial{round_number}", f"{sys.executable} {trivial_app}")
            results["trivial"].append(
                measure_app(trivial, lambda screen: "REPL panel 3" in screen, args.window)
            )
            (scratch / CYCLES_FILE).unlink(missing_ok=True)
            peer = tmux.launch(f"peer{round_number}", f"bash {scratch / 'peer.sh'}", handle.env)
            results["peer"].append(measure_peer(peer, scratch / CYCLES_FILE, args.window))
            journal = scratch / f"journal{round_number}"
            cockpit = tmux.launch(
                f"cockpit{round_number}",
                f"{sys.executable} -m cockpit run -c {fast} --journal-dir {journal}",
                handle.env,
            )
            results["cockpit"].append(
                measure_app(cockpit, every_panel_has_data(config), args.window)
            )
    finally:
        tmux.stop()
        handle.stop()
    report(results, script, args)


def report(results: dict[str, list[Window]], script: PeerScript, args: argparse.Namespace) -> None:
    trivial = median([w.cpu_percent for w in results["trivial"]])
    peer = median([w.cpu_percent for w in results["peer"]])
    cockpit = median([w.cpu_percent for w in results["cockpit"]])
    per_cycle = median([w.cpu_per_cycle or 0.0 for w in results["peer"]])
    cycle = median([w.cycle_seconds or 0.0 for w in results["peer"]])
    period = median([w.period_seconds or 0.0 for w in results["peer"]])
    at_one_second = 100 * per_cycle
    table = Table(
        f"peer vs cockpit: CPU % of one core, medians of {args.rounds} interleaved "
        f"{args.window:.0f} s windows, 80x24 tmux, same sandbox"
    )
    table.add("trivial Textual app, 4 panels at 1 Hz", percent(trivial), "(is the baseline)")
    table.add(
        "cockpit, every source at 1 s (maintenance: 2 s)",
        percent(cockpit),
        percent(trivial),
        "≤ 3 %",
        cockpit <= 3.0,
    )
    table.add(
        f"peer loop as measured (one refresh every {period:.1f} s)",
        percent(peer),
        percent(trivial),
        note=f"peer: one cycle {cycle:.2f} s wall, {per_cycle:.2f} s CPU; then sleep 1",
    )
    table.add(
        "peer at the same refresh (CPU per cycle, once a second)",
        percent(at_one_second),
        percent(trivial),
        note="above 100 % means one core cannot refresh the peer every second",
    )
    ratio = at_one_second / cockpit if cockpit > 0 else float("inf")
    table.add(
        "ratio peer / cockpit at the same refresh",
        f"{ratio:.0f}x",
        f"{at_one_second / trivial:.0f}x vs trivial" if trivial > 0 else "—",
        f"≥ {RATIO_TARGET:.0f}x",
        ratio >= RATIO_TARGET,
    )
    measured_ratio = peer / cockpit if cockpit > 0 else float("inf")
    table.add("ratio peer / cockpit as measured", f"{measured_ratio:.0f}x")
    table.notes.append(f"peer's AWS calls via {script.aws_via}")
    table.notes.extend(script.missing)
    table.notes.append(
        "CPU of the sandbox's servers (moto, postgres, resolvers) answering either side is not "
        "counted: only the client's own process and its children"
    )
    table.print()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=25.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cockpit-peer-bench-") as scratch:
        use_this_checkout()
        run(args, Path(scratch))


if __name__ == "__main__":
    main()
