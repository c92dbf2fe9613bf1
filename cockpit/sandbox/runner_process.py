"""The sandbox's background process: start the stand-ins, serve control, stop on a signal."""

from __future__ import annotations

import json
import os
import signal
import threading
import traceback
from pathlib import Path

from cockpit.sandbox.control import ControlServer
from cockpit.sandbox.files import write_sandbox_files
from cockpit.sandbox.processes import runner_identity
from cockpit.sandbox.runner import Sandbox, SandboxOptions
from cockpit.sandbox.shared import SandboxError


def run(directory: Path, options: SandboxOptions) -> int:
    """The body of the background runner: start, serve control requests, stop on a signal."""
    sandbox = Sandbox(directory, options)
    stop_requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop_requested.set())
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "runner.pid").write_text(runner_identity(os.getpid()))
    try:
        sandbox.start()
        control = ControlServer(sandbox, on_stop=stop_requested.set)
        control.start()
        sandbox.info["control_url"] = control.url
        write_sandbox_files(directory, sandbox.info)
        print(f"sandbox: up in {sandbox.info['startup_seconds']} s", flush=True)
        stop_requested.wait()
        control.stop()
    except SandboxError as error:
        print(f"sandbox: {error}", flush=True)
        return 1
    except Exception as error:
        print(f"sandbox: failed: {type(error).__name__}: {error}", flush=True)
        if os.environ.get("COCKPIT_DEBUG"):
            traceback.print_exc()
        return 1
    finally:
        sandbox.stop()
        print("sandbox: stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cockpit.sandbox.runner_process")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--options", default="{}", help="SandboxOptions as JSON")
    args = parser.parse_args(argv)
    options = SandboxOptions(**json.loads(args.options))
    return run(args.directory, options)


if __name__ == "__main__":
    raise SystemExit(main())
