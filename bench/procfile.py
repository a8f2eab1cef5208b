"""The Procfile's settings, so a bench runs a process as the Procfile does."""

from __future__ import annotations

import shlex
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"


def procfile_settings(process: str) -> dict[str, str]:
    """The `VAR=value` prefixes of the Procfile's `process:` line."""
    for line in PROCFILE.read_text().splitlines():
        if line.startswith(f"{process}:"):
            words = shlex.split(line.split(":", 1)[1])
            return dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
    return {}
