"""What sources are built from: the config, the environment, the clock and shared AWS clients."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cockpit.clock import Clock, system_clock
from cockpit.config import AwsSection, Config
from cockpit.io.dns_ttl_low import TtlSeen
from cockpit.io.failures import SourceProblem
from cockpit.io.lanes import CallBudget, Lane, current_budget

T = TypeVar("T")
# botocore may sleep up to this much longer when AWS sends x-amz-retry-after.
RETRY_AFTER_EXTRA_SECONDS = 5.0
# When making the client leaves less than this of the budget, the call is not made at all.
MIN_CALL_SECONDS = 0.3
_SESSIONS: dict[tuple[tuple[str, str], ...], Any] = {}
_SESSIONS_LOCK = threading.Lock()
# prepare_aws waits this long for clients: imports and models, no network.
CLIENT_SETUP_SECONDS = 30.0
FIRST_USE_NOTE = "its first use loads boto3 and the service's model; retrying at the next poll"


class AwsClients:
    """boto3 clients for the configured account, made once and shared (clients are thread-safe).

    Sources call them through SourceContext.run_aws, in the service's own lane of threads, so
    a hung endpoint stalls only the panels that read from it. Inside a lane, a client's
    timeouts are cut to the call's budget and botocore's standard retries stop once a back-off
    would no longer fit, so no retry stretches a poll past its timeout.
    boto3 is imported on first use, so a cockpit without AWS sources never pays for it.
    """

    def __init__(self, aws: AwsSection | None, environ: Mapping[str, str]) -> None:
        self._aws = aws
        self._environ = environ
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, float, float], Any] = {}

    @staticmethod
    def endpoint_label_for(aws: AwsSection | None, service: str) -> str:
        """'AWS route53 at http://127.0.0.1:5000' or 'AWS route53 (eu-west-1)'."""
        if aws is None:
            return f"AWS {service}"
        if aws.endpoint_url:
            return f"AWS {service} at {_without_credentials(aws.endpoint_url)}"
        return f"AWS {service} ({aws.region})"

    def client(self, service: str) -> Any:
        """A client for `service` with standard retries, short timeouts and endpoint_url."""
        if self._aws is None:
            raise RuntimeError("no [aws] section in the config")
        connect_seconds, read_seconds = attempt_timeouts(self._aws, current_budget())
        key = (service, connect_seconds, read_seconds)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._make_client(service, connect_seconds, read_seconds)
            return self._clients[key]

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

    def _make_client(self, service: str, connect_seconds: float, read_seconds: float) -> Any:
        from botocore.config import Config as BotoConfig

        assert self._aws is not None
        if self._session is None:
            self._session = shared_session(self._session_arguments())
        settings = BotoConfig(
            retries={"mode": "standard", "max_attempts": self._aws.max_attempts},
            connect_timeout=connect_seconds,
            read_timeout=read_seconds,
        )
        with _SESSIONS_LOCK:  # a boto3 session is not thread-safe, and it is shared
            endpoint_url = self._aws.endpoint_url
            client = self._session.client(service, endpoint_url=endpoint_url, config=settings)
        client.meta.events.register_first("needs-retry", stop_retrying_out_of_time)
        return client


def shared_session(arguments: Mapping[str, str]) -> Any:
    """One boto3 session per set of arguments in this process, so models load only once.

    Loading a service's model costs a few hundred milliseconds; a cockpit that builds its
    sources again (a test, `cockpit act` after `check`) then does not pay it within a poll.
    """
    import boto3

    key = tuple(sorted(arguments.items()))
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = boto3.session.Session(**arguments)
        return _SESSIONS[key]


def attempt_timeouts(aws: AwsSection, budget: CallBudget | None) -> tuple[float, float]:
    """(connect, read) seconds of one attempt: the configured ones, cut to fit the call's budget.

    Connecting may take half the budget and reading all of it: a lone attempt then ends within
    about one and a half budgets however the endpoint behaves, and retries add nothing to that.
    """
    if budget is None:
        return aws.connect_timeout_seconds, aws.read_timeout_seconds
    connect = min(aws.connect_timeout_seconds, budget.seconds / 2)
    read = min(aws.read_timeout_seconds, budget.seconds)
    return round(connect, 3), round(read, 3)


def worst_backoff_seconds(attempts: int, response: Any) -> float:
    """The longest back-off botocore's standard mode may sleep after attempt number `attempts`."""
    backoff = min(2.0 ** (attempts - 1), 20.0)
    headers = getattr(response[0], "headers", {}) if response else {}
    return backoff + (RETRY_AFTER_EXTRA_SECONDS if "x-amz-retry-after" in headers else 0.0)


