"""GET /api/v1/jobs/{id}"""

from __future__ import annotations

import threading
import uuid

from django.db import connection

from api.models import Job
from api.notifications import job_finished_notify
from api.representations import job_representation
from api.serializers import JobSerializer
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


def test_the_documented_shape_matches_the_representation(alice) -> None:
    assert set(JobSerializer().fields) == set(job_representation(make_job(alice)))


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
    the job is finished by another thread while the request waits 60 s."""
    job = make_job(alice, status=Job.Status.RUNNING)

    def finish() -> None:
        # Keep notifying until the waiter has subscribed (it may not yet have).
        for _ in range(200):
            Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error_code="timeout")
            job_finished_notify(job.pk)
            if done.wait(0.05):
                break
        connection.close()

    done = threading.Event()
    finisher = threading.Thread(target=finish)
    finisher.start()
    try:
        body = alice_client.get(f"/api/v1/jobs/{job.id}?wait=60").json()
    finally:
        done.set()
        finisher.join()
    assert body["status"] == "failed"
