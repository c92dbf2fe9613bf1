"""How long `cockpit check` takes with a hung AWS endpoint, against a healthy one in the same run.

The hung endpoint is a loopback listener that accepts connections and never answers; the rest
of the config (HTTP targets, access logs, PostgreSQL, DNS) is the sandbox's own.

Run: .venv/bin/python benchmarks/hung_aws.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomli_w

from cockpit.sandbox.files import cockpit_config
from cockpit.sandbox.lifecycle import SandboxHandle, start_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.aws_stand_ins import hung_endpoint


def write_config(handle: SandboxHandle, folder: Path, endpoint_url: str | None) -> Path:
    """The sandbox's config, its AWS calls sent to `endpoint_url` when given."""
    config = cockpit_config(handle.info)
    if endpoint_url is not None:
        config["aws"] = {**config["aws"], "endpoint_url": endpoint_url}
    config["journal"] = {"dir": str(folder / "journal")}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cockpit.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def time_check(handle: SandboxHandle, config: Path) -> float:
    """Seconds from starting `cockpit check` until the process has exited."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cockpit", "check", "-c", str(config), "--json"],
        capture_output=True,
        timeout=300,
        check=False,
        env={**os.environ, **handle.env},
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as scratch:
        root = Path(scratch)
        handle = start_sandbox(root / "sandbox")
        try:
            with hung_endpoint() as hung:
                healthy_config = write_config(handle, root / "healthy", None)
                hung_config = write_config(handle, root / "hung", hung.url)
                time_check(handle, healthy_config)  # moto's first use of each service is slow
                healthy = [time_check(handle, healthy_config) for _ in range(runs)]
                stalled = [time_check(handle, hung_config) for _ in range(runs)]
        finally:
            handle.stop()
    print(f"runs: {runs}")
    print(f"baseline  check, healthy AWS endpoint:  median {statistics.median(healthy):.2f} s")
    print(f"hung      check, hung AWS endpoint:     median {statistics.median(stalled):.2f} s")
    ratio = statistics.median(stalled) / statistics.median(healthy)
    print(f"ratio     hung / healthy:               {ratio:.2f}x")


if __name__ == "__main__":
    main()
