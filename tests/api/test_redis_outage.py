"""While Redis is down the API tells the truth: writes answer 503 with
Retry-After, reads that need only the database keep answering, ?wait answers
at once. Against a Redis server of the test's own, really stopped and
started again (never the suite's or the shared one): the `private_redis`
fixture of tests/conftest.py."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
import redis

from api import notifications
from api.models import Job
from tests.api.conftest import assert_problem
from tests.api.helpers import b64, image_bytes, make_job


def _submit(client):
    return client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")


def test_a_submission_is_refused_with_503_while_redis_is_down_and_accepted_once_it_is_back(
    alice_client, private_redis, settings, caplog
) -> None:
    assert _submit(alice_client).status_code == 202
    private_redis.stop()

    with caplog.at_level(logging.WARNING):
        response = _submit(alice_client)
    body = assert_problem(response, 503, "service-unavailable")
    assert body["dependency"] == "redis"
    assert response["Retry-After"] == str(settings.DEPENDENCY_RETRY_AFTER_S)
    assert Job.objects.count() == 1, "a refused submission stores nothing"
    # One concise warning, no traceback, nothing at ERROR (django.request).
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert caplog.records[0].exc_info is None
    assert "redis unavailable" in caplog.records[0].getMessage()

    private_redis.start()
    assert _submit(alice_client).status_code == 202
    assert Job.objects.count() == 2


def test_an_idempotent_submission_is_refused_with_503_too(alice_client, private_redis) -> None:
    private_redis.stop()
    response = alice_client.post(
        "/api/v1/solve", {"image": b64(image_bytes())}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert_problem(response, 503, "service-unavailable")
    assert not Job.objects.exists()


def test_reads_answer_from_the_database_while_redis_is_down(
    alice, alice_client, private_redis, caplog
) -> None:
    job = make_job(alice)
    private_redis.stop()

    with caplog.at_level(logging.WARNING):
        detail = alice_client.get(f"/api/v1/jobs/{job.id}")
        listing = alice_client.get("/api/v1/jobs")
    assert detail.status_code == 200
    assert detail.json()["id"] == str(job.id)
    assert "X-RateLimit-Limit" not in detail, "no limit was counted"
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["results"]] == [str(job.id)]
    assert all(record.exc_info is None for record in caplog.records)


def test_wait_answers_at_once_while_redis_is_down(alice, alice_client, private_redis) -> None:
    job = make_job(alice)
    private_redis.stop()

    started = time.monotonic()
    response = alice_client.get(f"/api/v1/jobs/{job.id}?wait=5")
    assert response.status_code == 200
    assert response.json()["status"] == "queued"
    assert time.monotonic() - started < 2


def test_another_users_job_is_still_404_while_redis_is_down(alice, bob_client, private_redis) -> None:
    job = make_job(alice)
    private_redis.stop()
    assert_problem(bob_client.get(f"/api/v1/jobs/{job.id}"), 404, "not-found")


def test_a_cancel_is_refused_with_503_while_redis_is_down(alice, alice_client, private_redis) -> None:
    # A POST: throttled writes fail closed (config/throttles.py).
    job = make_job(alice)
    private_redis.stop()
    assert_problem(alice_client.post(f"/api/v1/jobs/{job.id}/cancel"), 503, "service-unavailable")
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_login_is_refused_with_503_while_redis_is_down(client, alice, private_redis) -> None:
    # Failing open would switch off the password-guessing limits.
    private_redis.stop()
    response = client.post(
        "/api/v1/accounts/login", {"email": alice.email, "password": "whatever"}, format="json"
    )
    body = assert_problem(response, 503, "service-unavailable")
    assert body["dependency"] == "redis"
    assert response["Retry-After"]


def test_a_cut_subscription_wakes_its_waiters(private_redis) -> None:
    """redis-py reconnects a cut subscription and subscribes again by itself;
    what was published meanwhile is lost, so the process's waiters are woken
    (to answer with the job as it is) instead of being left to their wait."""
    with notifications.JobFinishedSubscription(uuid.uuid4()) as subscription:
        client = redis.Redis.from_url(private_redis.url)
        assert client.client_kill_filter(_type="pubsub") == 1
        started = time.monotonic()
        assert subscription.wait(20)
        assert time.monotonic() - started < 10


def test_waiters_are_woken_by_their_jobs_end_again_once_redis_is_back(private_redis) -> None:
    job_id = uuid.uuid4()
    with notifications.JobFinishedSubscription(job_id) as subscription:
        private_redis.stop()
        # The subscription is lost: woken, with nothing published.
        assert subscription.wait(20)
    with pytest.raises(redis.RedisError):
        notifications.JobFinishedSubscription(job_id).__enter__()
    private_redis.start()

    with notifications.JobFinishedSubscription(job_id) as subscription:
        started = time.monotonic()
        notifications.job_finished_notify(job_id)
        assert subscription.wait(20)
        assert time.monotonic() - started < 5
    with notifications.JobFinishedSubscription(uuid.uuid4()) as other:
        assert not other.wait(0.2), "only its own job's end wakes a waiter"
