"""GET /api/v1/jobs"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from api.models import Job
from tests.api.conftest import assert_problem
from tests.api.helpers import make_job


def _jobs(alice, count: int) -> list[Job]:
    now = timezone.now()
    return [make_job(alice, created_at=now - timedelta(minutes=i)) for i in range(count)]


def test_it_lists_the_callers_jobs_newest_first(alice, bob, alice_client) -> None:
    jobs = _jobs(alice, 3)
    make_job(bob)
    body = alice_client.get("/api/v1/jobs").json()
    assert [item["id"] for item in body["results"]] == [str(job.id) for job in jobs]


def test_it_pages_with_a_cursor(alice, alice_client) -> None:
    jobs = _jobs(alice, 5)
    first = alice_client.get("/api/v1/jobs?limit=2").json()
    second = alice_client.get(first["next"]).json()
    third = alice_client.get(second["next"]).json()
    seen = [item["id"] for page in (first, second, third) for item in page["results"]]
    assert seen == [str(job.id) for job in jobs]
    assert third["next"] is None


def test_it_filters_by_status_and_created_range(alice, alice_client) -> None:
    now = timezone.now()
    old = make_job(alice, status=Job.Status.SUCCEEDED, created_at=now - timedelta(days=3))
    new_failed = make_job(alice, status=Job.Status.FAILED, created_at=now - timedelta(hours=1))
    make_job(alice, created_at=now)
    by_status = alice_client.get("/api/v1/jobs?status=succeeded,failed").json()
    assert {item["id"] for item in by_status["results"]} == {str(old.id), str(new_failed.id)}
    after = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    before = (now - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    ranged = alice_client.get("/api/v1/jobs", {"created_after": after, "created_before": before}).json()
    assert [item["id"] for item in ranged["results"]] == [str(new_failed.id)]


def test_bad_filters_are_400(alice_client) -> None:
    body = assert_problem(alice_client.get("/api/v1/jobs?status=done"), 400, "validation-error")
    assert "status" in body["errors"]
    body = assert_problem(alice_client.get("/api/v1/jobs?created_after=yesterday"), 400, "validation-error")
    assert "created_after" in body["errors"]


def test_it_requires_authentication(db, client) -> None:
    assert_problem(client.get("/api/v1/jobs"), 401, "not-authenticated")


def test_post_is_not_allowed(alice_client) -> None:
    assert_problem(alice_client.post("/api/v1/jobs", {}), 405, "method-not-allowed")
