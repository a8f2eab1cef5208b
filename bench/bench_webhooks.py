"""Webhook delivery throughput of one webhooks worker, against a bare Celery
task that makes one plain HTTP POST, measured in the same run.

Deliveries are recorded first (rows bulk-inserted, one `deliver_webhook_task`
message each on the `webhooks` queue, as a job's terminal event publishes
it), then ONE `bin/worker` as the Procfile's `webhooks:` line runs it (its
pool and WORKER_CONCURRENCY) drains them, posting to a receiver on 127.0.0.1:
a minimal asyncio HTTP/1.1 server in a process of its own (keep-alive, answers
200 at once), so its CPU is not the worker's.

- deliveries/s = succeeded deliveries / (first attempt's start to last
  attempt's end, from the attempts' own timestamps);
- worker CPU per delivery: user + system time of the worker's processes
  (/proc/<pid>/stat), from the moment it starts consuming to the last one;
- A/B: the same drain with the sender as of BEFORE (a new event loop and
  httpx client per attempt, the file taken from git), patched in at worker
  start, back to back with the current one;
- the floor: a bare Celery app outside the project, same broker, pool and
  concurrency, whose task makes one POST of the same body with http.client
  (a new connection each time, no database).

Needs PostgreSQL: BENCH_WEBHOOKS_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/bench_webhooks_<pid> (created for the run,
dropped after). Redis is the bench's own redis-server, stopped by PID."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.bench_worker import (
    FLOOR_APP,
    Bench,
    Process,
    _floor_progress,
    _free_port,
    _hostnames,
    _start_redis,
)
from bench.postgres import database_for_bench, drop_database
from bench.procfile import procfile_settings

ROOT = Path(__file__).resolve().parent.parent
# The sender before it kept a loop and clients per thread.
BEFORE = "89c9c230f8e5e1c05c38b0246abd3f14c4997071"
SCALE = float(os.environ.get("BENCH_WEBHOOKS_SCALE", "1"))
DELIVERIES = int(800 * SCALE) or 1
# A drain stops waiting after this long.
DRAIN_TIMEOUT_S = 120.0
FLOOR_QUEUE = "bench-floor"

RECEIVER = r'''
"""Answers every request 200 "ok" at once, keeping the connection open."""
import asyncio
import sys

REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class Receiver(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(REPLY)


async def main(port):
    server = await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
'''

FLOOR_POST = r"""

import http.client
import json as _json

_BODY = os.environ.get("FLOOR_BODY", "{}").encode()


