"""The fault suite as one of `make bench`'s modules (bench/faults/suite.py)."""

from __future__ import annotations

from typing import Any

from bench.faults import suite


def run(report: Any) -> None:
    suite.run(report)
