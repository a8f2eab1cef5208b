"""job_representation builds the job's JSON without the serializer's field
machinery; JobSerializer stays the documented schema. They must agree."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, set_script_prefix
from django.utils import timezone

from api.models import Job
from api.representation import job_representation
from api.serializers import JobSerializer
from tests.api.helpers import make_job
from tests.billing.factories import make_usage


def _both(job: Job) -> tuple[dict, dict]:
    return job_representation(job), dict(JobSerializer(job).data)


def test_it_equals_the_serializer_for_every_state(alice) -> None:
    started = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    jobs = [
        make_job(alice, prompt="p", metadata={"a": "b", "c": "d"}, webhook_url="https://example.com/hook"),
        make_job(
            alice, status=Job.Status.RUNNING, started_at=started, webhook_events=["completed", "started"]
        ),
        make_job(
            alice,
            status=Job.Status.SUCCEEDED,
            started_at=started,
            completed_at=started,
            result={"text": "x = 5", "final_answer": "5", "latex": ["x = 5"]},
        ),
        make_job(alice, status=Job.Status.FAILED, error_code="timeout", error_message="too slow"),
        make_job(alice, status=Job.Status.CANCELED),
    ]
    for job in jobs:
        fast, slow = _both(Job.objects.select_related("usage").get(pk=job.pk))
        assert fast == slow
        assert list(fast) == list(slow)


def test_a_succeeded_job_shows_its_usage_like_the_serializer(alice) -> None:
    usage = make_usage(alice, completed_at=datetime(2026, 3, 1, tzinfo=UTC), input_tokens=1200)
    job = Job.objects.select_related("usage").get(pk=usage.job_id)
    fast, slow = _both(job)
    assert fast == slow
    assert fast["usage"]["input_tokens"] == 1200
    assert fast["usage"]["currency"] == "USD"


def test_a_job_that_has_not_succeeded_costs_no_usage_query(alice) -> None:
    job = Job.objects.get(pk=make_job(alice).pk)  # usage not joined
    with CaptureQueriesContext(connection) as queries:
        body = job_representation(job)
    assert body["usage"] is None
    assert len(queries.captured_queries) == 0


def test_times_are_utc_like_the_serializer_whatever_zone_is_active(alice) -> None:
    started = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    job = make_job(alice, status=Job.Status.RUNNING, started_at=started)
    with timezone.override("Europe/Paris"):
        fast, slow = _both(Job.objects.select_related("usage").get(pk=job.pk))
    assert fast == slow
    assert fast["started_at"] == "2026-03-01T12:00:00.123456Z"


def test_the_urls_are_those_the_urlconf_gives(alice) -> None:
    """api.paths is where the URLconf and the representation both read the
    job's routes; reversing them through the URLconf must give the same."""
    job = make_job(alice)
    expected = {
        "get": reverse("api:job-detail", kwargs={"job_id": job.id}),
        "cancel": reverse("api:job-cancel", kwargs={"job_id": job.id}),
    }
    assert job_representation(job)["urls"] == expected
    assert expected["get"] == f"/api/v1/jobs/{job.id}"


def test_the_urls_carry_the_script_prefix_the_site_is_served_under(alice) -> None:
    job = make_job(alice)
    set_script_prefix("/solver/")
    try:
        urls = job_representation(job)["urls"]
        assert urls["get"] == reverse("api:job-detail", kwargs={"job_id": job.id})
        assert urls["cancel"] == reverse("api:job-cancel", kwargs={"job_id": job.id})
    finally:
        set_script_prefix("/")
    assert urls["get"] == f"/solver/api/v1/jobs/{job.id}"
