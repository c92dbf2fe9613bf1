"""What sources are built from: the config, the environment, the clock and shared AWS clients."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cockpit.clock import Clock, system_clock
from cockpit.config import AwsSection, Config


class AwsClients:
    """boto3 clients for the configured account, made once and shared (clients are thread-safe).

    boto3 is imported on first use, so a cockpit without AWS sources never pays for it.
    """

    def __init__(self, aws: AwsSection | None, environ: Mapping[str, str]) -> None:
        self._aws = aws
        self._environ = environ
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    def client(self, service: str, *, read_timeout_seconds: float = 5.0) -> Any:
        """A client for `service` with standard retries, short timeouts and endpoint_url."""
        if self._aws is None:
            raise RuntimeError("no [aws] section in the config")
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._make_client(service, read_timeout_seconds)
            return self._clients[service]

    def _session_arguments(self) -> dict[str, str]:
        """The configured profile wins; else keys from this environment; else boto3's chain."""
        assert self._aws is not None
        arguments = {"region_name": self._aws.region}
        if self._aws.profile:
            return {**arguments, "profile_name": self._aws.profile}
        key_id = self._environ.get("AWS_ACCESS_KEY_ID")
        secret = self._environ.get("AWS_SECRET_ACCESS_KEY")
        if key_id and secret:
            arguments |= {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
            token = self._environ.get("AWS_SESSION_TOKEN")
            if token:
                arguments["aws_session_token"] = token
        return arguments

    def _make_client(self, service: str, read_timeout_seconds: float) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        assert self._aws is not None
        if self._session is None:
            self._session = boto3.session.Session(**self._session_arguments())
        settings = BotoConfig(
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=3,
            read_timeout=read_timeout_seconds,
        )
        return self._session.client(service, endpoint_url=self._aws.endpoint_url, config=settings)


@dataclass
class SourceContext:
    """Everything a source needs besides its own section of the config."""

    config: Config
    environ: Mapping[str, str]
    clock: Clock = system_clock
    aws: AwsClients = field(init=False)

    def __post_init__(self) -> None:
        self.aws = AwsClients(self.config.aws, self.environ)
