"""The web tier against its floor, in one run: the product's endpoints and a
minimal DRF project (bench/web_floor: a SHA-256 token lookup, one INSERT, one
Celery publish; a token lookup and a tiny JSON for the read) served side by
side by gunicorn with the same settings, driven in turn by wrk on loopback.

For each endpoint: req/s, p50 and p99 (the median of BENCH_WEB_RUNS runs),
the ratio to its floor, and the SQL queries and Redis round trips of one
request (counted in-process by bench/web_probe.py). Threaded and gevent
server settings are measured too (submit and GET of one job), and bin/web
itself holding WAITERS `?wait` clients, for docs/operations.md.

Needs wrk (Debian's package; installed with apt-get when run as root, else
skipped with the reason) and PostgreSQL: BENCH_WEB_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/imagesolve_bench_web; that database and
<name>_floor are dropped and re-created on every run. Redis is a
redis-server of the bench's own on a free port. Throttles and the in-flight
cap are raised so they do not refuse."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.postgres import PeakConnections, recreate_database, with_application_name
from bench.procfile import procfile_settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/imagesolve_bench_web"
DURATION = os.environ.get("BENCH_WEB_DURATION", "4s")
RUNS = int(os.environ.get("BENCH_WEB_RUNS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_WEB_CONNECTIONS", "32"))
# ?wait: this many clients, each on a job of its own, across WAIT_ACCOUNTS accounts.
WAITERS = int(os.environ.get("BENCH_WEB_WAITERS", "1000"))
WAIT_ACCOUNTS = 50
# BENCH_WEB_ONLY=wait runs the ?wait stage alone (a minute or so);
# BENCH_WEB_ONLY=list the job list against its floor alone (4 sync workers);
# BENCH_WEB_ONLY=gevent bin/web's settings alone (its gevent row, then ?wait).
ONLY = os.environ.get("BENCH_WEB_ONLY", "")
LIST = "GET /api/v1/jobs"
READY_TIMEOUT_S = 30.0
# The servers' connections, told apart from the bench's own in pg_stat_activity.
PRODUCT_APPLICATION_NAME = "imagesolve-bench-web"
FLOOR_APPLICATION_NAME = "imagesolve-bench-web-floor"

# (label, gunicorn arguments), the same for the product and the floor: 4 sync
# workers (the reference comparison, every endpoint), then the settings
# bin/web can choose between (submit and GET of one job): threads, and the
# gevent workers it runs.
SERVERS: list[tuple[str, list[str]]] = [
    ("gunicorn -w 4 (sync)", ["--workers", "4", "--worker-class", "sync"]),
    ("gunicorn -w 4 gthread --threads 4", ["--workers", "4", "--worker-class", "gthread", "--threads", "4"]),
    ("gunicorn -w 4 gthread --threads 8", ["--workers", "4", "--worker-class", "gthread", "--threads", "8"]),
    ("gunicorn -w 4 gevent (bin/web)", ["--workers", "4", "--worker-class", "gevent"]),
]
# Not measured: bin/web's former 2 x 32 threads. Every thread keeps its own
# database connection (CONN_MAX_AGE), so the product and the floor side by
# side would hold up to 128, past PostgreSQL's default max_connections (100):
# an earlier run of this bench answered 500s, then could not connect at all.


@dataclass
class Endpoint:
    name: str
    method: str
    product_path: str
    floor_name: str  # the floor endpoint it is compared with
    content_type: str = ""
    body: bytes = b""
    servers: int = len(SERVERS)  # measured under the first N server settings


@dataclass
class _WaitOutcome:
    answered: dict[str, float] = field(default_factory=dict)  # job id -> when its answer came
    ended: dict[str, float] = field(default_factory=dict)  # job id -> its completed_at
    waiting: int = 0
    settled_s: float = 0.0  # from the first connection until all waited
    connection_errors: int = 0
    non_200: int = 0
    redis_clients: int = 0
    end_s: float = 0.0  # from the first job's end to the last one's
    during: Result = field(default_factory=lambda: Result(0.0, 0.0, 0.0, 0, 0))


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def run(report: Any) -> None:
    report.title = "Web tier against its floor (bench_web)"
    wrk = _wrk()
    if wrk is None:
        return report.skip("wrk is not installed and could not be (apt-get install -y wrk as root)")
    url = os.environ.get("BENCH_WEB_DATABASE_URL") or DEFAULT_URL
    floor_url = url.split("?")[0] + "_floor"
    try:
        pg_version = recreate_database(url)
        recreate_database(floor_url)
    except Exception as exc:  # any connection problem means "no PostgreSQL here"
        return report.skip(f"PostgreSQL unavailable ({type(exc).__name__}: {exc})")
    sys.path.insert(0, str(ROOT))
    from tests.private_servers import PrivateRedis

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "redis").mkdir()
        redis_server = PrivateRedis(tmp / "redis").start()
        try:
            bench = _Bench(wrk=wrk, tmp=tmp, db_url=url, floor_db_url=floor_url, redis_url=redis_server.url)
            bench.prepare()
            if ONLY != "wait":
                bench.measure()
            if ONLY != "list":
                bench.measure_waiters()
        finally:
            redis_server.stop()
    bench.write(report, pg_version=pg_version)


def _wrk() -> str | None:
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("installing wrk (apt-get install -y wrk)", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
    return shutil.which("wrk")


def _png() -> bytes:
    """A PNG of a short equation, about 1.2 KB."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (300, 80), "white")
    draw = ImageDraw.Draw(image)
    draw.text((12, 20), "Solve: 3x + 7 = 22", fill="black")
    draw.text((12, 44), "and x^2 - 5x + 6 = 0", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _multipart(png: bytes, prompt: str) -> tuple[str, bytes]:
    boundary = "benchwebboundary7MA4YWxkTrZu0gW"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="prompt"\r\n\r\n'
            f"{prompt}\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="image"; filename="problem.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Bench:
    def __init__(self, *, wrk: str, tmp: Path, db_url: str, floor_db_url: str, redis_url: str) -> None:
        self.wrk = wrk
        self.tmp = tmp
        self.db_url = db_url
        self.floor_db_url = floor_db_url
        self.redis_url = redis_url
        venv_bin = str(Path(sys.executable).parent)
        common = {"PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
        self.product_env = {
            **common,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnop",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,testserver",
            "DATABASE_URL": db_url,
            "DATABASE_NAME_OVERRIDE": "",
            "REDIS_URL": redis_url,
            "REDIS_CACHE_URL": redis_url.rsplit("/", 1)[0] + "/1",
            "OPENAI_API_KEY": "",
            "SPACES_BUCKET_NAME": "",
            "MEDIA_ROOT": str(tmp / "media"),
            "STATIC_ROOT": str(tmp / "static"),
            "THROTTLE_SUBMIT_RATE": "1000000/s",
            "THROTTLE_READ_RATE": "1000000/s",
            "THROTTLE_ACCOUNT_RATE": "1000000/s",
            "JOB_MAX_IN_FLIGHT": "1000000",
        }
        self.floor_env = {
            **common,
            "DJANGO_SETTINGS_MODULE": "bench.web_floor.settings",
            "FLOOR_DATABASE_URL": floor_db_url,
            "FLOOR_BROKER_URL": redis_url,
        }
        self.png = _png()
        self.endpoints: list[Endpoint] = []
        self.floor_endpoints: list[Endpoint] = []
        self.counts: dict[str, dict[str, int]] = {}
        self.floor_counts: dict[str, dict[str, int]] = {}
        # results[server label][endpoint name] = (product, floor) per run
        self.results: dict[str, dict[str, list[tuple[Result, Result]]]] = {}
        self.failures: dict[str, str] = {}
        self.wait_result: dict[str, float] = {}
        # Peak PostgreSQL connections of the product's and the floor's server, per server setting.
        self.peak_connections: dict[str, tuple[int, int]] = {}
        self.started = time.monotonic()

    # --- setup --------------------------------------------------------------------

    def _python(self, args: list[str], env: dict[str, str], stdin: str = "") -> str:
        proc = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, **env},
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
        return proc.stdout

    def prepare(self) -> None:
        self._python(["manage.py", "migrate", "--verbosity", "0"], self.product_env)
        # The floor app has no migrations: auth's tables first, then its own.
        self._python(["-m", "django", "migrate", "--verbosity", "0"], self.floor_env)
        self._python(["-m", "django", "migrate", "--run-syncdb", "--verbosity", "0"], self.floor_env)
        png_b64 = base64.b64encode(self.png).decode()
        seeded = json.loads(
            self._python(["-m", "bench.web_probe", "seed-product"], self.product_env, png_b64)
        )
        floor = json.loads(self._python(["-m", "bench.web_probe", "seed-floor"], self.floor_env))
        self.product_auth = f"Bearer {seeded['token']}"
        self.floor_auth = f"Bearer {floor['token']}"
        prompt = "Solve for x and show the steps."
        json_body = json.dumps({"image": png_b64, "prompt": prompt}).encode()
        multipart_type, multipart_body = _multipart(self.png, prompt)
        self.floor_endpoints = [
            Endpoint("floor submit", "POST", "/solve", "", "application/json", json_body),
            Endpoint("floor GET", "GET", "/me", ""),
        ]
        self.endpoints = [
            Endpoint(
                "POST /api/v1/solve (JSON base64)",
                "POST",
                "/api/v1/solve",
                "floor submit",
                "application/json",
                json_body,
            ),
            Endpoint(
                "POST /api/v1/solve (multipart)",
                "POST",
                "/api/v1/solve",
                "floor submit",
                multipart_type,
                multipart_body,
                servers=1,
            ),
            Endpoint("GET /api/v1/jobs/{id}", "GET", f"/api/v1/jobs/{seeded['job_id']}", "floor GET"),
            Endpoint(LIST, "GET", "/api/v1/jobs", "floor GET", servers=1),
            Endpoint("GET /api/v1/accounts/me", "GET", "/api/v1/accounts/me", "floor GET", servers=1),
        ]
        self.counts = self._count(self.endpoints, self.product_auth, self.product_env)
        self.floor_counts = self._count(self.floor_endpoints, self.floor_auth, self.floor_env)

    def _count(self, endpoints: list[Endpoint], auth: str, env: dict[str, str]) -> dict[str, dict[str, int]]:
        spec = [
            {
                "name": e.name,
                "method": e.method,
                "path": e.product_path,
                "content_type": e.content_type,
                "body_b64": base64.b64encode(e.body).decode(),
                "authorization": auth,
            }
            for e in endpoints
        ]
        return dict(json.loads(self._python(["-m", "bench.web_probe", "count"], env, json.dumps(spec))))

    # --- servers and load -----------------------------------------------------------

    def _gunicorn(
        self, wsgi: str, args: list[str], env: dict[str, str], name: str
    ) -> tuple[subprocess.Popen[bytes], int]:
        """gunicorn serving `wsgi` with `args`; with wsgi "bin/web", bin/web
        itself (its own settings, on a free port)."""
        port = _free_port()
        log = (self.tmp / f"{name}.log").open("wb")
        if wsgi == "bin/web":
            command = ["bash", str(ROOT / "bin" / "web")]
            env = {**env, "BIND": "127.0.0.1", "PORT": str(port)}
        else:
            command = [
                str(Path(sys.executable).parent / "gunicorn"), wsgi, "--bind", f"127.0.0.1:{port}",
                "--timeout", "60", "--no-control-socket", *args,
            ]  # fmt: skip
        proc = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer: it serves
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    _stop(proc)
                    tail = (self.tmp / f"{name}.log").read_text()[-2000:]
                    raise RuntimeError(f"{name} did not start: {tail}") from None
                time.sleep(0.2)
        return proc, port

    def _script(self, endpoint: Endpoint, auth: str) -> Path:
        path = self.tmp / f"wrk-{abs(hash((endpoint.name, auth)))}.lua"
        lines = [f'wrk.method = "{endpoint.method}"', f'wrk.headers["Authorization"] = "{auth}"']
        if endpoint.body:
            body_path = path.with_suffix(".body")
            body_path.write_bytes(endpoint.body)
            lines += [
                f'local f = io.open("{body_path}", "rb")',
                'wrk.body = f:read("*a")',
                "f:close()",
                f'wrk.headers["Content-Type"] = "{endpoint.content_type}"',
            ]
        path.write_text("\n".join(lines) + "\n")
        return path

    def _end_jobs(self) -> None:
        """No worker runs here: without this, the bench user's in-flight jobs
        would pile up by thousands, where the in-flight cap keeps a real
        account at JOB_MAX_IN_FLIGHT (20). Each submit run starts from none
        in flight. (The cap reads one row however many there are; until
        4aa9dee it counted them, which cost more with every one.)"""
        import psycopg

        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE api_job SET status = 'canceled', completed_at = now() "
                "WHERE status IN ('queued', 'running')"
            )

    def _wrk_run(self, port: int, endpoint: Endpoint, auth: str, duration: str = DURATION) -> Result:
        command = [
            self.wrk, "-t2", f"-c{CONNECTIONS}", f"-d{duration}", "--timeout", "10s", "--latency",
            "-s", str(self._script(endpoint, auth)), f"http://127.0.0.1:{port}{endpoint.product_path}",
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        return _parse_wrk(out)

    def measure(self) -> None:
        for index, (label, args) in enumerate(SERVERS):
            try:
                self._measure_one(index, label, args)
            except Exception as exc:  # reported; the other settings still run
                self.failures[label] = f"{type(exc).__name__}: {str(exc)[:300]}"
                print(f"  {label} failed: {self.failures[label]}", flush=True)

    def _measure_one(self, index: int, label: str, args: list[str]) -> None:
        wanted = [e for e in self.endpoints if e.servers > index and (ONLY != "list" or e.name == LIST)]
        if not wanted or (ONLY == "gevent" and "gevent" not in args):
            return
        floors = {e.name: e for e in self.floor_endpoints}
        product_env = self._server_env(self.product_env, bin_web="gevent" in args)
        product, product_port = self._gunicorn("config.wsgi:application", args, product_env, "product")
        floor_env = {
            **self.floor_env,
            "FLOOR_DATABASE_POOL": "1" if "gevent" in args else "0",
            "FLOOR_DATABASE_URL": with_application_name(self.floor_db_url, FLOOR_APPLICATION_NAME),
        }
        floor, floor_port = self._gunicorn("bench.web_floor.wsgi:application", args, floor_env, "floor")
        product_connections = PeakConnections(self.db_url, PRODUCT_APPLICATION_NAME)
        floor_connections = PeakConnections(self.floor_db_url, FLOOR_APPLICATION_NAME)
        try:
            with product_connections, floor_connections:
                # Each worker imports and connects on its first requests: not measured.
                for endpoint in wanted:
                    self._wrk_run(floor_port, floors[endpoint.floor_name], self.floor_auth, duration="1s")
                    self._wrk_run(product_port, endpoint, self.product_auth, duration="1s")
                pairs = self.results.setdefault(label, {})
                for run_no in range(RUNS):
                    for endpoint in wanted:
                        # The floor right before the product, each time: a
                        # burst of outside load falls on both sides of a pair.
                        if endpoint.method == "POST":
                            self._end_jobs()
                        floor_result = self._wrk_run(floor_port, floors[endpoint.floor_name], self.floor_auth)
                        product_result = self._wrk_run(product_port, endpoint, self.product_auth)
                        pairs.setdefault(endpoint.name, []).append((product_result, floor_result))
                        print(
                            f"  {label} #{run_no + 1} {endpoint.name}: {product_result.rps:.0f} req/s, "
                            f"floor {floor_result.rps:.0f}",
                            flush=True,
                        )
        finally:
            self.peak_connections[label] = (product_connections.peak, floor_connections.peak)
            _stop(product)
            _stop(floor)

    def _server_env(self, env: dict[str, str], *, bin_web: bool) -> dict[str, str]:
        """The product's environment for a server it measures: its
        connections carry the name the bench counts; for bin/web's settings,
        the Procfile's for the web (its database pool) unless the
        environment sets them."""
        procfile = procfile_settings("web") if bin_web else {}
        return {
            **{k: v for k, v in procfile.items() if k not in os.environ},
            **env,
            "DATABASE_URL": with_application_name(self.db_url, PRODUCT_APPLICATION_NAME),
        }

    # --- ?wait ---------------------------------------------------------------------------

    def measure_waiters(self) -> None:
        """WAITERS clients hold GET /api/v1/jobs/{id}?wait=30 on jobs of their
        own against bin/web as it is (its worker class, processes, and the
        product's JOB_MAX_CONCURRENT_WAITS); submit throughput is measured
        before they connect and once they all wait; then every job is ended
        and each client's answer timed from its job's end."""
        import asyncio

        per_account = max(1, WAITERS // WAIT_ACCOUNTS)
        server_env = self._server_env(self.product_env, bin_web=True)
        server, port = self._gunicorn("bin/web", [], server_env, "product-wait")
        submit = self.endpoints[0]
        connections = PeakConnections(self.db_url, PRODUCT_APPLICATION_NAME)
        try:
            self._wrk_run(port, submit, self.product_auth, duration="1s")
            self._end_jobs()
            alone = self._wrk_run(port, submit, self.product_auth)
            # Seeded after _end_jobs, which would end them.
            pairs = json.loads(
                self._python(
                    ["-m", "bench.web_probe", "seed-waiters", str(WAIT_ACCOUNTS), str(per_account)],
                    self.product_env,
                )
            )
            with connections:
                outcome = asyncio.run(self._waiters(port, pairs, submit))
        finally:
            _stop(server)
        late = [outcome.answered[j] - outcome.ended[j] for j in outcome.ended if j in outcome.answered]
        self.wait_result = {
            "clients": len(pairs),
            "answered": len(outcome.answered),
            "waiting": outcome.waiting,
            "settled_s": outcome.settled_s,
            "within_100ms": sum(1 for d in late if d <= 0.1),
            "p50_ms": _median(late) * 1000 if late else float("nan"),
            "p99_ms": _percentile(late, 0.99) * 1000 if late else float("nan"),
            "max_ms": max(late) * 1000 if late else float("nan"),
            "connection_errors": outcome.connection_errors,
            "non_200": outcome.non_200,
            "redis_clients": outcome.redis_clients,
            "end_s": outcome.end_s,
            "submit_alone": alone.rps,
            "submit_during": outcome.during.rps,
            "submit_during_errors": outcome.during.non_2xx + outcome.during.errors,
            "peak_connections": connections.peak,
        }
        print(f"  ?wait: {self.wait_result}", flush=True)

    def _waiting_count(self) -> int:
        """Waits holding a place (api/notifications.py's per-account counters)."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            keys = list(client.scan_iter("imagesolve:job-waits:*", count=1000))
            return sum(int(v or 0) for v in client.mget(keys)) if keys else 0
        finally:
            client.close()

    def _redis_clients(self) -> int:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            return int(client.info("clients")["connected_clients"])
        finally:
            client.close()

    async def _waiters(self, port: int, pairs: list[list[str]], submit: Endpoint) -> _WaitOutcome:
        import asyncio

        outcome = _WaitOutcome()

        async def wait_one(token: str, job_id: str) -> None:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(
                    f"GET /api/v1/jobs/{job_id}?wait=30 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode()
                )
                await writer.drain()
                status = await reader.readline()
                await reader.read()
                if b" 200 " in status:
                    outcome.answered[job_id] = time.time()
                else:
                    outcome.non_200 += 1
                writer.close()
            except OSError:
                outcome.connection_errors += 1

        started = time.monotonic()
        tasks = [asyncio.ensure_future(wait_one(token, job_id)) for token, job_id in pairs]
        # Until every client waits (its request holds a place), at most 30 s:
        # submits are measured against waiters that wait, not ones connecting.
        while time.monotonic() - started < 30:
            await asyncio.sleep(0.25)
            outcome.waiting = await asyncio.to_thread(self._waiting_count)
            if outcome.waiting >= len(pairs) or all(t.done() for t in tasks):
                break
        outcome.settled_s = time.monotonic() - started
        outcome.redis_clients = await asyncio.to_thread(self._redis_clients)
        outcome.during = await asyncio.to_thread(self._wrk_run, port, submit, self.product_auth)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.web_probe", "end-jobs",
            cwd=ROOT, env={**os.environ, **self.product_env},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate(json.dumps([job_id for _, job_id in pairs]).encode())
        outcome.ended = {k: float(v) for k, v in json.loads(out).items()}
        if outcome.ended:
            outcome.end_s = max(outcome.ended.values()) - min(outcome.ended.values())
        await asyncio.wait(tasks, timeout=40)
        return outcome

    # --- report -------------------------------------------------------------------------

    def write(self, report: Any, *, pg_version: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        report.line(f"_Run on {stamp} UTC; {time.monotonic() - self.started:.0f} s in all._")
        report.line()
        report.line(
            f"wrk -t2 -c{CONNECTIONS} -d{DURATION} on loopback; for each endpoint its floor is measured "
            f"right before it, {RUNS} times, and the figures are medians (the ratio is the median of the "
            "per-pair ratios). The machine is shared with other work: read the ratios, not the absolute "
            f"figures. PostgreSQL {pg_version} on 127.0.0.1 (the product and the floor each in a database "
            "of their own), a redis-server of the bench's own, DEBUG off, throttles raised so they never "
            "refuse. The floor (bench/web_floor) is a minimal DRF project: submit = SHA-256 token lookup + "
            "one INSERT + `.delay()`; GET = the token lookup and a two-field JSON. Queries and Redis round "
            "trips are of one request, counted in-process (bench/web_probe.py); the floor's are in "
            "brackets."
        )
        report.line()
        if self.wait_result:
            w = self.wait_result
            ratio = w["submit_during"] / w["submit_alone"] if w["submit_alone"] else float("nan")
            report.line(
                f"**?wait, bin/web as it runs (4 gevent processes)**: {w['clients']:.0f} clients, "
                "each holding `GET /api/v1/jobs/{id}?wait=30` on a job of its own "
                f"({WAIT_ACCOUNTS} accounts), connecting at once; all {w['waiting']:.0f} waited "
                f"{w['settled_s']:.1f} s after the first connected. Redis connections meanwhile: "
                f"{w['redis_clients']:.0f} (all clients of the bench's Redis). Then every job canceled, one "
                f"after the other ({w['end_s']:.1f} s from the first to the last). Answered: "
                f"{w['answered']:.0f}; within 100 ms of their job's end: {w['within_100ms']:.0f}; from the "
                f"job's end, p50 {w['p50_ms']:.0f} ms, p99 {w['p99_ms']:.0f} ms, max {w['max_ms']:.0f} ms; "
                f"connection errors {w['connection_errors']:.0f}, non-200 answers {w['non_200']:.0f}. "
                f"Submits from another client: {w['submit_alone']:.0f} req/s before the waiters, "
                f"{w['submit_during']:.0f} req/s while they all wait ({ratio:.2f} times; "
                f"{w['submit_during_errors']:.0f} errors). Peak PostgreSQL connections of bin/web "
                f"meanwhile: {w['peak_connections']:.0f}."
            )
            report.line()
        for label, failure in self.failures.items():
            report.line(f"**{label}**: failed ({failure}); any rows below are from before the failure.")
            report.line()
        for label, pairs in self.results.items():
            report.line(f"**{label}**")
            report.line()
            rows: list[list[object]] = []
            for endpoint in self.endpoints:
                if endpoint.name not in pairs:
                    continue
                runs = pairs[endpoint.name]
                product = [p for p, _ in runs]
                floor = [f for _, f in runs]
                counts = self.counts.get(endpoint.name, {})
                floor_counts = self.floor_counts.get(endpoint.floor_name, {})
                rows.append(
                    [
                        endpoint.name,
                        f"{_median(r.rps for r in product):,.0f}",
                        f"{_median(r.rps for r in floor):,.0f}",
                        f"**{_median(p.rps / f.rps for p, f in runs if f.rps):.2f}**",
                        f"{_median(r.p50_ms for r in product):.0f} / {_median(r.p50_ms for r in floor):.0f}",
                        f"{_median(r.p99_ms for r in product):.0f} / {_median(r.p99_ms for r in floor):.0f}",
                        f"{_median(p.p99_ms / f.p99_ms for p, f in runs if f.p99_ms):.2f}",
                        f"{counts.get('queries', '?')} ({floor_counts.get('queries', '?')})",
                        f"{counts.get('redis', '?')} ({floor_counts.get('redis', '?')})",
                        f"{sum(r.non_2xx for r in product)} / {sum(r.errors for r in product)}",
                    ]
                )
            if label in self.peak_connections:
                product_peak, floor_peak = self.peak_connections[label]
                report.line(
                    f"Peak PostgreSQL connections of the server while measured: {product_peak} "
                    f"(the floor's: {floor_peak})."
                )
                report.line()
            report.table(
                ["endpoint", "req/s", "floor req/s", "ratio", "p50 ms (floor)", "p99 ms (floor)",
                 "p99 / floor's", "SQL queries", "Redis round trips", "non-2xx / socket errors"],
                rows,
            )  # fmt: skip


def _median(values: Any) -> float:
    items = list(values)
    return statistics.median(items) if items else float("nan")


def _percentile(values: list[float], fraction: float) -> float:
    items = sorted(values)
    return items[min(len(items) - 1, int(fraction * len(items)))] if items else float("nan")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _parse_wrk(out: str) -> Result:
    def latency(percent: str) -> float:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Result(
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
