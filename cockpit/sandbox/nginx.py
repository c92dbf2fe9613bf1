"""Debian's nginx in front of each side's app: real access logs in nginx's stock formats.

One unprivileged nginx (as root, its workers run as the same user) with everything inside
its prefix: config, pid file, error log and temp folders. Per side it listens on that side's
loopback address: a server for the real hostname proxying to the side's app, and a default
server answering 404, so a probe with the wrong Host header is told apart. The new side also
serves TLS with a self-signed certificate for the hostname, made with the openssl CLI.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cockpit.sandbox.child import end_server
from cockpit.sandbox.shared import SandboxError, Side

NGINX_CANDIDATES = ("/usr/sbin/nginx",)
# The new side's format: nginx's combined plus the request's and the upstream's time.
TIMED_LOG_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time $upstream_response_time'
)
WRONG_HOST_BODY = "no site for this Host header"
_START_TIMEOUT_SECONDS = 15.0
_STOP_TIMEOUT_SECONDS = 10.0


def nginx_binary() -> str | None:
    """Where nginx is installed, or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None)


@dataclass(frozen=True)
class NginxSite:
    """One side behind nginx: where it listens, where it proxies to, what it logs and how.

    log_format None is nginx's built-in `combined`, written with no log_format of ours.
    """

    side: Side
    host: str
    http_port: int
    upstream: tuple[str, int]
    access_log: Path
    log_format: str | None = None
    tls_port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def tls_url(self) -> str | None:
        return None if self.tls_port is None else f"https://{self.host}:{self.tls_port}"


def make_certificate(folder: Path, hostname: str) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) and key for `hostname`, via the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SandboxError("openssl is not installed: the sandbox cannot make a TLS certificate")
    folder.mkdir(parents=True, exist_ok=True)
    certificate, key = folder / "server.crt", folder / "server.key"
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "7", "-subj", f"/CN={hostname}",
        "-addext", f"subjectAltName=DNS:{hostname}",
        "-keyout", str(key), "-out", str(certificate),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SandboxError(f"openssl could not make a certificate: {done.stderr.strip()[-300:]}")
    return certificate, key


class NginxServer:
    """nginx as a child process, its config written from the sites, stopped by its PID."""

    def __init__(
        self,
        prefix: Path,
        server_names: Sequence[str],
        sites: Sequence[NginxSite],
        certificate: tuple[Path, Path] | None = None,
        *,
        binary: str | None = None,
    ) -> None:
        self.prefix = prefix.resolve()
        self.server_names = tuple(server_names)
        self.sites = tuple(sites)
        self.certificate = certificate
        self._binary = binary or nginx_binary()
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return nginx_binary() is not None

    @property
    def pid(self) -> int | None:
        """The master process's PID while it runs."""
        return None if self._process is None else self._process.pid

    @property
    def command_marker(self) -> str:
        """Text in this server's command line, so a PID read back later is known to be it."""
        return f"{self.prefix}/"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def start(self) -> None:
        if self._binary is None:
            raise SandboxError("nginx is not installed (apt-get install nginx-light)")
        for folder in ("tmp", "conf"):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
        config = self.prefix / "conf" / "nginx.conf"
        config.write_text(self.config_text())
        command = [
            self._binary,
            "-p",
            f"{self.prefix}/",
            "-c",
            str(config),
            "-e",
            str(self.error_log),
        ]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Fast shutdown (SIGTERM) by PID; SIGKILL if it does not go."""
        process, self._process = self._process, None
        end_server(process, _STOP_TIMEOUT_SECONDS)

    def reopen_logs(self) -> None:
        """Makes nginx reopen its log files (after a rotation), as logrotate does: SIGUSR1."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGUSR1)

    def config_text(self) -> str:
        """The whole nginx.conf: every path inside the prefix, listening on loopback only."""
        temp = self.prefix / "tmp"
        paths = "\n".join(
            f"    {kind}_temp_path {temp / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        formats = "".join(
            f"    log_format site{index} '{site.log_format}';\n"
            for index, site in enumerate(self.sites)
            if site.log_format is not None
        )
        servers = "\n".join(self._site_servers(i, site) for i, site in enumerate(self.sites))
        return (
            f"{_user_line()}daemon off;\nworker_processes 1;\n"
            f"pid {self.prefix / 'nginx.pid'};\n"
            f"error_log {self.error_log} warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"{paths}\n"
            "    access_log off;\n"
            "    server_tokens off;\n"
            "    default_type text/plain;\n"
            f"{formats}{servers}\n"
            "}\n"
        )

    def _site_servers(self, index: int, site: NginxSite) -> str:
        form = "combined" if site.log_format is None else f"site{index}"
        log = f"access_log {site.access_log} {form};"
        blocks = [self._servers(f"{site.host}:{site.http_port}", log, site, tls=False)]
        if site.tls_port is not None:
            blocks.append(self._servers(f"{site.host}:{site.tls_port} ssl", log, site, tls=True))
        return "\n".join(blocks)

    def _servers(self, listen: str, log: str, site: NginxSite, *, tls: bool) -> str:
        tls_lines = ""
        if tls:
            if self.certificate is None:
                raise SandboxError("nginx needs a certificate to serve TLS")
            certificate, key = self.certificate
            tls_lines = (
                f"        ssl_certificate {certificate};\n        ssl_certificate_key {key};\n"
            )
        upstream_host, upstream_port = site.upstream
        return (
            f"    server {{\n        listen {listen} default_server;\n        server_name _;\n"
            f"{tls_lines}        {log}\n"
            f'        location / {{ return 404 "{WRONG_HOST_BODY}\\n"; }}\n    }}\n'
            f"    server {{\n        listen {listen};\n"
            f"        server_name {' '.join(self.server_names)};\n"
            f"{tls_lines}        {log}\n"
            "        location / {\n"
            f"            proxy_pass http://{upstream_host}:{upstream_port};\n"
            "            proxy_set_header Host $host;\n"
            "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "            proxy_read_timeout 60s;\n"
            "        }\n    }"
        )

    def _wait_listening(self) -> None:
        """Until every port accepts; SandboxError with nginx's own words if it exits first."""
        assert self._process is not None
        ports = [
            (site.host, port)
            for site in self.sites
            for port in (site.http_port, site.tls_port)
            if port is not None
        ]
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while ports:
            if self._process.poll() is not None:
                raise SandboxError(f"nginx did not start: {self._said()}")
            if time.monotonic() > deadline:
                raise SandboxError(f"nginx did not listen within {_START_TIMEOUT_SECONDS:.0f} s")
            if _accepts(*ports[0]):
                ports.pop(0)
            else:
                time.sleep(0.02)

    def _said(self) -> str:
        assert self._process is not None
        stderr = self._process.stderr.read() if self._process.stderr else b""
        text = stderr.decode(errors="replace").strip()
        if not text and self.error_log.exists():
            text = self.error_log.read_text(errors="replace").strip()
        return text[-400:] or f"exit code {self._process.returncode}"


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _user_line() -> str:
    """As root, workers run as the same user (not nobody, who cannot reach the prefix)."""
    if os.geteuid() != 0:
        return ""
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return f"user {user} {group};\n"
