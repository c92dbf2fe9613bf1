"""Shell completion (argcomplete): commands, options, action ids and journal files.

`cockpit completion bash` prints the shell code to load once (eval it, or append it to
~/.bashrc); after that, tab completes as the parser knows it. argcomplete is imported only
while completing or printing that code, so a plain command never pays for it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

SHELLS = ("bash", "zsh", "fish", "tcsh")
JOURNAL_SUFFIX = ".jsonl"


def journal_files(prefix: str, **_context: object) -> list[str]:
    """Session journals (*.jsonl) and folders that may hold some, matching what was typed."""
    folder, _slash, start = prefix.rpartition("/")
    base = Path(folder or ".")
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return []
    shown = f"{folder}/" if folder else ""
    matches = []
    for entry in entries:
        if not entry.name.startswith(start) or entry.name.startswith("."):
            continue
        if entry.is_dir():
            matches.append(f"{shown}{entry.name}/")
        elif entry.name.endswith(JOURNAL_SUFFIX):
            matches.append(f"{shown}{entry.name}")
    return matches


def complete_if_asked(parser: argparse.ArgumentParser) -> None:
    """Answers the shell's completion request and exits; does nothing on a normal run."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    argcomplete.autocomplete(parser)


def shell_code(shell: str) -> str:
    """What to load into `shell` so that `cockpit` completes."""
    from argcomplete.shell_integration import shellcode

    return shellcode(["cockpit"], shell=shell)
