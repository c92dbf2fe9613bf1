"""A third-party authoritative server for a hand-managed zone: Debian's knot, run as a child.

The zone is written as a zone file the way teams keep one (`www` CNAME with a long TTL to
`app`, whose A and AAAA records have the short TTL), and switched old -> new by rewriting that
file with a higher SOA serial and `knotc zone-reload`, as an operator would.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from cockpit.sandbox.child import ChildServer, run_control, spawn_server
from cockpit.sandbox.shared import SandboxError

ZoneSide = Literal["old", "new"]

KNOT_START_TIMEOUT_SECONDS = 10.0
KNOT_RELOAD_TIMEOUT_SECONDS = 10.0
UNIX_SOCKET_PATH_MAX = 107
CNAME_TTL_FACTOR = 4
NS_TTL_SECONDS = 300
POOL_SIZE = 120
"""A records at `pool`: 120 x 16 bytes is past the 1232-byte EDNS payload resolvers ask for."""


@dataclass(frozen=True)
class HandZone:
    """The hand-managed zone: www CNAME (CNAME_TTL_FACTOR x the TTL) -> app A and AAAA, and a
    round-robin pool too big for one UDP answer."""

    origin: str
    ttl_seconds: int
    addresses: dict[ZoneSide, str]
    addresses6: dict[ZoneSide, str]
    nameserver_host: str

    @property
    def cname_ttl_seconds(self) -> int:
        return CNAME_TTL_FACTOR * self.ttl_seconds

    @property
    def www(self) -> str:
        return f"www.{self.origin}"

    @property
    def app(self) -> str:
        return f"app.{self.origin}"

    def text(self, side: ZoneSide, serial: int) -> str:
        """The zone file with `side`'s addresses at `app` and SOA serial `serial`."""
        ttl = self.ttl_seconds
        return f"""$ORIGIN {self.origin}
$TTL {ttl}
@     {ttl} IN SOA ns1 hostmaster {serial} 60 30 600 {ttl}
@     {NS_TTL_SECONDS} IN NS ns1
ns1   {NS_TTL_SECONDS} IN A {self.nameserver_host}
www   {self.cname_ttl_seconds} IN CNAME app
app   {ttl} IN A {self.addresses[side]}
app   {ttl} IN AAAA {self.addresses6[side]}
{self._pool_lines()}"""

    @property
    def pool(self) -> str:
        """A name with POOL_SIZE A records: its answer does not fit a UDP response."""
        return f"pool.{self.origin}"

    def pool_addresses(self) -> list[str]:
        return [f"10.99.{index // 250}.{index % 250 + 1}" for index in range(POOL_SIZE)]

    def _pool_lines(self) -> str:
        return "".join(
            f"pool  {self.ttl_seconds} IN A {address}\n" for address in self.pool_addresses()
        )


@dataclass(frozen=True)
class KnotPaths:
    """The files one knotd keeps in its (short, private) work directory."""

    config: Path
    zone_file: Path
    pidfile: Path
    logfile: Path
    console: Path
    control_socket: Path
    database: Path

    @classmethod
    def in_dir(cls, work_dir: Path, origin: str) -> KnotPaths:
        return cls(
            config=work_dir / "knot.conf",
            zone_file=work_dir / f"{origin}zone",
            pidfile=work_dir / "knot.pid",
            logfile=work_dir / "knot.log",
            console=work_dir / "knot.console",
            control_socket=work_dir / "knot.sock",
            database=work_dir / "db",
        )


def knot_config(listen: list[str], origin: str, paths: KnotPaths) -> str:
    """A knot.conf serving `origin` from its zone file only (no journal, never written back)."""
    listens = ", ".join(listen)
    return f"""server:
    listen: [ {listens} ]
    rundir: "{paths.config.parent}"
    pidfile: "{paths.pidfile}"
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

control:
    listen: "{paths.control_socket}"

database:
    storage: "{paths.database}"

log:
  - target: "{paths.logfile}"
    any: info

zone:
  - domain: "{origin}"
    file: "{paths.zone_file}"
    journal-content: none
    zonefile-load: whole
    zonefile-sync: -1
"""


def _port_free(host: str, port: int, kind: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, kind) as probe:
            probe.bind((host, port))
    except OSError:
        return False
    return True


def _port_free_on_ipv6_loopback(port: int) -> bool:
    return all(_port_free("::1", port, kind) for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM))


