"""bin/worker starts Celery's own `worker` command (workers/command.py):
its options are Celery's, and a bad one stops the worker with Celery's usage
error and exit status 2, whether bin/worker runs one process or several (the
supervisor then sees it fail instead of a worker that never consumes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bin_worker(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROOT / "bin" / "worker"],
        env={
            **os.environ,  # the suite's settings and services
            # bin/worker runs the `python` on PATH: this interpreter's.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "WORKER_QUEUES": "never-consumed",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("processes", ["1", "2"])
@pytest.mark.parametrize(
    ("setting", "refused"),
    [
        ({"WORKER_POOL": "nosuch"}, "Invalid value for '-P' / '--pool': 'nosuch'"),
        ({"WORKER_CONCURRENCY": "abc"}, "Invalid value for '-c' / '--concurrency'"),
    ],
)
def test_a_bad_worker_setting_is_refused_with_celerys_usage_error(
    processes: str, setting: dict[str, str], refused: str
) -> None:
    done = _bin_worker(WORKER_PROCESSES=processes, **setting)
    assert done.returncode == 2, done.stdout + done.stderr
    assert refused in done.stderr
    assert "Usage: celery worker [OPTIONS]" in done.stderr
