"""The fault suite: the platform under a steady load while its parts fail.

Everything runs for real on loopback and belongs to the run: a PostgreSQL
initdb'd into a temporary directory (or, without initdb, a database of its
own on 127.0.0.1:5432, dropped and re-created), a Redis on a port of its own
(append-only file on, as a production broker keeps its queues across a
restart), and, for the last scenario, a RabbitMQ node of its own. Processes
as in the Procfile: web (bin/web, gunicorn), a solve worker, a maintenance
worker (beat's tasks), the webhooks worker and beat. The mock provider
answers in FAULTS_PROVIDER_MS (1500 ms).

A load thread submits FAULTS_SUBMIT_RATE jobs/s (4) and reads a known job
FAULTS_READ_RATE times/s (2) from the start of a scenario until a few
seconds after its fault is over. Scenarios:

1. SIGKILL the solve worker while it runs jobs, FAULTS_KILLS times (10),
   starting it again each time;
2. stop Redis for FAULTS_REDIS_OUTAGE_S (20 s) and start it again;
3. restart PostgreSQL (skipped when the suite does not own the server);
4. with CELERY_BROKER_URL=amqp://..., SIGKILL the solve worker mid-job
   FAULTS_AMQP_KILLS times (3) and start it again.

After each fault the suite waits up to FAULTS_RECOVERY_CAP_S (90 s) for
every job answered 202 in the scenario to end, and reports what it saw.
Processes are never restarted behind the suite's back: one that died on its
own is counted, and started again only after its scenario is measured.
"""

from __future__ import annotations

import logging
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.bench_jobs import Process, _png
from bench.postgres import recreate_database
from tests.private_servers import PrivatePostgres, PrivateRabbitMQ, PrivateRedis, free_port, postgres_binaries

ROOT = Path(__file__).resolve().parent.parent.parent
SUBMIT_RATE = float(os.environ.get("FAULTS_SUBMIT_RATE", "4"))
READ_RATE = float(os.environ.get("FAULTS_READ_RATE", "2"))
PROVIDER_MS = int(os.environ.get("FAULTS_PROVIDER_MS", "1500"))
KILLS = int(os.environ.get("FAULTS_KILLS", "10"))
AMQP_KILLS = int(os.environ.get("FAULTS_AMQP_KILLS", "3"))
REDIS_OUTAGE_S = float(os.environ.get("FAULTS_REDIS_OUTAGE_S", "20"))
POSTGRES_OUTAGE_S = float(os.environ.get("FAULTS_POSTGRES_OUTAGE_S", "10"))
RECOVERY_CAP_S = float(os.environ.get("FAULTS_RECOVERY_CAP_S", "90"))
# A subset, in this order, e.g. FAULTS_SCENARIOS=redis_outage.
SCENARIOS = os.environ.get(
    "FAULTS_SCENARIOS", "worker_kills,redis_outage,postgres_restart,rabbitmq_kills"
).split(",")
FALLBACK_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/imagesolve_faults"
# Load before the fault and after it is over, in seconds.
LEAD_S = 5.0
TAIL_S = 5.0
REQUEST_TIMEOUT_S = 15.0
READY_TIMEOUT_S = 60.0
# Concurrent requests of the load at most; beyond, a tick is counted unsent.
MAX_IN_FLIGHT = 24
# Log lines that mean a process failed badly (a traceback, a fatal error).
_BAD_LINE = re.compile(r"Traceback \(most recent call last\)|CRITICAL|Unrecoverable error")

logger = logging.getLogger("bench.faults")


