"""The job pipeline over real processes: `bin/web` (gunicorn) and `bin/worker`
(Celery, threads pool) started for the run, the mock provider
(SOLVER=mock) with MOCK_PROVIDER_LATENCY_MS at 0 and at 1000 ms, and a
bounded load from a pool of httpx clients on loopback. Measures:

- POST /api/v1/solve (a small PNG, multipart): latency and throughput, with
  no worker running, so the web side is measured alone;
- jobs/s drained by one worker from a full queue, read from the jobs'
  started_at/completed_at, for several pool sizes and provider latencies;
- submit-to-succeeded time seen by clients that wait with ?wait=;
- GET /api/v1/jobs/{id} latency and throughput.

Needs PostgreSQL and Redis: BENCH_JOBS_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/imagesolve_bench_jobs (dropped and
re-created on every run); BENCH_JOBS_REDIS_URL and BENCH_JOBS_REDIS_CACHE_URL,
default redis://127.0.0.1:6379/13 (broker) and /14 (cache), both flushed
before and after the run. Throttles and the in-flight cap are raised so they
do not shape the numbers."""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.postgres import recreate_database

JOBS = int(os.environ.get("BENCH_JOBS_COUNT", "300"))
CLIENTS = int(os.environ.get("BENCH_JOBS_CLIENTS", "8"))
E2E_JOBS = int(os.environ.get("BENCH_JOBS_E2E_COUNT", "96"))
GETS = int(os.environ.get("BENCH_JOBS_GETS", "2000"))
# Provider latency of the I/O-bound runs (the CPU-bound ones use 0 ms).
SLOW_MS = int(os.environ.get("BENCH_JOBS_SLOW_MS", "1000"))
# The worker's pool size (bin/worker's default) and a small one for contrast:
# one thread per core, what a prefork pool of 2 processes would run at once.
THREADS = int(os.environ.get("BENCH_JOBS_WORKER_THREADS", "32"))
SMALL_THREADS = 2
# The whole module stops loading when this many seconds have passed.
TIME_CAP_S = float(os.environ.get("BENCH_JOBS_TIME_CAP_S", "170"))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/imagesolve_bench_jobs"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
DEFAULT_REDIS_CACHE_URL = "redis://127.0.0.1:6379/14"

ROOT = Path(__file__).resolve().parent.parent
# Each ?wait= request holds at most this long (a client waits again after),
# so an interrupted run is not held up by requests in flight.
WAIT_S = 10
IDLE_QUEUE = "bench-idle"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


def run(report: Any) -> None:
    report.title = "Job pipeline (bench_jobs)"
    url = os.environ.get("BENCH_JOBS_DATABASE_URL") or DEFAULT_URL
    redis_url = os.environ.get("BENCH_JOBS_REDIS_URL") or DEFAULT_REDIS_URL
    cache_url = os.environ.get("BENCH_JOBS_REDIS_CACHE_URL") or DEFAULT_REDIS_CACHE_URL
    if not url.startswith(("postgres://", "postgresql://")):
        report.skip(f"needs PostgreSQL; BENCH_JOBS_DATABASE_URL is {url.split('://')[0]}://…")
        return
    try:
        pg_version = recreate_database(url)
    except Exception as exc:  # any connection problem means "no PostgreSQL here"
        report.skip(f"PostgreSQL unavailable ({type(exc).__name__}: {exc})".strip())
        return
    try:
        redis_version = _flush_redis(redis_url, cache_url)
    except Exception as exc:
        report.skip(f"Redis unavailable ({type(exc).__name__}: {exc})".strip())
        return

    # A SIGTERM (not only Ctrl-C) must still run the finally blocks that stop
    # the processes started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        env = _environment(url, redis_url, cache_url, Path(tmp))
        os.environ.update(env)
        import django

        django.setup()
        # Django's LOGGING puts the root logger at INFO: one line per request
        # of the load loop otherwise.
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        try:
            bench = Bench(env=env, workdir=Path(tmp))
            bench.measure()
        finally:
            _flush_redis(redis_url, cache_url)
    bench.write(report, pg_version=pg_version, redis_version=redis_version)


# --- Setup -------------------------------------------------------------------------


def _flush_redis(*urls: str) -> str:
    """Empty the bench's own Redis databases (and nothing else)."""
    import redis

    version = ""
    for url in urls:
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        try:
            version = str(client.info("server")["redis_version"])
            client.flushdb()
        finally:
            client.close()
    return version


