"""The core stays headless: importing it must not load textual or rich."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import cockpit

# The composition root and the CLI entry may load the UI; the sandbox is not core.
NOT_CORE = ("cockpit.app", "cockpit.commands.cli", "cockpit.__main__")


def run_python(program: str) -> subprocess.CompletedProcess[str]:
    """The program run in a fresh interpreter, so nothing imported here leaks into it."""
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )


def core_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(cockpit.__path__, "cockpit.")]
    return sorted(n for n in names if n not in NOT_CORE and not n.startswith("cockpit.sandbox"))


def test_core_modules_found() -> None:
    assert {
        "cockpit.config",
        "cockpit.journal.chain",
        "cockpit.live.state",
        "cockpit.model",
    } <= set(core_modules())


def test_core_does_not_load_textual_or_rich() -> None:
    program = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "    loaded = [m for m in ('textual', 'rich') if m in sys.modules]\n"
        "    if loaded:\n"
        "        raise SystemExit(f'{name} loaded {loaded}')\n"
    )
    result = run_python(program)
    assert result.returncode == 0, result.stderr + result.stdout


def test_cli_version_stays_light() -> None:
    """`cockpit --version` must not pay for boto3, psycopg or textual."""
    program = (
        "import sys\n"
        "from cockpit.commands.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('boto3', 'psycopg', 'textual', 'pydantic') if m in sys.modules]\n"
        "print('heavy:', ','.join(heavy))\n"
    )
    result = run_python(program)
    assert result.stdout.splitlines()[-1] == "heavy: "