def _say(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Load ------------------------------------------------------------------------------


@dataclass
class Answer:
    kind: str  # "submit" or "read"
    status: str  # the HTTP status, or the exception's name
    job_id: str = ""
    problem: str = ""
    retry_after: bool = False


class Load:
    """Submissions and reads at fixed rates from a pool of threads, each with
    its own keep-alive client, until `stop()`."""

    def __init__(self, *, base: str, token: str, read_id: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.read_id = read_id
        self.answers: list[Answer] = []
        self.unsent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._in_flight = 0
        self._local = threading.local()
        self._clients: list[Any] = []
        self._png = _png()
        self._thread = threading.Thread(target=self._run, name="faults-load", daemon=True)
        self._pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix="faults-client")

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)
        for client in self._clients:
            client.close()

    def _run(self) -> None:
        started = time.monotonic()
        submits = reads = 0
        while not self._stop.is_set():
            elapsed = time.monotonic() - started
            while submits < elapsed * SUBMIT_RATE:
                submits += 1
                self._dispatch(self._submit)
            while reads < elapsed * READ_RATE:
                reads += 1
                self._dispatch(self._read)
            self._stop.wait(0.05)

    def _dispatch(self, call: Callable[[Any], Answer]) -> None:
        with self._lock:
            if self._in_flight >= MAX_IN_FLIGHT:
                self.unsent += 1
                return
            self._in_flight += 1
        self._pool.submit(self._one, call)

    def _client(self) -> Any:
        import httpx

        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=REQUEST_TIMEOUT_S)
            with self._lock:
                self._clients.append(client)
        return client

    def _one(self, call: Callable[[Any], Answer]) -> None:
        import httpx

        try:
            answer = call(self._client())
        except httpx.HTTPError as exc:
            answer = Answer(kind=getattr(call, "__name__", "?").strip("_"), status=type(exc).__name__)
        with self._lock:
            self.answers.append(answer)
            self._in_flight -= 1

    def _submit(self, client: Any) -> Answer:
        response = client.post(
            f"{self.base}/api/v1/solve",
            headers=self.headers,
            files={"image": ("problem.png", self._png, "image/png")},
            data={"prompt": "Solve for x"},
        )
        return _answer("submit", response)

    def _read(self, client: Any) -> Answer:
        response = client.get(f"{self.base}/api/v1/jobs/{self.read_id}", headers=self.headers)
        return _answer("read", response)


def _answer(kind: str, response: Any) -> Answer:
    answer = Answer(
        kind=kind, status=str(response.status_code), retry_after="Retry-After" in response.headers
    )
    if response.headers.get("Content-Type", "").startswith("application/problem+json"):
        with suppress(ValueError):
            answer.problem = str(response.json().get("type", "")).rsplit("/", 1)[-1]
    elif kind == "submit" and response.status_code == 202:
        answer.job_id = response.json()["id"]
    return answer


# --- The platform ------------------------------------------------------------------------


