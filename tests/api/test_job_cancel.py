"""POST /api/v1/jobs/{id}/cancel"""

from __future__ import annotations

from api.models import Job
from tests.api.conftest import assert_problem
from tests.api.helpers import make_job


def test_it_cancels_a_queued_job(alice, alice_client) -> None:
    job = make_job(alice)
    response = alice_client.post(f"/api/v1/jobs/{job.id}/cancel")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "canceled"
    assert body["completed_at"]
    assert body["error"]["code"] == "canceled"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED and job.completed_at is not None


def test_it_cancels_a_running_job(alice, alice_client) -> None:
    job = make_job(alice, status=Job.Status.RUNNING, worker_task_id="t-1")
    assert alice_client.post(f"/api/v1/jobs/{job.id}/cancel").json()["status"] == "canceled"


def test_a_finished_job_cannot_be_canceled(alice, alice_client) -> None:
    job = make_job(alice, status=Job.Status.SUCCEEDED)
    body = assert_problem(alice_client.post(f"/api/v1/jobs/{job.id}/cancel"), 409, "job-not-cancelable")
    assert body["job_status"] == "succeeded"
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED


def test_another_users_job_is_404(alice, bob_client) -> None:
    job = make_job(alice)
    assert_problem(bob_client.post(f"/api/v1/jobs/{job.id}/cancel"), 404, "not-found")
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_it_requires_authentication(alice, client) -> None:
    job = make_job(alice)
    assert_problem(client.post(f"/api/v1/jobs/{job.id}/cancel"), 401, "not-authenticated")


def test_get_is_not_allowed(alice, alice_client) -> None:
    job = make_job(alice)
    assert_problem(alice_client.get(f"/api/v1/jobs/{job.id}/cancel"), 405, "method-not-allowed")
