"""A real worker with jobs in flight survives its broker going away: Redis
(a server this test owns) is stopped for a few seconds and started again; the
worker reconnects by itself and every job ends succeeded, billed once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from api.models import Job
from api.services import SOLVE_TASK_NAME
from billing.models import UsageRecord
from tests.api.helpers import make_job
from tests.fakes.openai_server import Ok, start_fake_openai, worker_env
from tests.private_servers import PrivateRedis
from tests.worker_process import running_worker
from workers.celery import app

pytestmark = [pytest.mark.e2e]

OUTAGE_S = 5
PROVIDER_DELAY_S = 1.0


def _publish(broker_url: str, jobs: list[Job]) -> None:
    with app.connection_for_write(broker_url) as connection:
        for job in jobs:
            app.send_task(SOLVE_TASK_NAME, args=[str(job.pk)], connection=connection)


def _wait_until(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_a_worker_with_jobs_in_flight_survives_a_redis_restart(
    transactional_db, alice, tmp_path: Path
) -> None:
    broker = PrivateRedis(tmp_path / "redis", persist=True).start()
    fake = start_fake_openai()
    try:
        fake.script(*[Ok(delay_s=PROVIDER_DELAY_S)] * 100)
        env = worker_env(fake)
        with running_worker(extra_env=env, broker_url=broker.url, queues="solve", concurrency=8) as worker:
            before = [make_job(alice) for _ in range(16)]
            _publish(broker.url, before)
            # Jobs in flight: claimed, their calls to the provider under way.
            assert _wait_until(lambda: Job.objects.filter(status=Job.Status.RUNNING).count() >= 4, 20), (
                worker.log()
            )

            broker.stop()
            time.sleep(OUTAGE_S)
            broker.start()

            after = [make_job(alice) for _ in range(8)]
            _publish(broker.url, after)
            everything = Job.objects.filter(pk__in=[job.pk for job in before + after])
            finished = _wait_until(lambda: not everything.exclude(status=Job.Status.SUCCEEDED).exists(), 40)

            alive = worker.process.poll() is None
            log = worker.log()
    finally:
        fake.close()
        broker.stop()

    assert alive, log
    assert "Unrecoverable error" not in log
    assert finished, list(everything.values_list("status", flat=True))
    assert UsageRecord.objects.filter(job__in=everything).count() == 24