class Platform:
    """The run's servers and processes. `processes` maps a Procfile name to
    its current Process; `deaths` lists the ones that exited on their own."""

    NAMES = ("web", "worker", "maintenance", "webhooks", "beat")

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.redis = PrivateRedis(workdir / "redis", persist=True)
        (workdir / "redis").mkdir()
        self.postgres: PrivatePostgres | None = None
        self.rabbitmq: PrivateRabbitMQ | None = None
        self.database_url = ""
        self.database_note = ""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.broker_url = ""
        self.processes: dict[str, Process] = {}
        self.starts: Counter[str] = Counter()

    # Servers -----------------------------------------------------------------------

    def start_servers(self) -> None:
        self.redis.start()
        binaries = postgres_binaries()
        if binaries is not None:
            self.postgres = PrivatePostgres(binaries).init().start()
            self.database_url = self.postgres.url()
            self.database_note = f"PostgreSQL initdb'd by the suite ({binaries})"
        else:
            url = os.environ.get("FAULTS_DATABASE_URL") or FALLBACK_DATABASE_URL
            recreate_database(url)
            self.database_url = url
            self.database_note = f"a database of its own on {url.rsplit('/', 1)[0]} (no initdb)"

    def stop_servers(self) -> None:
        for server in (self.rabbitmq, self.postgres, self.redis):
            if server is not None:
                with suppress(Exception):
                    server.cleanup()

    # Processes -----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        env = {
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "faults-only-secret-key-0123456789abcdefghijklmnop",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": self.database_url,
            "DATABASE_NAME_OVERRIDE": "",
            "REDIS_URL": self.redis.url,
            "REDIS_CACHE_URL": self.redis.url.rsplit("/", 1)[0] + "/1",
            "OPENAI_API_KEY": "",
            "SPACES_BUCKET_NAME": "",
            "MEDIA_ROOT": str(self.workdir / "media"),
            "STATIC_ROOT": str(self.workdir / "static"),
            "SOLVER": "mock",
            "MOCK_PROVIDER_LATENCY_MS": str(PROVIDER_MS),
            "THROTTLE_SUBMIT_RATE": "1000000/s",
            "THROTTLE_READ_RATE": "1000000/s",
            "THROTTLE_ACCOUNT_RATE": "1000000/s",
            "JOB_MAX_IN_FLIGHT": "1000000",
            "LOG_LEVEL": "INFO",
        }
        if self.broker_url:
            env["CELERY_BROKER_URL"] = self.broker_url
        return env

    def _command(self, name: str) -> tuple[list[str], dict[str, str]]:
        if name == "web":
            return [str(ROOT / "bin" / "web")], {"BIND": "127.0.0.1", "PORT": str(self.port)}
        if name == "beat":
            return [str(ROOT / "bin" / "beat")], {}
        queues = {"worker": "solve", "maintenance": "maintenance", "webhooks": "webhooks"}[name]
        concurrency = {"worker": "16", "maintenance": "4", "webhooks": "8"}[name]
        return [str(ROOT / "bin" / "worker")], {
            "WORKER_QUEUES": queues,
            "WORKER_NAME": f"faults-{name}",
            "WORKER_CONCURRENCY": concurrency,
        }

    def start(self, name: str) -> Process:
        command, extra = self._command(name)
        self.starts[name] += 1
        log_path = self.workdir / f"{name}-{self.starts[name]}.log"
        process = Process(name, command, {**self.env(), **extra}, log_path)
        self.processes[name] = process
        self._wait_ready(process)
        return process

    def _wait_ready(self, process: Process) -> None:
        import httpx

        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited at start:\n{process.log_tail()}")
            if process.name == "web":
                with suppress(httpx.HTTPError):
                    if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                        return
            elif process.name == "beat":
                if "beat: Starting" in _read(process.log_path):
                    return
            elif re.search(r"faults-\w+@\S+ ready\.", _read(process.log_path)):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{process.name} not ready within {READY_TIMEOUT_S:.0f} s:\n{process.log_tail()}")

    def start_all(self) -> None:
        for name in self.NAMES:
            self.start(name)

    def stop_all(self) -> None:
        for name in reversed(self.NAMES):
            process = self.processes.pop(name, None)
            if process is not None:
                process.stop()

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it started, as the kernel's
        OOM killer or a lost host would."""
        process = self.processes[name]
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.popen.wait(10)

    def dead(self) -> list[str]:
        """Processes that exited without being told to, each with the last
        log line that looks like the reason."""
        found = []
        for name, process in self.processes.items():
            if not process.alive():
                lines = _read(process.log_path).splitlines()
                fatal = [line for line in lines if "CRITICAL" in line or "Unrecoverable" in line]
                reasons = fatal or [line for line in lines if _BAD_LINE.search(line)] or ["?"]
                reason = reasons[-1].split(": ", 1)[-1].strip()[:160]
                found.append(f"{name} (exit {process.popen.returncode}: {reason})")
        return found

    def restart_dead(self) -> None:
        for name, process in list(self.processes.items()):
            if not process.alive():
                process.stop()
                self.start(name)

    def bad_log_lines(self) -> Counter[str]:
        """Tracebacks and fatal lines in each process's logs, all its lives."""
        counts: Counter[str] = Counter()
        for path in self.workdir.glob("*.log"):
            name = path.stem.rsplit("-", 1)[0]
            counts[name] += sum(1 for line in _read(path).splitlines() if _BAD_LINE.search(line))
        return counts


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


# --- Database look-ups (psycopg, not the ORM: they must survive a PostgreSQL restart) ----


