"""The demo's dummy credentials are redacted, and ordinary words next to them are not."""

from __future__ import annotations

from cockpit.config import load_config
from cockpit.redact import redactor_for_config
from cockpit.sandbox.lifecycle import SandboxHandle


def test_ordinary_words_survive_the_demo_redactor(sandbox: SandboxHandle) -> None:
    config = load_config(sandbox.config_path)
    redactor = redactor_for_config(config, sandbox.env)
    reason = "testing override in demo: test, tests, sandbox, secret, key"
    assert redactor.text(reason) == reason
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        secret = sandbox.env[name]
        assert secret not in redactor.text(f"the key was {secret} here"), name