def stop_retrying_out_of_time(
    attempts: int,
    response: Any = None,
    caught_exception: BaseException | None = None,
    operation: Any = None,
    **_: Any,
) -> None:
    """botocore's needs-retry hook: within a lane call, no retry whose back-off would not fit.

    Returning None leaves the decision to the standard retry handler; raising ends the call
    now with the error as it stands (a throttle stays a throttle, never a timeout).
    """
    budget = current_budget()
    if budget is None:
        return
    error = attempt_error(response, caught_exception, operation)
    if error is not None:
        budget.last_error = error
    if error is not None and budget.remaining_seconds() < worst_backoff_seconds(attempts, response):
        raise error


def attempt_error(
    response: Any, caught_exception: BaseException | None, operation: Any
) -> BaseException | None:
    """What an attempt failed with, as botocore would raise it; None when it succeeded."""
    if caught_exception is not None:
        return caught_exception
    if response is None or response[0].status_code < 300:
        return None
    from botocore.exceptions import ClientError

    error: BaseException = ClientError(response[1], operation.name)
    return error


def _without_credentials(url: str) -> str:
    """The URL without any user:password@ part."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


@dataclass
class SourceContext:
    """Everything a source needs besides its own section of the config."""

    config: Config
    environ: Mapping[str, str]
    clock: Clock = system_clock
    dns_ttl_seen: Mapping[str, TtlSeen] = field(default_factory=dict)
    """What earlier sessions' journals showed of each DNS record's TTL, by record name."""
    aws: AwsClients = field(init=False)
    _lanes: dict[str, Lane] = field(init=False, default_factory=dict)
    _lanes_lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _aws_ready: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.aws = AwsClients(self.config.aws, self.environ)

    async def run_aws(
        self, service: str, work: Callable[..., T], *args: Any, within_seconds: float, **kwargs: Any
    ) -> T:
        """work(*args, **kwargs), blocking AWS calls, in `service`'s own lane of threads.

        Raises SourceProblem naming the endpoint when no answer comes within `within_seconds`,
        or at once while an earlier call in that lane is overdue. The first call of a service
        also makes its client (imports boto3, loads the service's model) within that time.
        """
        lane = self.aws_lane(service)
        started = time.monotonic()
        late = f"{lane.label}: client not ready within {within_seconds:g} s ({FIRST_USE_NOTE})"
        if service not in self._aws_ready:
            await lane.run(self.aws.client, service, within_seconds=within_seconds, late_text=late)
            self._aws_ready.add(service)
        left = within_seconds - (time.monotonic() - started)
        if left < MIN_CALL_SECONDS:
            raise SourceProblem(late)
        return await lane.run(work, *args, within_seconds=round(left, 1), **kwargs)

    async def prepare_aws(self, services: Iterable[str]) -> None:
        """Makes the services' clients ahead of a one-shot poll, so none pays for it in budget.

        A client that cannot be made here is left to the first call, which then says why.
        """
        making = (self._make_ready(service) for service in sorted(services))
        await asyncio.gather(*making, return_exceptions=True)

    async def _make_ready(self, service: str) -> None:
        lane = self.aws_lane(service)
        await lane.run(self.aws.client, service, within_seconds=CLIENT_SETUP_SECONDS)
        self._aws_ready.add(service)

    def aws_lane(self, service: str) -> Lane:
        """The bounded threads `service`'s calls run in, named after its endpoint."""
        with self._lanes_lock:
            if service not in self._lanes:
                aws = self.config.aws
                threads = aws.threads_per_service if aws else 1
                self._lanes[service] = Lane(AwsClients.endpoint_label_for(aws, service), threads)
            return self._lanes[service]