class Jobs:
    def __init__(self, url: str) -> None:
        self.url = url

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=3, autocommit=True) as conn:
            return list(conn.execute(sql, params).fetchall())

    def statuses(self, ids: list[str]) -> Counter[str]:
        if not ids:
            return Counter()
        rows = self._query(
            "SELECT status, count(*) FROM api_job WHERE id = ANY(%s::uuid[]) GROUP BY status", (ids,)
        )
        return Counter({status: count for status, count in rows})

    def running(self) -> int:
        return int(self._query("SELECT count(*) FROM api_job WHERE status = 'running'")[0][0])

    def billed_twice(self, ids: list[str]) -> int:
        """Jobs with more than one usage record (the schema allows one: a
        OneToOne; counted anyway, so a change to it cannot hide here)."""
        if not ids:
            return 0
        rows = self._query(
            "SELECT count(*) FROM (SELECT job_id FROM billing_usagerecord WHERE job_id = ANY(%s::uuid[])"
            " GROUP BY job_id HAVING count(*) > 1) twice",
            (ids,),
        )
        return int(rows[0][0])

    def billed_unsucceeded(self, ids: list[str]) -> int:
        if not ids:
            return 0
        rows = self._query(
            "SELECT count(*) FROM billing_usagerecord u JOIN api_job j ON j.id = u.job_id"
            " WHERE u.job_id = ANY(%s::uuid[]) AND j.status <> 'succeeded'",
            (ids,),
        )
        return int(rows[0][0])


# --- Scenarios -----------------------------------------------------------------------------


TERMINAL = {"succeeded", "failed", "canceled"}


@dataclass
class Outcome:
    name: str
    submitted: int = 0
    submit_statuses: Counter[str] = field(default_factory=Counter)
    read_statuses: Counter[str] = field(default_factory=Counter)
    unsent: int = 0
    problems_without_retry_after: int = 0
    accepted: int = 0
    finished: Counter[str] = field(default_factory=Counter)
    stuck: int = 0
    billed_twice: int = 0
    billed_unsucceeded: int = 0
    recover_s: float | None = None
    died: list[str] = field(default_factory=list)
    bad_lines: Counter[str] = field(default_factory=Counter)
    skipped: str = ""
    notes: list[str] = field(default_factory=list)