def _environment(url: str, redis_url: str, cache_url: str, tmp: Path) -> dict[str, str]:
    """What this process and every process it starts see: production settings
    (DEBUG off) on the bench's database and Redis, limits out of the way."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnop",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": url,
        "DATABASE_NAME_OVERRIDE": "",
        "REDIS_URL": redis_url,
        "REDIS_CACHE_URL": cache_url,
        "OPENAI_API_KEY": "",
        # The fixed-latency mock: this bench measures the pipeline, not a solver.
        "SOLVER": "mock",
        "SPACES_BUCKET_NAME": "",
        "MEDIA_ROOT": str(tmp / "media"),
        "STATIC_ROOT": str(tmp / "static"),
        "THROTTLE_SUBMIT_RATE": "1000000/s",
        "THROTTLE_READ_RATE": "1000000/s",
        "JOB_MAX_IN_FLIGHT": "1000000",
    }


def _png() -> bytes:
    """A small PNG of a short equation (about 1 KB)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 64), "white")
    ImageDraw.Draw(image).text((12, 24), "Solve: 3x + 7 = 22", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Processes -----------------------------------------------------------------------


class Process:
    """A command started in its own session, so it and everything it starts
    (gunicorn's workers) are stopped together by process group."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.hostname = ""  # a Celery worker's node name
        with log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and its live children."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in [self.pid, *_children(self.pid)]:
            with suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def stop(self) -> None:
        """SIGTERM to the group (warm shutdown), SIGKILL if it lingers."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with suppress(ProcessLookupError):
                os.killpg(self.pid, sig)
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; make sure nothing of its group is left.
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            return


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# --- Load ----------------------------------------------------------------------------

# Set when the run is interrupted: load loops stop sending.
_INTERRUPTED = threading.Event()


@dataclass
class Load:
    """The outcome of one bounded load loop."""

    what: str
    clients: int
    planned: int
    # (status, seconds) per request sent; the status is the HTTP code, or
    # what went wrong instead.
    samples: list[tuple[str, float]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    results: list[Any] = field(default_factory=list)
    wall_s: float = 0.0
    not_sent: int = 0
    web_cpu_s: float = 0.0

    @property
    def latencies(self) -> list[float]:
        return [seconds for _, seconds in self.samples]

    @property
    def ok_latencies(self) -> list[float]:
        return [seconds for status, seconds in self.samples if status.startswith("2")]

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if not status.startswith("2"))


def _load(
    what: str,
    count: int,
    clients: int,
    deadline: float,
    call: Callable[[Any, int], tuple[str, Any]],
) -> Load:
    """`count` calls of `call(client, i)` from `clients` threads, each with its
    own keep-alive httpx client; calls not started by `deadline` are skipped."""
    import httpx

    local = threading.local()
    made: list[httpx.Client] = []
    lock = threading.Lock()
    load = Load(what=what, clients=clients, planned=count)

    def one(i: int) -> None:
        if _INTERRUPTED.is_set() or time.monotonic() >= deadline:
            with lock:
                load.not_sent += 1
            return
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=httpx.Timeout(WAIT_S + 30, connect=5))
            with lock:
                made.append(client)
        started = time.perf_counter()
        try:
            status, result = call(client, i)
        except httpx.HTTPError as exc:
            status, result = type(exc).__name__, None
        elapsed = time.perf_counter() - started
        with lock:
            load.samples.append((status, elapsed))
            load.statuses[status] += 1
            if result is not None:
                load.results.append(result)

    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=clients, thread_name_prefix="bench-client")
    try:
        list(pool.map(one, range(count)))
    except BaseException:
        # Ctrl-C or SIGTERM: drop the calls not started, end the others soon.
        _INTERRUPTED.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for client in made:
            client.close()
    load.wall_s = time.perf_counter() - started
    return load


