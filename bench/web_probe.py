"""The in-process half of bench/bench_web.py, run in a child process under
either project's settings (DJANGO_SETTINGS_MODULE):

- `seed`: a user, its bearer token and (product) one job, after a few pages
  of ended jobs for the job list (half of them succeeded, with usage); prints
  JSON;
- `count`: each request of a JSON spec (stdin) sent twice through Django's
  test client; the second is counted: SQL queries (CaptureQueriesContext) and
  Redis round trips (every command, or pipeline, a redis-py connection sends,
  the Celery publish included). Prints JSON."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from typing import Any

# Ended jobs of the bench user, so GET /api/v1/jobs lists full pages even
# when no submit stage ran before it (BENCH_WEB_ONLY=list).
LIST_JOBS = 60


def _seed_product(png: bytes) -> dict[str, str]:
    from accounts.models import User
    from accounts.services import token_create
    from api.services import job_submit

    user = User.objects.create_user("bench-web@example.com", None)
    _, raw = token_create(user=user, name="bench")
    _seed_ended_jobs(user, LIST_JOBS)
    job = job_submit(user=user, image=png).job
    return {"token": raw, "job_id": str(job.pk)}


def _seed_ended_jobs(user: Any, count: int) -> None:
    """`count` jobs that ended: every other one succeeded and billed (through
    the billing service, as a worker bills it), the rest canceled."""
    from django.db import transaction
    from django.utils import timezone

    from api.models import Job
    from billing.services import usage_record_create

    for number in range(count):
        now = timezone.now()
        if number % 2:
            Job.objects.create(user=user, model="gpt-4o-mini", status=Job.Status.CANCELED, completed_at=now)
            continue
        with transaction.atomic():
            job = Job.objects.create(
                user=user,
                model="gpt-4o-mini",
                status=Job.Status.SUCCEEDED,
                completed_at=now,
                result={"text": "x = 5", "final_answer": "5", "latex": ["x = 5"]},
            )
            usage_record_create(
                job=job,
                model=job.model,
                input_tokens=900,
                cached_tokens=0,
                output_tokens=120,
                completed_at=now,
            )


def _seed_waiters(accounts: int, per_account: int) -> list[list[str]]:
    """`accounts` users with a token each and `per_account` queued jobs each
    (rows only: no worker runs): [[token, job_id], ...]."""
    from accounts.models import User
    from accounts.services import token_create
    from api.models import Job

    pairs: list[list[str]] = []
    for number in range(accounts):
        user = User.objects.create_user(f"bench-waiter-{number}@example.com", None)
        _, raw = token_create(user=user, name="bench")
        jobs = Job.objects.bulk_create(
            Job(user=user, model="gpt-4o-mini", image="inputs/bench", image_format="png")
            for _ in range(per_account)
        )
        pairs += [[raw, str(job.pk)] for job in jobs]
    return pairs


def _end_jobs(job_ids: list[str]) -> dict[str, float]:
    """Cancel each job, one after the other (a terminal transition: it
    notifies its waiters after commit); {job id: its completed_at}, the
    moment a waiter's lag is counted from."""
    from api.models import Job
    from api.services import job_cancel

    for job in Job.objects.filter(pk__in=job_ids, status=Job.Status.QUEUED):
        job_cancel(job=job)
    ended = Job.objects.filter(pk__in=job_ids, status=Job.Status.CANCELED).values_list("pk", "completed_at")
    return {str(pk): completed_at.timestamp() for pk, completed_at in ended if completed_at is not None}


def _seed_floor() -> dict[str, str]:
    from django.contrib.auth.models import User

    from bench.web_floor.models import Token

    user = User.objects.create(username="bench-web")
    raw = "tok_floor_bench_0123456789abcdefghijklmnopqrstuv"
    Token.objects.create(user=user, digest=hashlib.sha256(raw.encode()).hexdigest())
    return {"token": raw}


class _RedisCounter:
    """Counts what redis-py writes to its sockets: one per command, one per
    pipeline (a pipeline is one round trip)."""

    def __init__(self) -> None:
        from redis.connection import AbstractConnection

        self.calls = 0
        original = AbstractConnection.send_packed_command
        counter = self

        def counted(conn: Any, command: Any, check_health: bool = True) -> Any:
            counter.calls += 1
            return original(conn, command, check_health)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


def _count(spec: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    redis_counter = _RedisCounter()
    client = Client()
    out: dict[str, dict[str, int]] = {}
    for item in spec:
        headers = {"HTTP_AUTHORIZATION": item["authorization"]}
        body = base64.b64decode(item.get("body_b64", ""))
        for attempt in range(2):
            redis_counter.calls = 0
            with CaptureQueriesContext(connection) as queries:
                if item["method"] == "GET":
                    response = client.get(item["path"], **headers)
                else:
                    response = client.generic(
                        "POST", item["path"], body, content_type=item["content_type"], **headers
                    )
            if attempt == 1:
                out[item["name"]] = {
                    "status": response.status_code,
                    "queries": len(queries.captured_queries),
                    "redis": redis_counter.calls,
                }
    return out


def main() -> None:
    import django

    django.setup()
    command = sys.argv[1]
    if command == "seed-product":
        result: Any = _seed_product(base64.b64decode(sys.stdin.read()))
    elif command == "seed-floor":
        result = _seed_floor()
    elif command == "seed-waiters":
        result = _seed_waiters(int(sys.argv[2]), int(sys.argv[3]))
    elif command == "end-jobs":
        result = _end_jobs(json.loads(sys.stdin.read()))
    elif command == "count":
        result = _count(json.loads(sys.stdin.read()))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