class Suite:
    def __init__(self, platform: Platform, token: str, read_id: str) -> None:
        self.platform = platform
        self.token = token
        self.read_id = read_id
        self.jobs = Jobs(platform.database_url)
        self.outcomes: list[Outcome] = []

    @contextmanager
    def _scenario(self, name: str) -> Iterator[Outcome]:
        """Load from LEAD_S before the fault to TAIL_S after it; then wait for
        the accepted jobs to end and count what happened."""
        _say(f"scenario: {name}")
        outcome = Outcome(name=name)
        bad_before = self.platform.bad_log_lines()
        load = Load(base=self.platform.base, token=self.token, read_id=self.read_id).start()
        try:
            time.sleep(LEAD_S)
            yield outcome
            fault_over = time.monotonic()
            time.sleep(TAIL_S)
        finally:
            load.stop()
        self._measure(outcome, load, fault_over)
        outcome.bad_lines = self.platform.bad_log_lines() - bad_before
        self.outcomes.append(outcome)
        # Only now, measured as it was: a process that died is started again
        # so the next scenario has the whole platform.
        self.platform.restart_dead()

    def _measure(self, outcome: Outcome, load: Load, fault_over: float) -> None:
        submits = [a for a in load.answers if a.kind == "submit"]
        outcome.submitted = len(submits)
        outcome.unsent = load.unsent
        outcome.submit_statuses = Counter(a.status for a in submits)
        outcome.read_statuses = Counter(a.status for a in load.answers if a.kind == "read")
        outcome.problems_without_retry_after = sum(
            1 for a in load.answers if a.status == "503" and not a.retry_after
        )
        ids = [a.job_id for a in submits if a.job_id]
        outcome.accepted = len(ids)
        deadline = fault_over + RECOVERY_CAP_S
        statuses: Counter[str] = Counter()
        while True:
            with suppress(Exception):  # the database may still be coming back
                statuses = self.jobs.statuses(ids)
            done = sum(statuses[s] for s in TERMINAL)
            if done == len(ids):
                outcome.recover_s = time.monotonic() - fault_over
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(1)
        outcome.died = self.platform.dead()
        outcome.finished = Counter({s: statuses[s] for s in TERMINAL if statuses[s]})
        outcome.stuck = len(ids) - sum(outcome.finished.values())
        if outcome.stuck:
            left = ", ".join(f"{s} {n}" for s, n in statuses.items() if s not in TERMINAL)
            outcome.notes.append(f"not ended after {RECOVERY_CAP_S:.0f} s: {left}")
        outcome.billed_twice = self.jobs.billed_twice(ids)
        outcome.billed_unsucceeded = self.jobs.billed_unsucceeded(ids)

    def _wait_running(self, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with suppress(Exception):
                if self.jobs.running() > 0:
                    return True
            time.sleep(0.2)
        return False

    def _kill_worker(self, outcome: Outcome, kills: int) -> None:
        restarts: list[float] = []
        for i in range(kills):
            if not self._wait_running():
                outcome.notes.append(f"kill {i + 1}: no job was running within 15 s; killed anyway")
            # Somewhere in the middle of a call, not always at its start.
            time.sleep(random.uniform(0, PROVIDER_MS / 1000))
            self.platform.kill("worker")
            started = time.monotonic()
            self.platform.start("worker")
            restarts.append(time.monotonic() - started)
        outcome.notes.append(
            f"{kills} SIGKILLs; the worker was ready again after {min(restarts):.1f}-{max(restarts):.1f} s"
        )

    def worker_kills(self) -> None:
        with self._scenario(f"SIGKILL the solve worker mid-job x{KILLS}") as outcome:
            self._kill_worker(outcome, KILLS)

    def redis_outage(self) -> None:
        with self._scenario(f"Redis stopped for {REDIS_OUTAGE_S:.0f} s") as outcome:
            self.platform.redis.stop()
            time.sleep(REDIS_OUTAGE_S)
            self.platform.redis.start()
            outcome.notes.append("Redis restarted with its append-only file (queues kept)")

    def postgres_restart(self) -> None:
        name = f"PostgreSQL restarted ({POSTGRES_OUTAGE_S:.0f} s down)"
        if self.platform.postgres is None:
            self.outcomes.append(Outcome(name=name, skipped="the suite does not own the PostgreSQL server"))
            return
        with self._scenario(name):
            self.platform.postgres.stop()
            time.sleep(POSTGRES_OUTAGE_S)
            self.platform.postgres.start()

    def rabbitmq_kills(self) -> None:
        name = f"RabbitMQ broker: SIGKILL the solve worker mid-job x{AMQP_KILLS}"
        if not PrivateRabbitMQ.available():
            self.outcomes.append(Outcome(name=name, skipped="rabbitmq-server is not installed"))
            return
        _say("starting a RabbitMQ node of the suite's own")
        try:
            self.platform.rabbitmq = PrivateRabbitMQ().start()
        except RuntimeError as exc:
            self.outcomes.append(Outcome(name=name, skipped=str(exc)))
            return
        self.platform.stop_all()
        self.platform.broker_url = self.platform.rabbitmq.url
        self.platform.start_all()
        with self._scenario(name) as outcome:
            self._kill_worker(outcome, AMQP_KILLS)


# --- Running it -----------------------------------------------------------------------------


def _migrate_and_token(platform: Platform) -> str:
    """Migrate the run's database and create a user with an API token (its
    secret is returned), through the ORM as tests/factories.py does."""
    os.environ.update(platform.env())
    import django

    django.setup()
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from accounts.models import ApiToken, User
    from accounts.tokens import display_prefix, generate_token, token_digest

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("faults@example.com", None, email_verified_at=timezone.now())
    raw = generate_token()
    ApiToken.objects.create(user=user, name="faults", prefix=display_prefix(raw), digest=token_digest(raw))
    connections.close_all()  # the suite's own look-ups use psycopg from here on
    return raw


def run(report: Any) -> None:
    report.title = "Fault suite (bench/faults)"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="imagesolve-faults-") as tmp:
        workdir = Path(tmp)
        platform = Platform(workdir)
        try:
            platform.start_servers()
            token = _migrate_and_token(platform)
            _say(f"database: {platform.database_note}; Redis on port {platform.redis.port}")
            platform.start_all()
            suite = Suite(platform, token, _first_job(platform, token))
            for scenario in (getattr(suite, name) for name in SCENARIOS):
                try:
                    scenario()
                except Exception as exc:  # reported, and the next scenario still runs
                    logger.exception("scenario %s failed", scenario.__name__)
                    suite.outcomes.append(
                        Outcome(
                            name=scenario.__name__, skipped=f"the harness failed: {type(exc).__name__}: {exc}"
                        )
                    )
                    platform.restart_dead()
        finally:
            platform.stop_all()
            platform.stop_servers()
            _keep_logs(workdir)
    _write(report, suite, platform, time.monotonic() - started)


