"""A real Celery worker in its own process, started by bin/worker as the
Procfile starts one, over the real broker, joined to the test database. Used
by end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from celery.utils.nodenames import host_format
from django.db import connection

from workers.celery import app

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 30.0


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], hostname: str, log_path: Path) -> None:
        self.process = process
        self.hostname = hostname
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the worker and every process it started (its session)."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(15)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def start_worker(
    *,
    queues: str = "solve,webhooks,maintenance",
    concurrency: int = 4,
    pool: str = "threads",
    extra_env: dict[str, str] | None = None,
    broker_url: str = "",
) -> WorkerProcess:
    """A worker on the suite's broker, or on `broker_url` (a server the test
    owns)."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    hostname = host_format(f"{name}@%h")  # bin/worker's --hostname, as Celery expands it
    env = os.environ.copy()
    # Join the test database (pytest-django renamed it in this process).
    env["DATABASE_NAME_OVERRIDE"] = str(connection.settings_dict["NAME"])
    env.update(
        # bin/worker runs the `python` on PATH: this interpreter's.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        WORKER_PROCESSES="1",
        WORKER_NAME=name,
        WORKER_QUEUES=queues,
        WORKER_POOL=pool,
        WORKER_CONCURRENCY=str(concurrency),
        LOG_LEVEL="INFO",
    )
    env.update(extra_env or {})
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    log_path = Path(os.environ["IMAGESOLVE_TEST_WORKDIR"]) / f"worker-{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [ROOT / "bin" / "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(process, hostname, log_path)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}:\n{worker.log()}")
        if broker_url:
            # Not this process's broker: the worker's own word that it consumes.
            if f"{hostname} ready." in worker.log():
                return worker
            time.sleep(0.1)
        elif app.control.ping(destination=[hostname], timeout=0.5):
            return worker
    worker.kill()
    raise RuntimeError(f"worker not ready within {READY_TIMEOUT_S}s:\n{worker.log()}")


@contextmanager
def running_worker(**kwargs: object) -> Iterator[WorkerProcess]:
    worker = start_worker(**kwargs)  # type: ignore[arg-type]
    try:
        yield worker
    finally:
        worker.stop()