def free_knot_port(host: str, attempts: int = 50) -> int:
    """A port free for UDP and TCP on `host`: knot binds both, and fails if either is taken."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
            port: int = probe.getsockname()[1]
        if _port_free(host, port, socket.SOCK_STREAM):
            return port
    raise SandboxError(f"no port free for both UDP and TCP on {host} after {attempts} tries")


class KnotServer(ChildServer):
    """knotd authoritative for the hand-managed zone on loopback (127.x and ::1), as a child."""

    @staticmethod
    def available() -> bool:
        return shutil.which("knotd") is not None and shutil.which("knotc") is not None

    def __init__(
        self, host: str, port: int, zone: HandZone, *, work_dir: Path, first_serial: int = 1
    ) -> None:
        """first_serial: the SOA serial it starts with (a date serial, 2026120301, as many
        teams write them; or a plain counter)."""
        if not host.startswith("127."):
            raise SandboxError(f"knot must listen on loopback (127.0.0.0/8), not {host}")
        self._host, self._port, self._zone = host, port, zone
        self._paths = KnotPaths.in_dir(work_dir, zone.origin)
        super().__init__()
        self._serial = first_serial
        self._side: ZoneSide = "old"
        self._ipv6 = _port_free_on_ipv6_loopback(port)

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def upstream(self) -> tuple[str, int]:
        """(host, port) as a resolver's upstream."""
        return self._host, self._port

    @property
    def address6(self) -> str | None:
        """'[::1]:port' when knot listens on IPv6 loopback too, else None."""
        return f"[::1]:{self._port}" if self._ipv6 else None

    @property
    def zone(self) -> HandZone:
        return self._zone

    @property
    def side(self) -> ZoneSide:
        return self._side

    def _prepare(self) -> None:
        self._write_files()

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        self._wait_for_serial(self._serial, KNOT_START_TIMEOUT_SECONDS)

    def _write_files(self) -> None:
        if len(str(self._paths.control_socket)) > UNIX_SOCKET_PATH_MAX:
            raise SandboxError(
                f"knot's control socket path {self._paths.control_socket} is too long "
                "for a unix socket; use a shorter work_dir"
            )
        self._paths.config.parent.mkdir(parents=True, exist_ok=True)
        listen = [f"{self._host}@{self._port}"] + ([f"::1@{self._port}"] if self._ipv6 else [])
        self._paths.config.write_text(knot_config(listen, self._zone.origin, self._paths))
        self._write_zone()

    def _write_zone(self) -> None:
        """The zone file replaced whole (written beside it, renamed over it)."""
        temporary = self._paths.zone_file.with_name(f".{self._paths.zone_file.name}.tmp")
        temporary.write_text(self._zone.text(self._side, self._serial))
        temporary.replace(self._paths.zone_file)

    @property
    def command_marker(self) -> str:
        """Text in this server's command line, so a PID read back later is known to be it."""
        return str(self._paths.config)

    def _spawn(self) -> subprocess.Popen[bytes]:
        binary = shutil.which("knotd")
        if binary is None:
            raise SandboxError("knot is not installed; install it (apt-get install knot)")
        return spawn_server([binary, "-c", str(self._paths.config)], self._paths.console)

    def switch(self, side: ZoneSide) -> None:
        """Rewrite the zone file with `side`'s addresses and a new serial; reload; wait for it."""
        with self._lock:
            if self._process is None:
                raise SandboxError("knot is not running")
            self._side = side
            self._serial += 1
            self._write_zone()
            self._control("zone-reload", self._zone.origin)
            serial = self._serial
        self._wait_for_serial(serial, KNOT_RELOAD_TIMEOUT_SECONDS)

    def _control(self, *command: str) -> None:
        arguments = ["-s", str(self._paths.control_socket), *command]
        run_control("knotc", "knot", arguments, f"knotc {' '.join(command)}")

    def serial(self) -> int | None:
        """The SOA serial knot answers now; None when it does not answer."""
        query = dns.message.make_query(self._zone.origin, dns.rdatatype.SOA)
        query.flags = 0
        try:
            response = dns.query.udp(query, self._host, port=self._port, timeout=0.3)
        except (dns.exception.DNSException, OSError):
            return None
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return int(rrset[0].serial)
        return None

    def _wait_for_serial(self, serial: int, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            process = self._process
            if process is not None and process.poll() is not None:
                raise SandboxError(self._failure(f"exited with status {process.returncode}"))
            if self.serial() == serial:
                return
            time.sleep(0.05)
        raise SandboxError(self._failure(f"did not answer serial {serial} in {timeout_seconds} s"))

    def _failure(self, what: str) -> str:
        texts = [
            path.read_text(errors="replace")
            for path in (self._paths.console, self._paths.logfile)
            if path.exists()
        ]
        tail = "\n".join("\n".join(text.splitlines()[-20:]) for text in texts) or "(empty)"
        return f"knot on {self.address} {what}; config {self._paths.config}; log tail:\n{tail}"
