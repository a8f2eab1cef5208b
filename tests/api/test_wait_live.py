"""`GET /api/v1/jobs/{id}?wait=N` against bin/web as production runs it
(gunicorn, gevent workers), joined to the test database: many waiters on jobs
of their own in one process, each woken when its job ends, while other
requests are served; the per-account cap; Redis lost during a wait."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest
import redis
import requests
from django.db import connection

from accounts.models import User
from api.models import Job
from api.services import job_cancel
from tests.api.helpers import make_job
from tests.factories import make_token, make_user
from tests.private_servers import PrivateRedis, free_port
from tests.worker_process import ROOT

pytestmark = pytest.mark.timeout(180)

LIMITS = {
    "THROTTLE_READ_RATE": "100000/min",
    "THROTTLE_ACCOUNT_RATE": "100000/min",
}
# One process: more waiters than bin/web's threads used to be in all (4 x 8).
WAITERS_PER_ACCOUNT = 20
ACCOUNTS = 3


@pytest.fixture
def live_web(transactional_db: None) -> Iterator[Callable[..., str]]:
    """Starts bin/web (one process) on a free port; returns its URL."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(**extra_env: str) -> str:
        port = free_port()
        env = os.environ | LIMITS | extra_env
        env |= {"DATABASE_NAME_OVERRIDE": str(connection.settings_dict["NAME"])}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env |= {"PORT": str(port), "BIND": "127.0.0.1", "WEB_CONCURRENCY": "1"}
        log_path = Path(os.environ["IMAGESOLVE_TEST_WORKDIR"]) / f"wait-web-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                ["bash", str(ROOT / "bin" / "web")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        started.append((process, log_path))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            with suppress(requests.RequestException):  # not listening yet
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    return url
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)

    yield start
    for process, log_path in started:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        assert "Traceback" not in log_path.read_text(), log_path.read_text()


def _waiting(client: redis.Redis, users: list[User]) -> int:
    """Waits holding a place (api/notifications.py's per-account counts)."""
    values = client.mget([f"imagesolve:job-waits:{user.pk}" for user in users])
    return sum(int(value or 0) for value in values)


def _until(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _wait_request(url: str, token: str, job: Job) -> tuple[int, str, float]:
    response = requests.get(
        f"{url}/api/v1/jobs/{job.pk}?wait=30", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return response.status_code, response.json()["status"], time.monotonic()


def test_many_waiters_in_one_process_are_each_woken_by_their_jobs_end(live_web) -> None:
    url = live_web()
    accounts = [make_user(f"waiter-{n}@example.com") for n in range(ACCOUNTS)]
    waits = [
        (make_token(user)[1], make_job(user, status=Job.Status.RUNNING))
        for user in accounts
        for _ in range(WAITERS_PER_ACCOUNT)
    ]
    other = make_user("other@example.com")
    other_token, other_job = make_token(other)[1], make_job(other)
    redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
    with ThreadPoolExecutor(max_workers=len(waits)) as pool:
        futures = [pool.submit(_wait_request, url, token, job) for token, job in waits]
        _until(lambda: _waiting(redis_client, accounts) == len(waits), "every client waits")

        # Another client is served while they all wait.
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {other_token}"}
        response = requests.get(f"{url}/api/v1/jobs/{other_job.pk}", headers=headers, timeout=10)
        assert response.status_code == 200
        assert time.monotonic() - started < 5
        assert not any(future.done() for future in futures)

        ended: dict[int, float] = {}
        for index, (_, job) in enumerate(waits):
            job_cancel(job=job)
            ended[index] = time.monotonic()
        answers = [future.result(timeout=40) for future in futures]

    for index, (status_code, status, answered) in enumerate(answers):
        assert (status_code, status) == (200, "canceled")
        # Woken by its job's end, not by the 30 s wait running out; loose,
        # as two cores are shared with the rest of the suite.
        assert answered - ended[index] < 10
    assert _waiting(redis_client, accounts) == 0, "every place given back"


def test_a_wait_over_the_accounts_cap_answers_at_once(live_web) -> None:
    url = live_web(JOB_MAX_CONCURRENT_WAITS="3")
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    alice_token, bob_token = make_token(alice)[1], make_token(bob)[1]
    held = [make_job(alice, status=Job.Status.RUNNING) for _ in range(3)]
    bobs = make_job(bob, status=Job.Status.RUNNING)
    redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures: list[Future[tuple[int, str, float]]] = [
            pool.submit(_wait_request, url, alice_token, job) for job in held
        ]
        _until(lambda: _waiting(redis_client, [alice]) == 3, "alice's three waits hold her places")

        started = time.monotonic()
        status_code, status, answered = _wait_request(url, alice_token, make_job(alice))
        assert (status_code, status) == (200, "queued")
        assert answered - started < 5

        # Another account's wait is not refused by alice's.
        futures.append(pool.submit(_wait_request, url, bob_token, bobs))
        _until(lambda: _waiting(redis_client, [bob]) == 1, "bob waits")
        for job in [*held, bobs]:
            job_cancel(job=job)
        assert all(future.result(timeout=40)[:2] == (200, "canceled") for future in futures)


def test_losing_redis_during_a_wait_answers_the_waiters_at_once(live_web) -> None:
    server = PrivateRedis().start()
    try:
        url = live_web(REDIS_URL=server.url, REDIS_CACHE_URL=server.url.rsplit("/", 1)[0] + "/1")
        alice = make_user("alice@example.com")
        token = make_token(alice)[1]
        jobs = [make_job(alice) for _ in range(5)]
        redis_client = redis.Redis.from_url(server.url)
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = [pool.submit(_wait_request, url, token, job) for job in jobs]
            _until(lambda: _waiting(redis_client, [alice]) == len(jobs), "every client waits")
            redis_client.close()
            server.stop()
            stopped = time.monotonic()
            answers = [future.result(timeout=40) for future in futures]
        for status_code, status, answered in answers:
            # The job as it is: still queued, nothing ended it.
            assert (status_code, status) == (200, "queued")
            assert answered - stopped < 10
    finally:
        server.cleanup()
