"""GET /api/v1/jobs/{id}"""

from __future__ import annotations

import threading
import time
import uuid

import redis
from django.db import connection

from api import notifications
from api.models import Job
from api.notifications import job_finished_notify
from api.representation import job_representation
from tests.api.conftest import assert_problem
from tests.api.helpers import make_job


def test_it_returns_the_callers_job(alice, alice_client) -> None:
    job = make_job(alice, prompt="p", metadata={"a": "b"})
    response = alice_client.get(f"/api/v1/jobs/{job.id}")
    assert response.status_code == 200
    body = response.json()
    assert body == job_representation(job)
    assert body["status"] == "queued"
    assert body["result"] is None and body["error"] is None and body["usage"] is None
    assert response["X-RateLimit-Limit"]


def test_the_representation_has_the_documented_fields_in_order(alice) -> None:
    assert list(job_representation(make_job(alice))) == [
        "id", "object", "status", "created_at", "started_at", "completed_at", "model", "detail",
        "prompt", "metadata", "webhook_url", "webhook_events", "result", "error", "usage", "urls",
    ]  # fmt: skip


def test_a_failed_job_shows_its_error(alice, alice_client) -> None:
    job = make_job(
        alice, status=Job.Status.FAILED, error_code="provider_rate_limited", error_message="slow down"
    )
    body = alice_client.get(f"/api/v1/jobs/{job.id}").json()
    assert body["error"] == {"code": "provider_rate_limited", "message": "slow down"}


def test_another_users_job_is_404(alice, bob_client) -> None:
    job = make_job(alice)
    assert_problem(bob_client.get(f"/api/v1/jobs/{job.id}"), 404, "not-found")


def test_an_unknown_job_is_404(alice_client) -> None:
    assert_problem(alice_client.get(f"/api/v1/jobs/{uuid.uuid4()}"), 404, "not-found")


def test_it_requires_authentication(alice, client) -> None:
    job = make_job(alice)
    assert_problem(client.get(f"/api/v1/jobs/{job.id}"), 401, "not-authenticated")


def test_post_is_not_allowed(alice, alice_client) -> None:
    job = make_job(alice)
    assert_problem(alice_client.post(f"/api/v1/jobs/{job.id}"), 405, "method-not-allowed")


def test_wait_is_limited_to_60_seconds(alice, alice_client) -> None:
    job = make_job(alice)
    for bad in ("61", "-1", "soon"):
        body = assert_problem(alice_client.get(f"/api/v1/jobs/{job.id}?wait={bad}"), 400, "validation-error")
        assert "wait" in body["errors"]


def test_wait_returns_at_once_for_a_finished_job(alice, alice_client) -> None:
    job = make_job(alice, status=Job.Status.CANCELED)
    assert alice_client.get(f"/api/v1/jobs/{job.id}?wait=60").json()["status"] == "canceled"


def test_wait_returns_when_the_job_finishes(alice, alice_client, transactional_db) -> None:
    """The waiting request is woken by the notification, not by its timeout:
    another thread finishes the job once the request is registered with the
    process's subscription, and publishes once. A broken wake-up would hold
    the request for the whole 30 s."""
    job = make_job(alice, status=Job.Status.RUNNING)
    channel = f"imagesolve:job-finished:{job.pk}"
    subscribed = threading.Event()

    def finish() -> None:
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not stop.is_set():
                if notifications._listener().waiting(channel) > 0:
                    subscribed.set()
                    break
                time.sleep(0.01)
            Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error_code="timeout")
            job_finished_notify(job.pk)
        finally:
            connection.close()

    stop = threading.Event()
    finisher = threading.Thread(target=finish)
    finisher.start()
    started = time.monotonic()
    try:
        body = alice_client.get(f"/api/v1/jobs/{job.id}?wait=30").json()
    finally:
        stop.set()
        finisher.join()
    assert subscribed.is_set()
    assert body["status"] == "failed"
    assert time.monotonic() - started < 15


def test_wait_sees_an_end_that_raced_with_the_subscription(alice, alice_client, monkeypatch) -> None:
    """The job ends (and its notification is published) between the first
    read and the subscription: the read after subscribing sees it."""
    job = make_job(alice, status=Job.Status.RUNNING)
    real_enter = notifications.JobFinishedSubscription.__enter__

    def enter_after_the_end(self):
        Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
        job_finished_notify(job.pk)
        return real_enter(self)

    monkeypatch.setattr(notifications.JobFinishedSubscription, "__enter__", enter_after_the_end)
    started = time.monotonic()
    assert alice_client.get(f"/api/v1/jobs/{job.id}?wait=30").json()["status"] == "succeeded"
    assert time.monotonic() - started < 15


def test_wait_without_redis_answers_at_once_with_the_job(alice, alice_client, monkeypatch) -> None:
    job = make_job(alice, status=Job.Status.RUNNING)
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, socket_timeout=0.5)
    monkeypatch.setattr(notifications, "_client", lambda: unreachable)
    response = alice_client.get(f"/api/v1/jobs/{job.id}?wait=30")
    assert response.status_code == 200
    assert response.json()["status"] == "running"


def test_waits_over_the_per_user_cap_answer_at_once(alice, bob, alice_client, bob_client, settings) -> None:
    settings.JOB_MAX_CONCURRENT_WAITS = 2
    job = make_job(alice, status=Job.Status.RUNNING)
    with notifications.wait_slot(alice.pk), notifications.wait_slot(alice.pk):
        started = time.monotonic()
        body = alice_client.get(f"/api/v1/jobs/{job.id}?wait=30").json()
        assert time.monotonic() - started < 5
        assert body["status"] == "running"
        # Another user's waits are not counted against alice's.
        with notifications.wait_slot(bob.pk) as granted:
            assert granted
    # The places are given back.
    with notifications.wait_slot(alice.pk) as first, notifications.wait_slot(alice.pk) as second:
        assert first and second
