"""GET /api/v1/jobs"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api.models import Job
from api.representation import job_representation
from api.selectors import job_list_for_user
from api.views import JobPagination
from billing.pricing import micros_to_usd
from tests.api.conftest import assert_problem
from tests.api.helpers import make_job
from tests.billing.factories import make_usage


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


def _reference_page(user, url: str, **filters) -> dict:
    """The page DRF's CursorPagination makes of the ORM's queryset
    (job_list_for_user) for `url`: what the list answered before it read its
    pages in plain SQL, and must still answer, links included."""
    request = Request(APIRequestFactory().get(url))
    paginator = JobPagination()
    page = paginator.paginate_queryset(job_list_for_user(user=user, **filters), request) or []
    return {
        "next": paginator.get_next_link(),
        "previous": paginator.get_previous_link(),
        "results": [job_representation(job) for job in page],
    }


def _walk(client, user, url: str, **filters) -> list[list[str]]:
    """Follow `next` links to the end, then `previous` links back to the
    start, checking each page against the reference; the pages' IDs."""
    pages = []
    for direction in ("next", "previous"):
        while url is not None:
            body = client.get(url).json()
            assert body == _reference_page(user, url, **filters)
            pages.append([item["id"] for item in body["results"]])
            url = body[direction]
        url = body["previous"] if direction == "next" else None
    return pages


def _tied_jobs(user, now) -> list[Job]:
    """Jobs, most of them created at the very same instant."""
    times = [now] * 5 + [now + timedelta(seconds=1)] * 2 + [now - timedelta(seconds=1)] * 2
    return [make_job(user, created_at=at, status=Job.Status.CANCELED) for at in times]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 100])
def test_it_pages_through_equal_times_like_drfs_cursor_pagination(alice, alice_client, limit) -> None:
    jobs = _tied_jobs(alice, timezone.now())
    pages = _walk(alice_client, alice, f"/api/v1/jobs?limit={limit}")
    forward = [job_id for page in pages for job_id in page][: len(jobs)]
    newest_first = sorted(jobs, key=lambda job: (job.created_at, job.id.hex), reverse=True)
    assert forward == [str(job.id) for job in newest_first]


def test_pages_with_filters_match_the_reference(alice, alice_client) -> None:
    now = timezone.now()
    _tied_jobs(alice, now)
    for number in range(4):
        make_job(
            alice, created_at=now, status=Job.Status.FAILED, error_code="timeout", error_message=str(number)
        )
    after = (now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    pages = _walk(
        alice_client,
        alice,
        f"/api/v1/jobs?limit=2&status=failed,canceled&created_after={after}",
        statuses=["failed", "canceled"],
        created_after=now - timedelta(seconds=1),
    )
    assert len({job_id for page in pages for job_id in page}) == 13


def test_another_accounts_jobs_are_never_listed(alice, bob, alice_client, bob_client) -> None:
    now = timezone.now()
    alices = {str(job.id) for job in _tied_jobs(alice, now)}
    bobs = {str(job.id) for job in _tied_jobs(bob, now)}
    assert {
        job_id for page in _walk(alice_client, alice, "/api/v1/jobs?limit=2") for job_id in page
    } == alices
    assert {job_id for page in _walk(bob_client, bob, "/api/v1/jobs?limit=3") for job_id in page} == bobs


def test_each_item_equals_get_one_job_usage_included(alice, alice_client) -> None:
    now = timezone.now()
    billed = make_usage(alice, completed_at=now, input_tokens=1200, cached_tokens=100, output_tokens=300)
    make_job(alice, status=Job.Status.SUCCEEDED, result={"text": "t", "final_answer": None, "latex": []})
    make_job(alice, status=Job.Status.FAILED, error_code="timeout", error_message="too slow")
    make_job(alice, metadata={"a": "b"})
    items = alice_client.get("/api/v1/jobs").json()["results"]
    assert len(items) == 4
    for item in items:
        assert item == alice_client.get(f"/api/v1/jobs/{item['id']}").json()
    (with_usage,) = [item for item in items if item["id"] == str(billed.job_id)]
    assert with_usage["usage"]["input_tokens"] == 1200
    assert with_usage["usage"]["cost"] == micros_to_usd(billed.cost_micros)


def test_a_page_costs_the_same_queries_whatever_its_size(alice, alice_client) -> None:
    now = timezone.now()
    for number in range(12):
        make_usage(alice, completed_at=now - timedelta(minutes=number))
        make_job(alice, created_at=now - timedelta(minutes=number))
    counts = {}
    for limit in (1, 5, 24):
        alice_client.get(f"/api/v1/jobs?limit={limit}")  # anything read once per process, read
        with CaptureQueriesContext(connection) as queries:
            body = alice_client.get(f"/api/v1/jobs?limit={limit}").json()
        assert len(body["results"]) == limit
        counts[limit] = len(queries.captured_queries)
    # The token with its user, then the page with its usage: no count, no
    # query per job or per usage record.
    assert counts == {1: 2, 5: 2, 24: 2}


def test_a_cursor_of_another_page_size_or_filter_still_pages(alice, alice_client) -> None:
    _jobs(alice, 6)
    first = alice_client.get("/api/v1/jobs?limit=2").json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    url = f"/api/v1/jobs?cursor={cursor}&limit=3&status=queued"
    body = alice_client.get(url).json()
    assert body == _reference_page(alice, url, statuses=["queued"])
    assert len(body["results"]) == 3