@app.task(name="floor.post", ignore_result=True)
def post(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("POST", "/hook", body=_BODY, headers={"Content-Type": "application/json"})
        connection.getresponse().read(2048)
    finally:
        connection.close()
"""

# Patches the sender as of BEFORE into a worker (PYTHONPATH), once it starts.
BEFORE_PATCH = """
from celery import signals


@signals.worker_init.connect
def _use_the_sender_before(**_):
    import bench_sender_before
    from api.webhooks import sender

    sender.post = bench_sender_before.post
    print("bench: the sender before is patched in", flush=True)
"""


def run(report: Any) -> None:
    report.title = "Webhook delivery throughput against a bare POST task (bench_webhooks)"
    url = os.environ.get("BENCH_WEBHOOKS_DATABASE_URL") or (
        f"postgres://postgres@127.0.0.1:5432/bench_webhooks_{os.getpid()}"
    )
    redis_server = shutil.which("redis-server")
    if not redis_server:
        report.skip("needs redis-server on PATH (apt-get install redis-server)")
        return
    pg_version = database_for_bench(report, url, "BENCH_WEBHOOKS_DATABASE_URL")
    if pg_version is None:
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp_name:
            tmp = Path(tmp_name)
            redis = _start_redis(redis_server, tmp)
            receiver: Process | None = None
            try:
                port = _free_port()
                (tmp / "receiver.py").write_text(RECEIVER)
                receiver = Process(
                    [sys.executable, str(tmp / "receiver.py"), str(port)], dict(os.environ), tmp / "rx.log"
                )
                bench = WebhooksBench(url=url, redis_url=redis.url, tmp=tmp, port=port)
                bench.setup()
                bench.measure()
            finally:
                if receiver is not None:
                    receiver.stop()
                redis.stop()
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(url)
    bench.write(report, pg_version=pg_version)


@dataclass
class Drain:
    what: str
    deliveries: int
    done: int = 0
    span_s: float = 0.0
    cpu_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.span_s if self.span_s else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s / self.done * 1000 if self.done else float("nan")


class WebhooksBench(Bench):
    """bench_worker's Bench (environment, floor app, start of consuming),
    pointed at the webhooks worker."""

    PROGRAM = "webhooks"

    def __init__(self, *, url: str, redis_url: str, tmp: Path, port: int) -> None:
        super().__init__(url=url, redis_url=redis_url, tmp=tmp)
        self.port = port
        self.procfile = procfile_settings("webhooks")
        # One process: per-process figures (the webhooks worker runs one).
        self.env.update(WEBHOOK_ALLOW_PRIVATE_NETWORKS="1", WORKER_PROCESSES="1")
        self.floor_env.update(WORKER_PROCESSES="1")
        self.concurrency = int(self.procfile.get("WORKER_CONCURRENCY", "16"))
        self.user_id = 0
        self.job_id = ""
        self.body = ""
        self.results: list[Drain] = []
        self.floor = Drain("floor", DELIVERIES)
        self.before_source = _source_before()

    def setup(self) -> None:
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.utils import timezone

        from accounts.models import User
        from api.models import Job
        from api.representation import job_representation

        call_command("migrate", verbosity=0)
        user = User.objects.create_user("bench-webhooks@example.com", None, email_verified_at=timezone.now())
        job = Job.objects.create(
            user=user,
            model="gpt-4o-mini",
            status=Job.Status.SUCCEEDED,
            result={"answer": "x = 5", "explanation": "3x + 7 = 22, so 3x = 15."},
            request_id="bench-webhooks",
            completed_at=timezone.now(),
        )
        payload = {"type": "job.succeeded", "timestamp": timezone.now().isoformat()}
        self.body = json.dumps({**payload, "data": job_representation(job)}, default=str)
        self.user_id, self.job_id = user.pk, str(job.pk)
        self.floor_env["FLOOR_BODY"] = self.body
        (self.tmp / "floor").mkdir()
        (self.tmp / "floor" / "floorapp.py").write_text(textwrap.dedent(FLOOR_APP) + FLOOR_POST)
        if self.before_source:
            (self.tmp / "before").mkdir()
            (self.tmp / "before" / "bench_sender_before.py").write_text(self.before_source)
            (self.tmp / "before" / "sitecustomize.py").write_text(BEFORE_PATCH)

    def measure(self) -> None:
        # Back to back, twice, so drift of a shared machine shows.
        variants = ["before", "after"] if self.before_source else ["after"]
        for _ in range(2):
            for variant in variants:
                self.results.append(self._drain_webhooks(variant))
        self._floor_drain()

    def _queue(self, count: int) -> list[uuid.UUID]:
        from django.conf import settings
        from django.utils import timezone

        from api.webhooks.models import WebhookDelivery
        from workers.celery import app

        now = timezone.now()
        lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_S * 10)
        rows = []
        for _ in range(count):
            pk = uuid.uuid4()
            rows.append(
                WebhookDelivery(
                    id=pk,
                    webhook_id=f"msg_{pk.hex}",
                    user_id=self.user_id,
                    job_id=self.job_id,
                    event_type="job.succeeded",
                    url=f"http://127.0.0.1:{self.port}/hook",
                    body=self.body,
                    request_id="bench-webhooks",
                    next_attempt_at=now,
                    lease_expires_at=lease,  # claimed for the publish below
                    created_at=now,
                )
            )
        WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
        with app.producer_or_acquire() as producer:
            for row in rows:
                app.send_task(
                    "workers.tasks.webhooks.deliver_webhook_task",
                    args=[str(row.pk), 1],
                    kwargs={"manual": False},
                    producer=producer,
                )
        return [row.pk for row in rows]

    def _drain_webhooks(self, variant: str) -> Drain:
        from django.db.models import Max, Min

        from api.webhooks.models import WebhookAttempt, WebhookDelivery
        from workers.celery import app

        drain = Drain(variant, DELIVERIES)
        print(f"  {variant}: {drain.deliveries} deliveries", flush=True)
        ids = self._queue(drain.deliveries)
        name = f"benchwh{uuid.uuid4().hex[:6]}"
        env = {**self.env, **self.procfile, "WORKER_NAME": name, "WORKER_QUEUES": "bench-idle"}
        env["WORKER_PROCESSES"] = "1"
        if variant == "before":
            env["PYTHONPATH"] = str(self.tmp / "before")
        worker = Process([str(ROOT / "bin" / "worker")], env, self.tmp / f"{name}.log")
        try:
            cpu_before = self._start_consuming(app, worker, _hostnames(name, 1), "webhooks")
            deliveries = WebhookDelivery.objects.filter(pk__in=ids)
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while deliveries.filter(completed_at__isnull=True).exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            drain.cpu_s = worker.cpu_seconds() - cpu_before
        finally:
            worker.stop()
        if variant == "before" and "the sender before is patched in" not in worker.tail(10_000):
            raise RuntimeError(f"the sender before was not patched in:\n{worker.tail()}")
        drain.done = deliveries.filter(status=WebhookDelivery.Status.SUCCEEDED).count()
        if drain.done < drain.deliveries:
            drain.notes.append(f"{drain.deliveries - drain.done} did not succeed:\n{worker.tail(10)}")
        span = WebhookAttempt.objects.filter(delivery_id__in=ids).aggregate(
            first=Min("started_at"), last=Max("finished_at")
        )
        if span["first"] and span["last"]:
            drain.span_s = (span["last"] - span["first"]).total_seconds()
        return drain

    def _floor_drain(self) -> None:
        from celery import Celery

        print(f"  floor: {DELIVERIES} bare POST tasks", flush=True)
        floor = Celery("floor", broker=self.floor_env["FLOOR_BROKER"])
        out = self.tmp / "floor-post"
        worker, hostnames = self._floor_worker(in_flight=self.concurrency, out=out)
        try:
            with floor.producer_or_acquire() as producer:
                for _ in range(DELIVERIES):
                    floor.send_task("floor.post", args=[self.port], queue=FLOOR_QUEUE, producer=producer)
            cpu_before = self._start_consuming(floor, worker, hostnames, FLOOR_QUEUE)
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while (progress := _floor_progress(out))[0] < DELIVERIES and time.monotonic() < deadline:
                time.sleep(0.2)
            self.floor.cpu_s = worker.cpu_seconds() - cpu_before
            done, first, last = progress
            self.floor.done = done
            self.floor.span_s = last - first if done else 0.0
            if done < DELIVERIES:
                self.floor.notes.append(f"the floor drain did not finish:\n{worker.tail(10)}")
        finally:
            worker.stop()

    def write(self, report: Any, *, pg_version: str) -> None:
        options = " ".join(f"{k}={v}" for k, v in self.procfile.items())
        report.line(
            f"PostgreSQL {pg_version} (a database of the run's own) and a redis-server of the bench's own; "
            f"{os.cpu_count()} cores shared by the worker, the receiver, PostgreSQL, Redis and the bench "
            f"(load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}). The worker is "
            f"`bin/worker` as the Procfile's webhooks line runs it (`{options}`), one process, "
            "DJANGO_DEBUG=0, LOG_LEVEL=WARNING; the receiver answers 200 at once over keep-alive. "
            f"{DELIVERIES} deliveries a drain. The floor is a bare Celery app (acks late, prefetch 1) "
            "with the same pool and concurrency on the same broker, whose task POSTs the same body "
            "with http.client (new connection each time, no database)."
        )
        report.line()
        rows = []
        for d in [*self.results, self.floor]:
            what = {
                "before": "product, sender before (new loop + client per attempt)",
                "after": "product, sender now (loop + clients per thread)",
                "floor": "floor: bare task, one POST",
            }[d.what]
            rows.append(
                [
                    what,
                    f"{d.done}/{d.deliveries}",
                    f"{d.rate:.0f}",
                    f"{d.rate / self.floor.rate:.2f}" if self.floor.rate else "-",
                    f"{d.cpu_ms:.2f} ms",
                    f"{d.cpu_ms / self.floor.cpu_ms:.1f}" if self.floor.done else "-",
                ]
            )
        report.table(
            [
                "drain (one worker process)",
                "succeeded",
                "deliveries/s",
                "÷ floor",
                "worker CPU / delivery",
                "÷ floor",
            ],
            rows,
        )
        if not self.before_source:
            report.line(f"No A/B: the sender as of {BEFORE[:7]} is not in this checkout's git history.")
        for d in [*self.results, self.floor]:
            for note in d.notes:
                report.line()
                report.line(f"- {d.what}: {note.splitlines()[0]}")
                print(note, file=sys.stderr)


def _source_before() -> str:
    """api/webhooks/sender.py as of BEFORE, or "" without that history."""
    try:
        out = subprocess.run(
            ["git", "show", f"{BEFORE}:api/webhooks/sender.py"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return ""
    return out.stdout if out.returncode == 0 else ""