def _pct(values: Sequence[float], q: float) -> float:
    """Percentile with linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.1f} ms"  # nan: nothing measured


def _secs(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds:.2f} s"


# --- The benchmark --------------------------------------------------------------------


@dataclass
class Drain:
    latency_ms: int
    threads: int
    jobs: int
    statuses: Counter[str]
    span_s: float
    cpu_s: float
    timed_out: bool

    @property
    def rate(self) -> float:
        return self.statuses["succeeded"] / self.span_s if self.span_s > 0 else float("nan")


class Bench:
    def __init__(self, *, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.deadline = time.monotonic() + TIME_CAP_S
        self.png = _png()
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.web: Process | None = None
        self.loads: list[Load] = []
        self.drains: list[Drain] = []
        self.e2e: list[tuple[int, int, Load, dict[str, list[float]]]] = []
        self.notes: list[str] = []
        self.peak_connections = 0
        self.load_average = os.getloadavg()
        self.load_average_end = self.load_average

    # Phases ---------------------------------------------------------------------

    def measure(self) -> None:
        self.token = _user_and_token()
        processes: list[Process] = []
        try:
            with self._connections_sampled():
                self._run_phases(processes)
        finally:
            for process in reversed(processes):
                process.stop()
            self.load_average_end = os.getloadavg()
            self._check_logs(processes)

    def _run_phases(self, processes: list[Process]) -> None:
        self.web = self._start_web(processes)
        # Submit with no worker running: the web side alone.
        first = self._submit(JOBS, f"POST /api/v1/solve ({JOBS} jobs, no worker running)")
        with self._worker(processes, latency_ms=0, threads=THREADS) as worker:
            self._drain(worker, first, latency_ms=0, threads=THREADS)
            self._end_to_end(latency_ms=0, threads=THREADS, clients=CLIENTS)
            self._reads(first)
        slow = self._submit(JOBS, f"POST /api/v1/solve ({JOBS} jobs, again)")
        with self._worker(processes, latency_ms=SLOW_MS, threads=THREADS) as worker:
            self._drain(worker, slow, latency_ms=SLOW_MS, threads=THREADS)
            # Enough waiting clients to keep the pool busy.
            self._end_to_end(latency_ms=SLOW_MS, threads=THREADS, clients=THREADS)
        few = self._submit(8 * SMALL_THREADS, "POST /api/v1/solve (small batch)", record=False)
        with self._worker(processes, latency_ms=SLOW_MS, threads=SMALL_THREADS) as worker:
            self._drain(worker, few, latency_ms=SLOW_MS, threads=SMALL_THREADS)

    def _remaining(self, cap: float) -> float:
        """A phase deadline: `cap` seconds from now, never past the module's."""
        return min(time.monotonic() + cap, self.deadline)

    def _out_of_time(self, phase: str) -> bool:
        if time.monotonic() < self.deadline:
            return False
        self.notes.append(f"{phase}: skipped, the {TIME_CAP_S:.0f} s time cap was reached.")
        return True

    def _start_web(self, processes: list[Process]) -> Process:
        import httpx

        env = {**self.env, "BIND": "127.0.0.1", "PORT": str(self.port)}
        web = Process("web", [str(ROOT / "bin" / "web")], env, self.workdir / "web.log")
        processes.append(web)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not web.alive():
                raise RuntimeError(f"bin/web exited with {web.popen.returncode}:\n{web.log_tail()}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return web
            time.sleep(0.2)
        raise RuntimeError(f"bin/web not ready within {READY_TIMEOUT_S:.0f} s:\n{web.log_tail()}")

    @contextmanager
    def _worker(self, processes: list[Process], *, latency_ms: int, threads: int) -> Iterator[Process]:
        from celery.utils.nodenames import host_format

        from workers.celery import app

        name = f"bench-jobs-{uuid.uuid4().hex[:8]}"
        env = {
            **self.env,
            "MOCK_PROVIDER_LATENCY_MS": str(latency_ms),
            "WORKER_CONCURRENCY": str(threads),
            "WORKER_NAME": name,
            # Started on an empty queue; _drain adds `solve` once the worker
            # is up, so the drain is timed from a full queue, startup apart.
            "WORKER_QUEUES": IDLE_QUEUE,
        }
        log_path = self.workdir / f"worker-{latency_ms}ms-{threads}.log"
        worker = Process("worker", [str(ROOT / "bin" / "worker")], env, log_path)
        processes.append(worker)
        try:
            hostname = worker.hostname = host_format(f"{name}@%h")
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not app.control.ping(destination=[hostname], timeout=0.5):
                if not worker.alive():
                    raise RuntimeError(
                        f"bin/worker exited with {worker.popen.returncode}:\n{worker.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bin/worker not ready within {READY_TIMEOUT_S:.0f} s")
            yield worker
        finally:
            worker.stop()
            processes.remove(worker)
            self._check_logs([worker])

    def _submit(self, count: int, what: str, *, record: bool = True) -> list[str]:
        png, headers = self.png, self._headers()

        def call(client: Any, i: int) -> tuple[str, Any]:
            response = client.post(
                f"{self.base}/api/v1/solve",
                headers=headers,
                files={"image": ("problem.png", png, "image/png")},
                data={"prompt": f"Solve for x ({i})"},
            )
            job_id = response.json().get("id") if response.status_code == 202 else None
            return str(response.status_code), job_id

        load = self._timed_load(what, count, CLIENTS, self._remaining(60), call)
        if record or load.errors or load.not_sent:
            self.loads.append(load)
        return [str(job_id) for job_id in load.results]

    def _drain(self, worker: Process, job_ids: list[str], *, latency_ms: int, threads: int) -> None:
        """Wait until the worker has ended every job, then rate it from the
        jobs' own timestamps (first start to last completion)."""
        from django.db.models import Max, Min

        from api.models import Job
        from workers.celery import app

        cpu_before = worker.cpu_seconds()
        answer = app.control.add_consumer("solve", destination=[worker.hostname], reply=True, timeout=5)
        if not answer:
            raise RuntimeError(f"the worker did not start consuming `solve`:\n{worker.log_tail()}")
        jobs = Job.objects.filter(pk__in=job_ids)
        # A 1 s call on a small pool takes jobs / threads seconds at best.
        cap = 30 + len(job_ids) * max(latency_ms, 50) / 1000 / threads * 2
        deadline = self._remaining(cap)
        timed_out = False
        while jobs.filter(status__in=Job.ACTIVE).exists():
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.2)
        cpu = worker.cpu_seconds() - cpu_before
        span = jobs.aggregate(first=Min("started_at"), last=Max("completed_at"))
        span_s = (span["last"] - span["first"]).total_seconds() if span["first"] and span["last"] else 0.0
        statuses = Counter(jobs.values_list("status", flat=True))
        self.drains.append(Drain(latency_ms, threads, len(job_ids), statuses, span_s, cpu, timed_out))

    def _end_to_end(self, *, latency_ms: int, threads: int, clients: int) -> None:
        """Each client submits a job, then waits on it with ?wait= until it
        ends; the time is from the start of the POST to the final answer."""
        if self._out_of_time(f"end-to-end at {latency_ms} ms"):
            return
        png, headers = self.png, self._headers()
        deadline = self._remaining(60)

        def call(client: Any, i: int) -> tuple[str, Any]:
            response = client.post(
                f"{self.base}/api/v1/solve",
                headers=headers,
                files={"image": ("problem.png", png, "image/png")},
                data={"prompt": f"End to end ({i})"},
            )
            if response.status_code != 202:
                return f"{response.status_code} on POST", None
            url = f"{self.base}{response.headers['Location']}"
            while (left := deadline - time.monotonic()) > 0 and not _INTERRUPTED.is_set():
                wait = max(1, min(WAIT_S, int(left)))
                response = client.get(f"{url}?wait={wait}", headers=headers)
                if response.status_code != 200:
                    return f"{response.status_code} on GET", None
                body = response.json()
                if body["status"] == "succeeded":
                    return "200", (body["id"], time.time())
                if body["status"] in ("failed", "canceled"):
                    return f"job {body['status']}", None
            return "still running", None

        what = f"submit → succeeded, {latency_ms} ms"
        load = self._timed_load(what, E2E_JOBS, clients, deadline, call)
        self.e2e.append((latency_ms, threads, load, _phases(load.results)))

    def _reads(self, job_ids: list[str]) -> None:
        if self._out_of_time("GET /api/v1/jobs/{id}") or not job_ids:
            return
        headers = self._headers()

        def call(client: Any, i: int) -> tuple[str, Any]:
            response = client.get(f"{self.base}/api/v1/jobs/{job_ids[i % len(job_ids)]}", headers=headers)
            return str(response.status_code), None

        what = f"GET /api/v1/jobs/{{id}} ({len(job_ids)} ended jobs)"
        self.loads.append(self._timed_load(what, GETS, CLIENTS, self._remaining(30), call))

    # Helpers --------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _timed_load(
        self,
        what: str,
        count: int,
        clients: int,
        deadline: float,
        call: Callable[[Any, int], tuple[str, Any]],
    ) -> Load:
        assert self.web is not None
        cpu_before = self.web.cpu_seconds()
        load = _load(what, count, clients, deadline, call)
        load.web_cpu_s = self.web.cpu_seconds() - cpu_before
        return load

    @contextmanager
    def _connections_sampled(self) -> Iterator[None]:
        """Count the connections to the bench database every 0.2 s in a
        thread of its own, keeping the peak."""
        import psycopg

        stop = threading.Event()
        url = self.env["DATABASE_URL"]
        name = url.rsplit("/", 1)[1].split("?")[0]

        def sample() -> None:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                while not stop.wait(0.2):
                    row = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
                    ).fetchone()
                    self.peak_connections = max(self.peak_connections, int(row[0]) if row else 0)

        sampler = threading.Thread(target=sample, name="bench-pg-sampler", daemon=True)
        sampler.start()
        try:
            yield
        finally:
            stop.set()
            sampler.join(5)

    def _check_logs(self, processes: list[Process]) -> None:
        """Tracebacks and errors in a process's log become notes."""
        for process in processes:
            if not process.log_path.exists():
                continue
            text = process.log_path.read_text(errors="replace")
            # Django's format ("... ERROR [rid] logger: ...") and gunicorn's ("[ERROR]").
            markers = ("Traceback", " ERROR ", " CRITICAL ", "[ERROR]", "[CRITICAL]")
            bad = [line for line in text.splitlines() if any(marker in line for marker in markers)]
            if bad:
                self.notes.append(
                    f"{process.name} ({process.log_path.name}) logged {len(bad)} error line(s), "
                    f"first: `{bad[0].strip()[:200]}`"
                )

    # Report ---------------------------------------------------------------------

    def write(self, report: Any, *, pg_version: str, redis_version: str) -> None:
        from django.db import connection

        name = connection.settings_dict["NAME"]
        cores = os.cpu_count()
        before = ", ".join(f"{value:.2f}" for value in self.load_average)
        after = ", ".join(f"{value:.2f}" for value in self.load_average_end)
        redis_url = self.env["REDIS_URL"]
        report.line(
            f"PostgreSQL {pg_version}, database `{name}` (re-created for the run); Redis {redis_version}, "
            f"`{redis_url}` (broker) and `{self.env['REDIS_CACHE_URL']}` (cache), flushed before and after."
        )
        report.line()
        report.line(
            "`bin/web` (gunicorn, its own settings: 4 gevent processes) and `bin/worker` (Celery, threads "
            "pool) with DJANGO_DEBUG=0, the mock provider, throttles and the in-flight cap raised out of "
            f"the way. Load from {CLIENTS} httpx clients (keep-alive) on loopback; the clients, web, "
            f"worker, PostgreSQL and Redis share the {cores} cores. Load average (1, 5, 15 min) "
            f"before: {before}; after: {after}."
        )
        report.line()
        report.line("HTTP (latency per request, as the client sees it):")
        report.line()
        rows = []
        for load in self.loads:
            done = len(load.latencies)
            rows.append(
                [
                    load.what,
                    done,
                    load.clients,
                    load.errors + load.not_sent,
                    f"{done / load.wall_s:.0f}" if load.wall_s else "-",
                    _ms(_pct(load.latencies, 50)),
                    _ms(_pct(load.latencies, 95)),
                    _ms(_pct(load.latencies, 99)),
                    f"{load.web_cpu_s / done * 1000:.1f} ms" if done else "-",
                ]
            )
        report.table(
            ["request", "requests", "clients", "errors", "req/s", "p50", "p95", "p99", "web CPU / req"], rows
        )
        report.line(
            "One worker draining a full queue (jobs/s = succeeded jobs / first start to last "
            "completion; ideal = threads / provider latency):"
        )
        report.line()
        rows = []
        for drain in self.drains:
            others = {status: n for status, n in drain.statuses.items() if status != "succeeded"}
            ideal = f"{drain.threads * 1000 / drain.latency_ms:.0f}" if drain.latency_ms else "-"
            succeeded = drain.statuses["succeeded"]
            rows.append(
                [
                    f"{drain.latency_ms} ms",
                    drain.threads,
                    drain.jobs,
                    succeeded,
                    ", ".join(f"{n} {status}" for status, n in sorted(others.items())) or "none",
                    _secs(drain.span_s),
                    f"{drain.rate:.1f}",
                    ideal,
                    f"{drain.cpu_s / succeeded * 1000:.1f} ms" if succeeded else "-",
                ]
            )
        report.table(
            [
                "provider latency",
                "threads",
                "jobs",
                "succeeded",
                "not succeeded",
                "drain time",
                "jobs/s",
                "ideal",
                "worker CPU / job",
            ],
            rows,
        )
        report.line(
            f"Submit to succeeded: each client POSTs a job, then GETs it with ?wait={WAIT_S} until it ends "
            "(the worker running, with the pool above):"
        )
        report.line()
        rows = []
        for latency_ms, threads, load, phases in self.e2e:
            ok = load.ok_latencies
            rows.append(
                [
                    f"{latency_ms} ms",
                    threads,
                    load.clients,
                    load.statuses["200"],
                    load.errors + load.not_sent,
                    _ms(_pct(ok, 50)),
                    _ms(_pct(ok, 95)),
                    _ms(max(ok, default=float("nan"))),
                    *(_ms(_pct(phases[phase], 50)) for phase in PHASES),
                ]
            )
        report.table(
            [
                "provider latency",
                "threads",
                "clients",
                "succeeded",
                "errors",
                "p50",
                "p95",
                "max",
                *(f"{phase} p50" for phase in PHASES),
            ],
            rows,
        )
        report.line(
            "Where the time goes (from the job's timestamps and the client's clock): queued = "
            "created_at to started_at, running = started_at to completed_at (the provider call and "
            "the success transaction), answered = completed_at until the waiting client has the answer."
        )
        report.line()
        report.line(
            f"Peak PostgreSQL connections to `{name}` (sampled every 0.2 s): {self.peak_connections} "
            "(web: 2 processes x 32 threads, worker: one per thread, each kept CONN_MAX_AGE seconds)."
        )
        problems = self._problems()
        report.line()
        report.line(f"Every job succeeded, no request failed: {'yes' if not problems else 'NO'}.")
        for note in [*problems, *self.notes]:
            report.line(f"- {note}")
        if problems:
            # Shown on the console too: a failed module's lines are not written.
            print("\n".join(report.lines), file=sys.stderr)
            raise SystemExit("bench_jobs: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        problems = []
        for load in [*self.loads, *(load for _, _, load, _ in self.e2e)]:
            bad = {status: n for status, n in load.statuses.items() if not status.startswith("2")}
            if bad:
                problems.append(f"{load.what}: {bad}")
            if load.not_sent:
                problems.append(f"{load.what}: {load.not_sent} of {load.planned} not sent (time cap)")
        for drain in self.drains:
            stuck = drain.jobs - drain.statuses["succeeded"]
            if stuck or drain.timed_out:
                problems.append(
                    f"drain at {drain.latency_ms} ms, {drain.threads} threads: {stuck} of {drain.jobs} "
                    f"jobs did not succeed ({dict(drain.statuses)})"
                    + ("; gave up waiting" if drain.timed_out else "")
                )
        return problems


PHASES = ("queued", "running", "answered")


def _phases(results: list[Any]) -> dict[str, list[float]]:
    """Split each job's time in three: waiting in the queue, running, and from
    its completion until the waiting client had the answer."""
    from api.models import Job

    answered_at = dict(results)
    phases: dict[str, list[float]] = {phase: [] for phase in PHASES}
    rows = Job.objects.filter(pk__in=list(answered_at)).values_list(
        "id", "created_at", "started_at", "completed_at"
    )
    for job_id, created, started, completed in rows:
        if started is None or completed is None:
            continue
        phases["queued"].append((started - created).total_seconds())
        phases["running"].append((completed - started).total_seconds())
        phases["answered"].append(answered_at[str(job_id)] - completed.timestamp())
    return phases


def _user_and_token() -> str:
    """A verified user and an API token, straight through the ORM (as
    tests/factories.py does); the token's secret is returned."""
    from django.utils import timezone

    from accounts.models import ApiToken, User
    from accounts.tokens import display_prefix, generate_token, token_digest

    user = User.objects.create_user("bench-jobs@example.com", None, email_verified_at=timezone.now())
    raw = generate_token()
    ApiToken.objects.create(user=user, name="bench", prefix=display_prefix(raw), digest=token_digest(raw))
    return raw
