"""The whole pipeline: the API over the Django test client, a real Celery
worker process over the real broker, the real `openai` SDK against the fake
OpenAI server on loopback."""

from __future__ import annotations

import signal
import time

import pytest
from django.conf import settings as django_settings

import tests.fakes.openai_server as fake_api
from api.models import Job
from billing.models import UsageRecord
from tests.api.helpers import b64, image_bytes, upload
from tests.fakes.openai_server import Hang, Ok, RateLimit, start_fake_openai, worker_env
from tests.worker_process import running_worker, start_worker
from workers.celery import app
from workers.tasks.recovery import recover_expired_jobs_task, requeue_stale_jobs_task

pytestmark = [pytest.mark.e2e]

openai_server = fake_api.openai_server  # the fixture, used by name

FORMATS = [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")]


def _wait_for(job_id: str, client, seconds: int = 30) -> dict:
    body = client.get(f"/api/v1/jobs/{job_id}?wait={seconds}").json()
    return body


@pytest.mark.parametrize(("fmt", "mime"), FORMATS)
def test_an_image_submitted_by_multipart_and_by_base64_is_solved_and_billed(
    transactional_db, openai_server, alice_client, fmt, mime
) -> None:
    with running_worker(extra_env=worker_env(openai_server)):
        data = image_bytes(fmt)
        by_file = alice_client.post(
            "/api/v1/solve", {"image": upload(data, f"p.{fmt.lower()}", mime)}, format="multipart"
        )
        by_base64 = alice_client.post("/api/v1/solve", {"image": b64(data), "prompt": "2+2?"}, format="json")
        assert by_file.status_code == 202 and by_base64.status_code == 202
        for submitted in (by_file.json(), by_base64.json()):
            done = _wait_for(submitted["id"], alice_client)
            assert done["status"] == "succeeded", done
            assert done["result"]["final_answer"] == "4"
            assert done["usage"]["input_tokens"] == 1200
            assert done["usage"]["output_tokens"] == 80
            assert UsageRecord.objects.filter(job_id=submitted["id"]).count() == 1
    sent = openai_server.completions()
    assert len(sent) == 2
    assert sent[0].body["messages"][1]["content"][1]["image_url"]["url"].startswith(f"data:{mime};base64,")


def test_polling_without_wait_sees_the_job_move_to_succeeded(
    transactional_db, openai_server, alice_client
) -> None:
    openai_server.script(Ok(delay_s=1.0))
    with running_worker(extra_env=worker_env(openai_server)):
        job_id = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").json()["id"]
        seen = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = alice_client.get(f"/api/v1/jobs/{job_id}").json()
            seen.add(body["status"])
            if body["status"] == "succeeded":
                break
            time.sleep(0.1)
    assert "succeeded" in seen
    assert seen <= {"queued", "running", "succeeded"}
    assert body["started_at"] and body["completed_at"]


def test_provider_rate_limits_are_retried_then_the_job_succeeds(
    transactional_db, openai_server, alice_client
) -> None:
    openai_server.script(RateLimit(retry_after="1"), RateLimit(retry_after="1"), Ok())
    env = worker_env(openai_server, JOB_RETRY_BASE_DELAY_S="0")
    with running_worker(extra_env=env):
        job_id = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").json()["id"]
        done = _wait_for(job_id, alice_client)
    assert done["status"] == "succeeded"
    assert Job.objects.get(pk=job_id).attempts == 3
    assert len(openai_server.completions()) == 3


def test_a_sigkilled_workers_job_starts_again_within_30_s_and_is_billed_once(
    transactional_db, alice_client
) -> None:
    """The worker dies mid-call (the provider hangs). Nothing renews the
    job's lease any more; the recovery task (sent every second here, as beat
    does every 5 s) takes the job back once the lease runs out, and another
    worker finishes it: restarted within 30 s, one success, one usage
    record. The dead worker's message is never needed (Redis would give it
    back only after the 1 h visibility timeout)."""
    fake = start_fake_openai()
    try:
        fake.script(Hang())
        env = worker_env(fake)
        first = start_worker(extra_env=env, queues="solve")
        job_id = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").json()["id"]
        assert fake.hanging.wait(30), first.log()
        assert Job.objects.get(pk=job_id).status == Job.Status.RUNNING
        first.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        fake.release()
        restarted_after = None
        with running_worker(extra_env=env, queues="solve,maintenance") as second:
            while time.monotonic() < killed_at + 60:
                recover_expired_jobs_task.delay()
                job = Job.objects.get(pk=job_id)
                if restarted_after is None and job.attempts == 2:
                    restarted_after = time.monotonic() - killed_at
                if job.status == Job.Status.SUCCEEDED:
                    break
                time.sleep(1)
            log = second.log()
    finally:
        fake.close()
    job = Job.objects.get(pk=job_id)
    assert job.status == Job.Status.SUCCEEDED, log
    assert restarted_after is not None and restarted_after < 30, restarted_after
    assert job.attempts == 2
    assert UsageRecord.objects.filter(job=job).count() == 1
    assert len(fake.completions()) == 2


def _reserved(hostname: str) -> list[str]:
    """The jobs whose messages the worker holds and has not started."""
    replies = app.control.inspect(destination=[hostname], timeout=2).reserved() or {}
    return [request["args"][0] for request in replies.get(hostname, [])]


def test_a_sigkilled_worker_also_held_a_job_it_had_not_started_which_runs_once(
    transactional_db, alice_client
) -> None:
    """The solve worker reserves two messages a thread (the Procfile's
    CELERY_WORKER_PREFETCH_MULTIPLIER=2): a worker killed mid-job may also
    hold a job it never claimed. On Redis that message stays unacknowledged
    for the visibility timeout (RabbitMQ gives it back at once); the requeue
    task publishes the job again (beat runs it every 15 s;
    JOB_REQUEUE_AFTER_S, shortened here) and another worker runs it. The job
    it was running comes back through its lease. Each succeeds once and is
    billed once."""
    fake = start_fake_openai()
    try:
        fake.script(Hang())
        env = {**worker_env(fake), "CELERY_WORKER_PREFETCH_MULTIPLIER": "2", "JOB_REQUEUE_AFTER_S": "3"}
        first = start_worker(extra_env=env, queues="solve", concurrency=1)

        def submit() -> str:
            return str(
                alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").json()["id"]
            )

        running = submit()
        assert fake.hanging.wait(30), first.log()
        held = submit()
        deadline = time.monotonic() + 30
        while held not in _reserved(first.hostname) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert held in _reserved(first.hostname), first.log()
        first.kill(signal.SIGKILL)
        fake.release()
        with running_worker(extra_env=env, queues="solve,maintenance") as second:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                recover_expired_jobs_task.delay()
                requeue_stale_jobs_task.delay()
                if (
                    not Job.objects.filter(pk__in=[running, held])
                    .exclude(status=Job.Status.SUCCEEDED)
                    .exists()
                ):
                    break
                time.sleep(1)
            log = second.log()
    finally:
        fake.close()
    jobs = {str(job.pk): job for job in Job.objects.filter(pk__in=[running, held])}
    assert [jobs[running].status, jobs[held].status] == [Job.Status.SUCCEEDED] * 2, log
    # The held job's first claim was the second worker's.
    assert (jobs[running].attempts, jobs[held].attempts) == (2, 1)
    assert UsageRecord.objects.filter(job_id__in=[running, held]).count() == 2
    assert len(fake.completions()) == 3


@pytest.mark.skipif(
    not django_settings.CELERY_BROKER_URL.startswith("amqp"),
    reason="RabbitMQ gives an unacknowledged message back when its consumer dies; "
    "run with CELERY_BROKER_URL=amqp://... (.ci/run does)",
)
def test_on_rabbitmq_a_killed_workers_message_comes_back_at_once(transactional_db, alice_client) -> None:
    """No lease has to run out: the broker requeues the dead consumer's
    message, and the same task ID takes its job straight back."""
    fake = start_fake_openai()
    try:
        fake.script(Hang())
        env = worker_env(fake)
        first = start_worker(extra_env=env, queues="solve")
        job_id = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").json()["id"]
        assert fake.hanging.wait(30), first.log()
        task_id = Job.objects.get(pk=job_id).worker_task_id
        first.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        fake.release()
        with running_worker(extra_env=env, queues="solve") as second:
            done = _wait_for(job_id, alice_client, seconds=30)
            finished_after = time.monotonic() - killed_at
            assert done["status"] == "succeeded", second.log()
    finally:
        fake.close()
    job = Job.objects.get(pk=job_id)
    assert (job.attempts, job.worker_task_id) == (2, task_id)
    assert finished_after < 15, finished_after
    assert UsageRecord.objects.filter(job=job).count() == 1


def test_without_a_key_the_mock_provider_solves_jobs_offline(transactional_db, alice_client) -> None:
    with running_worker(extra_env={"OPENAI_API_KEY": "", "MOCK_PROVIDER_LATENCY_MS": "50"}):
        job_id = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").json()["id"]
        done = _wait_for(job_id, alice_client)
    assert done["status"] == "succeeded"
    assert "Mock provider" in done["result"]["text"]
    assert done["usage"]["output_tokens"] > 0
