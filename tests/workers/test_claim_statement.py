"""A claim is one UPDATE with no transaction around it (PostgreSQL) when the
job's start can be news to no webhook; when a webhook asks for `job.started`
the claim records it in a transaction, on the first start only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.models import Job
from api.services import job_mark_running
from api.webhooks.models import WebhookDelivery
from api.webhooks.services import webhook_settings_update
from tests.races import needs_postgresql

pytestmark = needs_postgresql

URL = "http://127.0.0.1:9/hook"


def _job(user, **fields) -> Job:
    return Job.objects.create(user=user, model="gpt-4o-mini", **fields)


def _claim(job: Job, task_id: str = "run-1") -> tuple[Job | None, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        claimed = job_mark_running(job_id=job.pk, task_id=task_id)
    return claimed, [q["sql"] for q in queries.captured_queries]


def _started(job: Job) -> int:
    return WebhookDelivery.objects.filter(job=job, event_type="job.started").count()


def test_a_job_whose_start_no_webhook_asks_for_is_claimed_by_one_statement(alice):
    webhook_settings_update(user=alice, default_url=URL, default_events=["completed"])
    job = _job(alice, webhook_url=URL, webhook_events=["completed"])

    claimed, statements = _claim(job)

    assert claimed is not None and claimed.status == Job.Status.RUNNING and claimed.attempts == 1
    assert len(statements) == 1 and statements[0].startswith("UPDATE")
    # The run's events still know where they go.
    assert claimed.webhook_account_loaded and claimed.webhook_account.default_url == URL
    assert _started(job) == 0


def test_another_accounts_started_subscription_does_not_count(alice, bob):
    webhook_settings_update(user=bob, default_url=URL, default_events=["completed", "started"])
    job = _job(alice)

    claimed, statements = _claim(job)

    assert claimed is not None and len(statements) == 1
    assert _started(job) == 0


@pytest.mark.parametrize(
    ("job_fields", "account_events"),
    [
        ({"webhook_url": URL, "webhook_events": ["completed", "started"]}, None),
        ({"webhook_events": ["completed", "started"]}, ["completed"]),
        ({}, ["completed", "started"]),
    ],
    ids=["the job's own webhook", "the job's events, the account's URL", "the account's default events"],
)
def test_a_first_start_a_webhook_asks_for_is_recorded_with_the_claim(alice, job_fields, account_events):
    if account_events is not None:
        webhook_settings_update(user=alice, default_url=URL, default_events=account_events)
    job = _job(alice, **job_fields)

    claimed, statements = _claim(job)

    assert claimed is not None and claimed.status == Job.Status.RUNNING
    assert _started(job) == 1
    # The statement without a transaction found nothing to claim; the
    # transaction claimed it and recorded the event.
    assert sum(s.startswith("UPDATE") for s in statements) == 2


def test_a_start_a_disabled_default_url_would_get_goes_nowhere(alice):
    webhook_settings_update(user=alice, default_url=URL, default_events=["completed", "started"])
    alice.webhooks.default_url_disabled_at = alice.date_joined
    alice.webhooks.save()
    job = _job(alice)

    claimed, _ = _claim(job)

    assert claimed is not None and _started(job) == 0


def test_a_redelivered_claim_takes_one_statement_and_is_not_news_again(alice):
    job = _job(alice, webhook_url=URL, webhook_events=["completed", "started"])
    assert _claim(job, "run-1")[0] is not None
    assert _started(job) == 1

    # Its worker died; the same message comes back.
    claimed, statements = _claim(job, "run-1")

    assert claimed is not None and claimed.attempts == 2
    assert len(statements) == 1
    assert _started(job) == 1


def test_a_job_held_by_a_live_run_or_finished_is_not_claimed(alice):
    held = _job(alice)
    assert _claim(held, "run-1")[0] is not None
    finished = _job(alice, status=Job.Status.SUCCEEDED)

    assert _claim(held, "run-2")[0] is None
    assert _claim(finished, "run-3")[0] is None
    assert Job.objects.get(pk=held.pk).worker_task_id == "run-1"
