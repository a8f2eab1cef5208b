"""A job's success and its usage record in one statement (PostgreSQL, no
webhook delivery to record), and the transaction it falls back to when the
statement writes nothing: the claim lost, the period missing or closed."""

from __future__ import annotations

import threading
import time
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from api.models import Job
from api.services import job_mark_running, job_mark_succeeded
from api.webhooks.models import WebhookDelivery
from billing.models import BillingPeriod, UsageRecord
from billing.services import periods_roll
from tests.billing.factories import at, make_period
from tests.races import InThread, needs_postgresql, seen_waiting_for_a_lock, transaction_held_open

pytestmark = needs_postgresql


def _claimed(user, **fields) -> Job:
    job = Job.objects.create(user=user, model="gpt-4o-mini", **fields)
    claimed = job_mark_running(job_id=job.pk, task_id="run-1")
    assert claimed is not None
    return claimed


def _succeed(job: Job, *, input_tokens: int = 1000) -> bool:
    return job_mark_succeeded(
        job=job,
        task_id="run-1",
        result={"text": "x = 5", "final_answer": "5", "latex": []},
        model="gpt-4o-mini",
        input_tokens=input_tokens,
        cached_tokens=0,
        output_tokens=500,
    )


def _period_now(user) -> BillingPeriod:
    from django.utils import timezone

    from billing.periods import month_bounds

    return BillingPeriod.objects.get(user=user, starts_at=month_bounds(timezone.now())[0])


def test_without_a_webhook_it_takes_one_statement_with_the_running_totals(
    alice, django_capture_on_commit_callbacks
):
    period = make_period(alice, month=f"{time.gmtime().tm_year}-{time.gmtime().tm_mon:02d}")
    job = _claimed(alice)

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        assert _succeed(job, input_tokens=1234)

    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 1, statements
    assert statements[0].startswith("WITH period AS")
    job.refresh_from_db()
    record = UsageRecord.objects.get(job=job)
    assert (job.status, record.period_id, record.input_tokens) == (Job.Status.SUCCEEDED, period.pk, 1234)
    period.refresh_from_db()
    assert (period.jobs_count, period.input_tokens, period.amount_micros) == (1, 1234, record.cost_micros)


@pytest.mark.django_db(transaction=True)
def test_concurrent_successes_of_one_account_keep_its_running_totals_exact(alice):
    """Each statement adds to the one period row: they wait for each other's
    commit, and none of their additions is lost."""
    period = make_period(alice, month=f"{time.gmtime().tm_year}-{time.gmtime().tm_mon:02d}")
    jobs = [_claimed(alice) for _ in range(8)]
    start = threading.Barrier(len(jobs))

    def succeed(job: Job, tokens: int) -> bool:
        start.wait(30)
        return _succeed(job, input_tokens=tokens)

    runs = [InThread(partial(succeed, job, 1000 + n)) for n, job in enumerate(jobs)]

    assert all(run.result() for run in runs)
    records = UsageRecord.objects.filter(period=period)
    period.refresh_from_db()
    assert period.jobs_count == records.count() == len(jobs)
    assert period.input_tokens == sum(1000 + n for n in range(len(jobs)))
    assert period.amount_micros == sum(r.cost_micros for r in records)


def test_with_a_webhook_for_its_end_it_records_the_delivery_in_a_transaction(
    alice, django_capture_on_commit_callbacks
):
    make_period(alice, month=f"{time.gmtime().tm_year}-{time.gmtime().tm_mon:02d}")
    job = _claimed(alice, webhook_url="https://hooks.example.com/in", webhook_events=["completed"])

    with django_capture_on_commit_callbacks(execute=False), CaptureQueriesContext(connection) as queries:
        assert _succeed(job)

    assert not any(q["sql"].startswith("WITH period AS") for q in queries.captured_queries)
    delivery = WebhookDelivery.objects.get(job=job)
    assert (delivery.event_type, UsageRecord.objects.filter(job=job).count()) == ("job.succeeded", 1)


def test_a_retry_after_a_lost_acknowledgement_bills_nothing_more(alice, django_capture_on_commit_callbacks):
    """The statement committed but its answer never reached the worker (the
    connection dropped): the run writes again, as workers/runs.py does, and
    finds the job finished."""
    period = make_period(alice, month=f"{time.gmtime().tm_year}-{time.gmtime().tm_mon:02d}")
    job = _claimed(alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert _succeed(job)

    with django_capture_on_commit_callbacks(execute=True):
        assert not _succeed(job)

    assert UsageRecord.objects.filter(job=job).count() == 1
    period.refresh_from_db()
    assert period.jobs_count == 1


def test_a_lost_claim_writes_nothing(alice):
    make_period(alice, month=f"{time.gmtime().tm_year}-{time.gmtime().tm_mon:02d}")
    job = _claimed(alice)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELED)

    assert not _succeed(job)

    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED
    assert not UsageRecord.objects.filter(job=job).exists()
    assert _period_now(alice).jobs_count == 0


def test_with_no_period_open_the_transaction_opens_it_and_bills_the_job(alice):
    BillingPeriod.objects.filter(user=alice).delete()
    job = _claimed(alice)

    assert _succeed(job)

    record = UsageRecord.objects.get(job=job)
    assert record.period_id == _period_now(alice).pk
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
@freeze_time("2024-02-29 23:59:59.8")
def test_a_close_waits_for_the_statement_and_counts_its_record(alice):
    """The statement holds February's KEY SHARE lock (its transaction kept
    open here) when the roll comes to close February: the roll waits, then
    counts the record."""
    make_period(alice, month="2024-02")
    job = _claimed(alice)

    with transaction_held_open(lambda: _succeed(job, input_tokens=31337)):
        roll = InThread(lambda: periods_roll(now=at("2024-03-01 00:00:00")))
        blocked = seen_waiting_for_a_lock(unless=roll.done)

    assert blocked
    assert roll.result().closed == 1
    february = BillingPeriod.objects.get(user=alice, starts_at=at("2024-02-01 00:00:00"))
    record = UsageRecord.objects.get(job=job)
    assert record.period_id == february.pk
    assert (february.status, february.jobs_count, february.input_tokens) == ("closed", 1, 31337)


@pytest.mark.django_db(transaction=True)
def test_a_statement_that_waited_for_a_close_bills_the_job_in_the_next_period(alice):
    """The other order: the roll holds February, closing it, when the job
    succeeds. The statement waits, finds February closed and writes nothing;
    the transaction then bills the job in March, which the roll opened."""
    with freeze_time("2024-02-29 23:59:59.8") as clock:
        make_period(alice, month="2024-02")
        job = _claimed(alice)

        with transaction_held_open(lambda: periods_roll(now=at("2024-03-01 00:00:00"))):
            success = InThread(lambda: _succeed(job, input_tokens=31337))
            blocked = seen_waiting_for_a_lock(unless=success.done)
            # The job completed in February; its late charge is billed in
            # the period open when it is written.
            clock.move_to("2024-03-01 00:00:01")

        assert success.result() is True
        assert blocked
        february = BillingPeriod.objects.get(user=alice, starts_at=at("2024-02-01 00:00:00"))
        march = BillingPeriod.objects.get(user=alice, starts_at=at("2024-03-01 00:00:00"))
        assert UsageRecord.objects.get(job=job).period_id == march.pk
        assert (february.status != "open", february.jobs_count) == (True, 0)
        assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED
