"""Shared fixtures: one real sandbox per test session, reset cheaply before each test using it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cockpit.journal import anchors as journal_anchor
from cockpit.sandbox.lifecycle import SandboxHandle, start_sandbox
from cockpit.sandbox.runner import SandboxOptions

# Short TTL and fast metrics so propagation and CloudWatch tests do not wait long.
TEST_SANDBOX_OPTIONS = SandboxOptions(
    dns_ttl_seconds=3,
    caching_resolvers=3,
    traffic_rate_per_second=25.0,
    metrics_interval_seconds=1.0,
)


@pytest.fixture(autouse=True)
def syslog_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the code under test sent to syslog: kept here, never sent to this machine's log."""
    sent: list[str] = []
    monkeypatch.setattr(journal_anchor, "send_to_syslog", sent.append)
    return sent


@pytest.fixture(scope="session")
def running_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """The sandbox every test shares; stopped by PID at the end of the session."""
    handle = start_sandbox(tmp_path_factory.mktemp("sandbox"), TEST_SANDBOX_OPTIONS)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def sandbox(running_sandbox: SandboxHandle) -> SandboxHandle:
    """The shared sandbox, back in the state `up` left it in."""
    running_sandbox.client.reset()
    return running_sandbox