def _first_job(platform: Platform, token: str) -> str:
    import httpx

    response = httpx.post(
        f"{platform.base}/api/v1/solve",
        headers={"Authorization": f"Bearer {token}"},
        files={"image": ("problem.png", _png(), "image/png")},
        timeout=REQUEST_TIMEOUT_S,
    )
    response.raise_for_status()
    return str(response.json()["id"])


def _keep_logs(workdir: Path) -> None:
    """The processes' logs, for reading after the run (bench/results is ignored by git)."""
    target = ROOT / "bench" / "results" / "faults"
    with suppress(OSError):
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("*.log"):
            old.unlink()
        for path in workdir.glob("*.log"):
            (target / path.name).write_bytes(path.read_bytes())


def _counts(counter: Counter[str], skip: tuple[str, ...] = ()) -> str:
    rest = {k: v for k, v in counter.items() if k not in skip}
    return ", ".join(f"{k}x{v}" for k, v in sorted(rest.items())) or "0"


def _write(report: Any, suite: Suite, platform: Platform, wall_s: float) -> None:
    report.line(
        f"The platform on {platform.database_note}, a Redis of its own and the mock provider at "
        f"{PROVIDER_MS} ms; a steady {SUBMIT_RATE:g} submissions/s and {READ_RATE:g} reads/s of one job, "
        f'from {LEAD_S:.0f} s before each fault to {TAIL_S:.0f} s after it. "Recover" is the time from '
        f"the end of the fault until every job answered 202 in the scenario had ended (cap "
        f"{RECOVERY_CAP_S:.0f} s). Written by `make faults`; the run took {wall_s:.0f} s."
    )
    report.line()
    rows: list[list[object]] = []
    for o in suite.outcomes:
        if o.skipped:
            rows.append([o.name, *["-"] * 10, f"skipped: {o.skipped}"])
            continue
        other = _counts(o.submit_statuses, skip=("202", "503"))
        read_other = _counts(o.read_statuses, skip=("200", "503"))
        reads = f"{o.read_statuses['200']}/{o.read_statuses['503']}/{read_other}"
        recover = f"{o.recover_s:.0f}" if o.recover_s is not None else f"> {RECOVERY_CAP_S:.0f}"
        rows.append(
            [
                o.name,
                o.submitted,
                o.submit_statuses["202"],
                o.submit_statuses["503"],
                other,
                reads,
                o.finished["succeeded"],
                o.stuck,
                o.billed_twice,
                recover,
                "; ".join(o.died) or "0",
            ]
        )
    report.table(
        [
            "scenario",
            "submitted",
            "202",
            "503",
            "other answers",
            "reads 200/503/other",
            "succeeded",
            "stuck after recovery",
            "billed twice",
            "seconds to recover",
            "processes that died",
        ],
        rows,
    )
    for o in suite.outcomes:
        if o.skipped:
            continue
        notes = list(o.notes)
        failed = {k: v for k, v in o.finished.items() if k != "succeeded"}
        if failed:
            notes.append("ended otherwise: " + _counts(Counter(failed)))
        if o.unsent:
            notes.append(f"{o.unsent} requests not sent ({MAX_IN_FLIGHT} already in flight)")
        if o.problems_without_retry_after:
            notes.append(f"{o.problems_without_retry_after} answers 503 without Retry-After")
        if o.billed_unsucceeded:
            notes.append(f"{o.billed_unsucceeded} jobs billed but not succeeded")
        if o.bad_lines:
            notes.append("tracebacks/fatal log lines: " + _counts(o.bad_lines))
        report.line(f"- {o.name}: " + ("; ".join(notes) or "nothing else to note") + ".")
    report.line()
    report.line("The processes' logs of the last run are in bench/results/faults/ (not committed).")
