"""One solve worker alone, against Celery's own floor measured in the same run.

Jobs are queued first (rows bulk-inserted, one message each published to the
`solve` queue), then ONE `bin/worker` (the Procfile's solve worker: its pool
and concurrency from the environment) drains them with the mock provider
(SOLVER=mock) at a fixed latency. BENCH_WORKER_SOLVER=openai drains them with
the real `openai` SDK instead, against the tests' fake OpenAI server
(tests/fakes/openai_server.py) answering after that latency, in a process of
its own (its CPU is not the worker's). Beside each drain, the same run drains
bare Celery tasks (a no-op, or a sleep as long as the provider's latency)
with the same pool and concurrency, from a minimal Celery app kept outside
the project, on the same broker. Every product figure is printed as a ratio
to its floor, so the noise of a shared machine cancels out.

- worker CPU per job at 0 ms: user + system time of the worker's processes
  (/proc/<pid>/stat), from the moment it starts consuming to the last job;
- jobs/s at 1 s with 200 in flight and at 5 s with 1,000 in flight, one
  account alone and 50 accounts; jobs/s = succeeded jobs / (first start to
  last completion, from the jobs' own timestamps);
- publish -> succeeded, one job at a time (the job's end is seen on the
  Redis channel that wakes `?wait=` requests), against a bare publish ->
  result round trip;
- peak PostgreSQL connections (pg_stat_activity) and worker RSS.

Needs PostgreSQL: BENCH_WORKER_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/imagesolve_bench_worker (dropped and
re-created on every run). Redis is the bench's own: a redis-server started on
a free port and stopped by PID at the end."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: the project root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.postgres import PeakConnections, recreate_database, with_application_name
from bench.procfile import procfile_settings

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/imagesolve_bench_worker"
ROOT = Path(__file__).resolve().parent.parent
IDLE_QUEUE = "bench-idle"
FLOOR_QUEUE = "bench-floor"
ACCOUNTS = 50
# Each scenario: provider latency (ms), worker concurrency, jobs.
# BENCH_WORKER_SCALE shrinks or grows the job counts (e.g. 0.2 for a quick look).
SCALE = float(os.environ.get("BENCH_WORKER_SCALE", "1"))
CPU_JOBS = int(1200 * SCALE)
ROUND_TRIPS = int(40 * SCALE) or 1
# (latency ms, in flight, jobs): 12 and 6 "waves" of the pool at the ideal
# rate, so the pool's filling and emptying weigh little against its steady
# state (with 3 waves, the bare floor itself reached only ~0.8 of the ideal
# at 200 in flight; with 12, 0.93). About 10 minutes for the module.
IO_SCENARIOS = [(1000, 200, int(2400 * SCALE)), (5000, 1000, int(6000 * SCALE))]
# Which parts to run (all by default): cpu, 200, 1000, rt (round trips).
PARTS = set(os.environ.get("BENCH_WORKER_PARTS", "cpu,200,1000,rt").split(","))
# A drain stops waiting this long past its ideal time (jobs / rate).
SLACK_S = 90.0
READY_TIMEOUT_S = 60.0
# The workers' connections, told apart from the bench's own in pg_stat_activity.
WORKER_APPLICATION_NAME = "imagesolve-bench-worker"
# The provider the worker calls: mock (in-process) or openai (the SDK and the fake server).
SOLVER = os.environ.get("BENCH_WORKER_SOLVER", "mock")


def run(report: Any) -> None:
    if SOLVER not in ("mock", "openai"):
        raise SystemExit(f"BENCH_WORKER_SOLVER must be mock or openai, not {SOLVER!r}")
    report.title = "Worker throughput against Celery's floor (bench_worker)"
    if SOLVER == "openai":
        report.title = "Worker throughput with the real openai SDK, against Celery's floor (bench_worker)"
    url = os.environ.get("BENCH_WORKER_DATABASE_URL") or DEFAULT_URL
    if not url.startswith(("postgres://", "postgresql://")):
        report.skip("needs PostgreSQL (BENCH_WORKER_DATABASE_URL)")
        return
    redis_server = shutil.which("redis-server")
    if not redis_server:
        report.skip("needs redis-server on PATH (apt-get install redis-server)")
        return
    try:
        pg_version = recreate_database(url)
    except Exception as exc:  # any connection problem means "no PostgreSQL here"
        report.skip(f"PostgreSQL unavailable ({type(exc).__name__}: {exc})".strip())
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="bench-worker-", ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        redis = _start_redis(redis_server, tmp)
        try:
            bench = Bench(url=url, redis_url=redis.url, tmp=tmp)
            bench.setup()
            bench.measure()
        finally:
            redis.stop()
    bench.write(report, pg_version=pg_version)


# --- Processes ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A command in its own session, stopped (with its children) by PID."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> None:
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def pids(self) -> list[int]:
        pids = [self.popen.pid]
        for pid in pids:  # grows while iterating: children of children
            with suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    with suppress(OSError):
                        pids += [int(c) for c in (task / "children").read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids():
            with suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    def rss_mb(self) -> float:
        total = 0
        for pid in self.pids():
            with suppress(OSError, ValueError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


@dataclass
class Redis:
    process: Process
    url: str

    def stop(self) -> None:
        self.process.stop()


def _start_redis(server: str, tmp: Path) -> Redis:
    import redis

    port = _free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(tmp), "--maxclients", "10000"]
    process = Process(command, dict(os.environ), tmp / "redis.log")
    url = f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return Redis(process, url)
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.stop()
                raise RuntimeError(f"redis-server did not start:\n{process.tail()}") from None
            time.sleep(0.1)


# --- The floor: a minimal Celery app outside the project --------------------------------

FLOOR_APP = '''
"""Bare Celery tasks, timed from inside the worker by its signals: the first
task's start and the last one's end go to files, so watching costs nothing."""
import os
import threading
import time

from celery import Celery, signals

app = Celery("floor", broker=os.environ["FLOOR_BROKER"], backend=os.environ["FLOOR_BACKEND"])
app.conf.update(
    task_acks_late=True,
    # The product's solve worker's (bench_worker passes it on).
    worker_prefetch_multiplier=int(os.environ["FLOOR_PREFETCH_MULTIPLIER"]),
    broker_transport_options={"visibility_timeout": 3600},
    broker_pool_limit=int(os.environ.get("FLOOR_POOL_LIMIT", "50")),
)
OUT = os.environ.get("FLOOR_OUT", "")
_lock = threading.Lock()
# This process's tasks: how many ended, the first's start and the last's end.
# A thread writes them to OUT.<pid> ten times a second (off the tasks' path);
# the bench adds up the files of all the floor's processes.
_state = {"done": 0, "first": None, "last": None}


@app.task(name="floor.noop", ignore_result=True)
def noop():
    return None


@app.task(name="floor.sleep", ignore_result=True)
def sleep(seconds):
    time.sleep(seconds)


@app.task(name="floor.echo")
def echo(value):
    return value


@signals.task_prerun.connect
def _first(**_):
    if _state["first"] is None:
        _state["first"] = time.time()


@signals.task_postrun.connect
def _last(**_):
    with _lock:
        _state["done"] += 1
        _state["last"] = time.time()


def _report():
    path = f"{OUT}.{os.getpid()}"
    while True:
        time.sleep(0.1)
        with _lock:
            if _state["first"] is None:
                continue
            line = f"{_state['done']} {_state['first']!r} {_state['last']!r}"
        with open(path + ".tmp", "w") as f:
            f.write(line)
        os.replace(path + ".tmp", path)


@signals.worker_ready.connect
def _start_reporting(**_):
    if OUT:
        threading.Thread(target=_report, daemon=True).start()
'''


@dataclass
class Drain:
    what: str
    latency_ms: int
    in_flight: int
    accounts: int
    jobs: int
    done: int = 0
    span_s: float = 0.0
    cpu_s: float = 0.0
    peak_connections: int = 0
    peak_rss_mb: float = 0.0
    floor_rate: float = 0.0
    floor_cpu_s: float = 0.0
    floor_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.span_s if self.span_s else 0.0

    @property
    def ideal(self) -> float:
        return self.in_flight * 1000 / self.latency_ms if self.latency_ms else 0.0


class Bench:
    # The Procfile's line of the worker measured: its floor reserves as many
    # messages a thread as it does.
    PROGRAM = "worker"

    def __init__(self, *, url: str, redis_url: str, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.env = {
            **os.environ,
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnop",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": url,
            "DATABASE_NAME_OVERRIDE": "",
            "REDIS_URL": f"{redis_url}/0",
            "REDIS_CACHE_URL": f"{redis_url}/1",
            "CELERY_BROKER_URL": "",
            "OPENAI_API_KEY": "",
            "SOLVER": "mock",
            "SPACES_BUCKET_NAME": "",
            "MEDIA_ROOT": str(tmp / "media"),
            "LOG_LEVEL": "WARNING",
        }
        # Without DJANGO_SETTINGS_MODULE: Celery's Django fixup stays out of the floor.
        self.floor_env = {
            **{k: v for k, v in self.env.items() if k != "DJANGO_SETTINGS_MODULE"},
            "FLOOR_BROKER": f"{redis_url}/0",
            "FLOOR_BACKEND": f"{redis_url}/2",
            "PYTHONPATH": str(tmp / "floor"),
        }
        self.drains: list[Drain] = []
        self.round_trip: list[float] = []
        self.floor_round_trip: list[float] = []
        self.users: list[int] = []
        self.worker_settings = ""
        self.fakes: list[Process] = []

    # Setup ------------------------------------------------------------------------

    def setup(self) -> None:
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.utils import timezone

        from accounts.models import User

        self.users = [
            User.objects.create_user(
                f"bench-worker-{i}@example.com", None, email_verified_at=timezone.now()
            ).pk
            for i in range(ACCOUNTS)
        ]
        media = self.tmp / "media" / "bench"
        media.mkdir(parents=True)
        (media / "input.png").write_bytes(_png())
        (self.tmp / "floor").mkdir()
        (self.tmp / "floor" / "floorapp.py").write_text(textwrap.dedent(FLOOR_APP))

    def _queue_jobs(self, count: int, accounts: int, *, publish: bool = True) -> list[str]:
        """Insert `count` queued jobs (round robin over `accounts`) and publish
        one message each, as job_submit would, before any worker runs."""
        from django.conf import settings
        from django.utils import timezone

        from api.models import Job
        from api.services import SOLVE_TASK_NAME
        from workers.celery import app

        now = timezone.now()
        jobs = [
            Job(
                user_id=self.users[i % accounts],
                model=settings.OPENAI_MODEL,
                image="bench/input.png",
                image_format="png",
                image_bytes=1000,
                image_width=240,
                image_height=64,
                prompt=f"Solve for x ({i})",
                request_id=f"bench-{i}",
                created_at=now,
                published_at=now,
            )
            for i in range(count)
        ]
        Job.objects.bulk_create(jobs, batch_size=1000)
        if not publish:
            return [str(job.pk) for job in jobs]
        with app.producer_or_acquire() as producer:
            for job in jobs:
                app.send_task(SOLVE_TASK_NAME, args=[str(job.pk)], producer=producer)
        return [str(job.pk) for job in jobs]

    def _worker(self, *, latency_ms: int, in_flight: int, queue: str) -> tuple[Process, list[str]]:
        """bin/worker on the idle queue, as the Procfile runs the solve worker:
        its settings (WORKER_PROCESSES, DATABASE_POOL_MAX_SIZE, ...) unless
        the environment sets them, with `in_flight` threads in all."""
        name = f"bench{uuid.uuid4().hex[:6]}"
        processes = _worker_processes(self.env)
        env = {
            **procfile_settings("worker"),
            **self.env,
            "WORKER_QUEUES": IDLE_QUEUE,
            "WORKER_NAME": name,
            "DATABASE_URL": with_application_name(self.url, WORKER_APPLICATION_NAME),
            "MOCK_PROVIDER_LATENCY_MS": str(latency_ms),
            "WORKER_CONCURRENCY": str(-(-in_flight // processes)),
            "WORKER_PROCESSES": str(processes),
        }
        if SOLVER == "openai":
            env.update(self._fake_openai(latency_ms))
        process = Process([str(ROOT / "bin" / "worker")], env, self.tmp / f"{name}.log")
        return process, _hostnames(name, processes)

    def _fake_openai(self, latency_ms: int) -> dict[str, str]:
        """The fake OpenAI server answering after `latency_ms`, started for
        the worker about to start (stopped with it, _stop_fakes), and the
        settings that send the worker's SDK to it."""
        from tests.fakes.openai_server import API_KEY

        log = self.tmp / f"fake-openai-{len(self.fakes)}.log"
        fake = Process(
            [sys.executable, "-m", "tests.fakes.openai_server", "--delay-ms", str(latency_ms)], self.env, log
        )
        self.fakes.append(fake)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not (base_url := log.read_text().strip()) and time.monotonic() < deadline:
            if fake.popen.poll() is not None:
                break
            time.sleep(0.1)
        if not base_url.startswith("http://"):
            raise RuntimeError(f"the fake OpenAI server did not start:\n{fake.tail()}")
        return {
            "SOLVER": "openai",
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": base_url,
            "OPENAI_TIMEOUT_S": str(latency_ms // 1000 + 30),
        }

    def _stop_fakes(self) -> None:
        while self.fakes:
            self.fakes.pop().stop()

    def _floor_worker(self, *, in_flight: int, out: Path) -> tuple[Process, list[str]]:
        """The floor app with the same processes, pool and concurrency as
        bin/worker."""
        name = f"floor{uuid.uuid4().hex[:6]}"
        processes = _worker_processes(self.env)
        env = {
            **self.floor_env,
            "FLOOR_OUT": str(out),
            "FLOOR_PREFETCH_MULTIPLIER": _prefetch_multiplier(self.env, self.PROGRAM),
            "WORKER_CONCURRENCY": str(-(-in_flight // processes)),
        }
        pool = _worker_options(env)
        commands = []
        for hostname in _hostnames(name, processes):
            command = [sys.executable, "-m", "celery", "-A", "floorapp", "worker", "-Q", IDLE_QUEUE, *pool]
            command += [
                "--hostname",
                hostname,
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ]
            commands.append(" ".join(shlex.quote(part) for part in command) + " &")
        # One session for them all: stopped together by the group's PID.
        script = "\n".join([*commands, "wait"])
        process = Process(["bash", "-c", script], env, self.tmp / f"{name}.log", cwd=self.tmp / "floor")
        return process, _hostnames(name, processes)

    def _start_consuming(self, app: Any, process: Process, hostnames: list[str], queue: str) -> float:
        """Wait until every worker answers, then point them at `queue`;
        returns their CPU seconds just before."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(app.control.ping(destination=hostnames, timeout=1) or []) < len(hostnames):
            if process.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"workers {hostnames} did not start:\n{process.tail()}")
        time.sleep(1)  # let the pool settle (threads started, connections idle)
        cpu = process.cpu_seconds()
        replies = app.control.add_consumer(queue, destination=hostnames, reply=True, timeout=5) or []
        if len(replies) < len(hostnames):
            raise RuntimeError(f"workers {hostnames} did not all consume {queue}:\n{process.tail()}")
        return cpu

    # Measurements ------------------------------------------------------------------

    def measure(self) -> None:
        from workers.celery import app

        processes = _worker_processes(self.env)
        options = " ".join(_worker_options({**self.env, "WORKER_CONCURRENCY": str(-(-32 // processes))}))
        self.worker_settings = f"{processes} process(es), each `{options}`"
        if "cpu" in PARTS:
            self._drain(Drain("provider at 0 ms, CPU per job", 0, 32, 1, CPU_JOBS))
        for latency_ms, in_flight, jobs in IO_SCENARIOS:
            if str(in_flight) not in PARTS:
                continue
            for accounts in (1, ACCOUNTS):
                self._drain(
                    Drain(f"{latency_ms} ms, {in_flight} in flight", latency_ms, in_flight, accounts, jobs)
                )
        if "rt" in PARTS:
            self._round_trips(app)

    def _drain(self, drain: Drain) -> None:
        from django.db.models import Max, Min

        from api.models import Job
        from workers.celery import app

        print(f"  {drain.what}, {drain.accounts} account(s): {drain.jobs} jobs", flush=True)
        job_ids = self._queue_jobs(drain.jobs, drain.accounts)
        worker, hostnames = self._worker(
            latency_ms=drain.latency_ms, in_flight=drain.in_flight, queue="solve"
        )
        try:
            cpu_before = self._start_consuming(app, worker, hostnames, "solve")
            expected_s = drain.jobs / drain.ideal if drain.ideal else drain.jobs * 0.05
            deadline = time.monotonic() + expected_s * 3 + SLACK_S
            jobs = Job.objects.filter(pk__in=job_ids)
            with self._sampled(worker, drain):
                while jobs.filter(status__in=Job.ACTIVE).exists() and time.monotonic() < deadline:
                    time.sleep(0.2)
            drain.cpu_s = worker.cpu_seconds() - cpu_before
        finally:
            worker.stop()
            self._stop_fakes()
        drain.done = jobs.filter(status=Job.Status.SUCCEEDED).count()
        if drain.done < drain.jobs:
            drain.notes.append(
                f"{drain.jobs - drain.done} of {drain.jobs} jobs did not succeed:\n{worker.tail(10)}"
            )
        span = jobs.aggregate(first=Min("started_at"), last=Max("completed_at"))
        if span["first"] and span["last"]:
            drain.span_s = (span["last"] - span["first"]).total_seconds()
        self._floor(drain)
        self.drains.append(drain)

    def _floor(self, drain: Drain) -> None:
        """The same drain with bare tasks: a no-op at 0 ms, else a sleep."""
        from celery import Celery

        floor = Celery("floor", broker=self.floor_env["FLOOR_BROKER"])
        out = self.tmp / f"floor-{len(self.drains)}"
        worker, hostnames = self._floor_worker(in_flight=drain.in_flight, out=out)
        try:
            with floor.producer_or_acquire() as producer:
                for _ in range(drain.jobs):
                    if drain.latency_ms:
                        floor.send_task(
                            "floor.sleep",
                            args=[drain.latency_ms / 1000],
                            queue=FLOOR_QUEUE,
                            producer=producer,
                        )
                    else:
                        floor.send_task("floor.noop", queue=FLOOR_QUEUE, producer=producer)
            cpu_before = self._start_consuming(floor, worker, hostnames, FLOOR_QUEUE)
            expected_s = drain.jobs / drain.ideal if drain.ideal else drain.jobs * 0.01
            deadline = time.monotonic() + expected_s * 3 + SLACK_S
            while (progress := _floor_progress(out))[0] < drain.jobs and time.monotonic() < deadline:
                drain.floor_rss_mb = max(drain.floor_rss_mb, worker.rss_mb())
                time.sleep(0.2)
            drain.floor_cpu_s = worker.cpu_seconds() - cpu_before
            done, first, last = progress
            if done >= drain.jobs:
                drain.floor_rate = drain.jobs / (last - first)
            else:
                drain.notes.append(f"the floor drain did not finish:\n{worker.tail(10)}")
        finally:
            worker.stop()

    def _round_trips(self, app: Any) -> None:
        """One job at a time: publish its message, wait for the Redis wake-up
        its success sends (api/notifications.py). The floor: a bare task
        published and its result awaited, on the same broker."""
        import redis
        from celery import Celery

        from api.notifications import _channel
        from api.services import SOLVE_TASK_NAME

        print("  round trips", flush=True)
        worker, hostnames = self._worker(latency_ms=0, in_flight=32, queue="solve")
        client = redis.Redis.from_url(self.env["REDIS_URL"])
        try:
            self._start_consuming(app, worker, hostnames, "solve")
            for _ in range(ROUND_TRIPS + 3):
                job_id = self._queue_jobs(1, 1, publish=False)[0]
                pubsub = client.pubsub()
                pubsub.subscribe(_channel(job_id))
                pubsub.get_message(timeout=1)  # the subscribe confirmation
                started = time.perf_counter()
                app.send_task(SOLVE_TASK_NAME, args=[job_id])
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=10)
                if message is not None:
                    self.round_trip.append(time.perf_counter() - started)
                pubsub.close()
        finally:
            worker.stop()
            self._stop_fakes()
        self.round_trip = self.round_trip[3:]  # the first ones warm up connections
        floor = Celery(
            "floor", broker=self.floor_env["FLOOR_BROKER"], backend=self.floor_env["FLOOR_BACKEND"]
        )
        worker, hostnames = self._floor_worker(in_flight=32, out=self.tmp / "floor-rt")
        try:
            self._start_consuming(floor, worker, hostnames, FLOOR_QUEUE)
            for i in range(ROUND_TRIPS + 3):
                started = time.perf_counter()
                floor.send_task("floor.echo", args=[i], queue=FLOOR_QUEUE).get(timeout=10)
                self.floor_round_trip.append(time.perf_counter() - started)
        finally:
            worker.stop()
        self.floor_round_trip = self.floor_round_trip[3:]

    @contextmanager
    def _sampled(self, worker: Process, drain: Drain) -> Iterator[None]:
        """Peak connections of the worker's processes (by their
        application_name: not the bench's own) and worker RSS, every 0.2 s."""
        stop = threading.Event()

        def sample_rss() -> None:
            while not stop.wait(0.2):
                drain.peak_rss_mb = max(drain.peak_rss_mb, worker.rss_mb())

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        try:
            with PeakConnections(self.url, WORKER_APPLICATION_NAME) as connections:
                yield
            drain.peak_connections = connections.peak
        finally:
            stop.set()
            sampler.join(5)

    # Report -------------------------------------------------------------------------

    def write(self, report: Any, *, pg_version: str) -> None:
        import statistics

        cores = os.cpu_count()
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        reserved = _prefetch_multiplier(self.env, self.PROGRAM)
        report.line(
            f"PostgreSQL {pg_version} (database re-created for the run) and a redis-server of the bench's "
            f"own; {cores} cores shared by the worker, PostgreSQL, Redis and the bench (load average at the "
            f"end: {load}). The worker is `bin/worker` as the Procfile's solve worker runs it "
            f"(WORKER_PROCESSES; the in-flight count is split between them; at 32 in flight: "
            f"{self.worker_settings}), DJANGO_DEBUG=0, {_solver_note()}. The floor is a bare Celery app "
            f"(acks late, {reserved} message(s) reserved a thread, as the product's "
            "solve worker) with the same processes, pool and concurrency on the same broker."
        )
        report.line()
        rows = []
        for d in self.drains:
            per_job = d.cpu_s / d.done * 1000 if d.done else float("nan")
            floor_per_task = d.floor_cpu_s / d.jobs * 1000
            rows.append(
                [
                    d.what,
                    d.accounts,
                    f"{d.done}/{d.jobs}",
                    f"{d.rate:.1f}",
                    f"{d.floor_rate:.1f}",
                    f"{d.rate / d.floor_rate:.2f}" if d.floor_rate else "-",
                    f"{d.rate / d.ideal:.2f}" if d.ideal else "-",
                    f"{d.floor_rate / d.ideal:.2f}" if d.ideal else "-",
                    f"{per_job:.1f} ms",
                    f"{floor_per_task:.1f} ms",
                    f"{per_job / floor_per_task:.1f}" if floor_per_task else "-",
                    d.peak_connections,
                    f"{d.peak_rss_mb:.0f} MB",
                    f"{d.floor_rss_mb:.0f} MB",
                ]
            )
        report.table(
            [
                "drain",
                "accounts",
                "succeeded",
                "jobs/s",
                "floor tasks/s",
                "÷ floor",
                "÷ ideal",
                "floor ÷ ideal",
                "worker CPU / job",
                "floor CPU / task",
                "÷ floor",
                "peak PG conns",
                "worker RSS",
                "floor RSS",
            ],
            rows,
        )
        report.line(
            "ideal = in flight / provider latency; jobs/s from the jobs' first start to last completion, "
            "the floor's from its first task's start to its last one's end (timed inside the worker)."
        )
        report.line()
        if self.round_trip and self.floor_round_trip:
            p50 = statistics.median(self.round_trip) * 1000
            floor_p50 = statistics.median(self.floor_round_trip) * 1000
            report.line(
                "One job at a time, publish → succeeded (the job's wake-up on Redis), "
                f"{len(self.round_trip)} jobs: p50 {p50:.1f} ms, max {max(self.round_trip) * 1000:.1f} ms; "
                "bare publish → result "
                f"round trip p50 {floor_p50:.1f} ms; ratio {p50 / floor_p50:.1f}."
            )
        for d in self.drains:
            for note in d.notes:
                report.line()
                report.line(f"- {d.what}, {d.accounts} account(s): {note.splitlines()[0]}")
                print(note, file=sys.stderr)


def _solver_note() -> str:
    if SOLVER == "openai":
        return (
            "SOLVER=openai: the real `openai` SDK against the tests' fake OpenAI server "
            "(tests/fakes/openai_server.py, a process of its own on the same cores) answering after "
            "the provider's latency"
        )
    return "SOLVER=mock"


def _worker_processes(env: dict[str, str]) -> int:
    """How many worker processes bin/worker runs: WORKER_PROCESSES from `env`
    if set there, else as the Procfile's solve worker sets it."""
    if "WORKER_PROCESSES" not in env:
        env = {**env, **procfile_settings("worker")}
    command = [str(ROOT / "bin" / "worker"), "--print-processes"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return max(1, int(out.stdout.strip()))


def _prefetch_multiplier(env: dict[str, str], program: str) -> str:
    """The messages a thread of the Procfile's `program` reserves: from
    `env` if set there, else as its line sets it (1 by default)."""
    return {**procfile_settings(program), **env}.get("CELERY_WORKER_PREFETCH_MULTIPLIER", "1")


def _hostnames(name: str, processes: int) -> list[str]:
    """The node names bin/worker gives its processes."""
    host = socket.gethostname()
    if processes == 1:
        return [f"{name}@{host}"]
    return [f"{name}-{i}@{host}" for i in range(1, processes + 1)]


def _floor_progress(out: Path) -> tuple[int, float, float]:
    """Tasks ended, first start, last end, over the floor's processes."""
    done, first, last = 0, float("inf"), 0.0
    for path in out.parent.glob(out.name + ".*"):
        if path.suffix == ".tmp":
            continue
        with suppress(OSError, ValueError):
            count, started, ended = path.read_text().split()
            done += int(count)
            first, last = min(first, float(started)), max(last, float(ended))
    return done, first, last


def _worker_options(env: dict[str, str]) -> list[str]:
    """The pool options bin/worker runs with in `env` (WORKER_POOL,
    WORKER_CONCURRENCY), so the floor gets the same."""
    out = subprocess.run(
        [str(ROOT / "bin" / "worker"), "--print-options"], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def _png() -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 64), "white")
    ImageDraw.Draw(image).text((12, 24), "Solve: 3x + 7 = 22", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


if __name__ == "__main__":
    # `python bench/bench_worker.py`: this module alone, its report on stdout
    # (bench/run.py writes it into bench/report.md).
    from bench.run import Report

    _report = Report("bench_worker")
    run(_report)
    print(f"## {_report.title}\n\n" + "\n".join(_report.lines))
