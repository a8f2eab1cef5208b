from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from freezegun import freeze_time

from api.models import Job
from billing.models import BillingPeriod, UsageRecord
from billing.services import usage_record_create
from tests.billing.factories import at, make_period, make_usage
from tests.races import needs_postgresql, transaction_held_open


def test_it_bills_the_job_in_the_period_of_the_month_it_completed_in(alice):
    record = make_usage(alice, completed_at=at("2024-02-29 23:59:59.999999"))

    period = record.period
    assert (period.user_id, period.status) == (alice.pk, "open")
    assert (period.starts_at, period.ends_at) == (at("2024-02-01 00:00:00"), at("2024-03-01 00:00:00"))


def test_it_keeps_running_totals_on_the_open_period_once_the_job_commits(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = make_usage(alice, completed_at=at("2024-05-02 10:00:00"), input_tokens=100, output_tokens=10)
    assert BillingPeriod.objects.get(pk=first.period_id).jobs_count == 1
    with django_capture_on_commit_callbacks(execute=True):
        second = make_usage(
            alice,
            completed_at=at("2024-05-03 10:00:00"),
            input_tokens=200,
            cached_tokens=50,
            output_tokens=20,
        )

    period = BillingPeriod.objects.get(pk=first.period_id)
    assert second.period_id == period.pk
    assert period.jobs_count == 2
    assert (period.input_tokens, period.cached_tokens, period.output_tokens) == (300, 50, 30)
    assert period.amount_micros == first.cost_micros + second.cost_micros


def test_it_keeps_the_prices_the_job_was_charged_at(alice, settings):
    settings.COST_PER_REQUEST_CENTS = 2
    settings.MODEL_PRICES = {"gpt-4o-mini": {"input": "1.00", "cached_input": "0.50", "output": "4.00"}}
    before = make_usage(alice, completed_at=at("2024-05-02 10:00:00"), input_tokens=1000, output_tokens=100)

    settings.MODEL_PRICES = {"gpt-4o-mini": {"input": "9.00", "output": "9.00"}}
    before.refresh_from_db()

    # 2 cents + 1000 x 1 µ$ + 100 x 4 µ$
    assert before.cost_micros == 20_000 + 1_000 + 400
    assert before.request_fee_micros == 20_000
    assert str(before.input_price_per_million) == "1.000000"
    assert str(before.output_price_per_million) == "4.000000"


def test_it_bills_a_job_only_once(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record = make_usage(alice, completed_at=at("2024-05-02 10:00:00"))

    with pytest.raises(IntegrityError), transaction.atomic():
        usage_record_create(
            job=record.job,
            model="gpt-4o-mini",
            input_tokens=1,
            cached_tokens=0,
            output_tokens=1,
            completed_at=at("2024-05-02 10:00:01"),
        )
    assert UsageRecord.objects.filter(job=record.job).count() == 1
    assert BillingPeriod.objects.get(pk=record.period_id).jobs_count == 1


def test_running_totals_are_not_added_to_a_period_closed_before_they_were(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record = make_usage(alice, completed_at=at("2024-05-02 10:00:00"), input_tokens=100)
    # The roll closed May between the job's commit and its running totals.
    BillingPeriod.objects.filter(pk=record.period_id).update(
        status="closed",
        closed_at=at("2024-06-01 00:00:00"),
        due_at=at("2024-06-15 00:00:00"),
        jobs_count=1,
        input_tokens=100,
    )
    for callback in callbacks:
        callback()
    period = BillingPeriod.objects.get(pk=record.period_id)
    assert (period.jobs_count, period.input_tokens) == (1, 100)


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_one_accounts_successes_do_not_wait_for_each_other(alice):
    """A success transaction of the account stays open; another one of the
    same account bills its job and commits meanwhile."""
    make_period(alice, month="2024-05")

    def first_job() -> None:
        make_usage(alice, completed_at=at("2024-05-02 10:00:00"), input_tokens=100)

    with transaction_held_open(first_job):
        with connection.cursor() as cursor:
            # Would wait for the first transaction (and fail) if it held the period's row.
            cursor.execute("SET lock_timeout = '2s'")
        second = make_usage(alice, completed_at=at("2024-05-03 10:00:00"), input_tokens=200)
    period = BillingPeriod.objects.get(pk=second.period_id)
    assert UsageRecord.objects.filter(period=period).count() == 2
    # Both running totals were added after their commits.
    assert (period.jobs_count, period.input_tokens) == (2, 300)


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_run_outside_the_jobs_transaction(alice):
    job = Job.objects.create(user=alice, model="gpt-4o-mini", status=Job.Status.SUCCEEDED)

    with pytest.raises(RuntimeError, match="inside the job's success transaction"):
        usage_record_create(
            job=job,
            model="gpt-4o-mini",
            input_tokens=1,
            cached_tokens=0,
            output_tokens=1,
            completed_at=at("2024-05-02 10:00:00"),
        )


@freeze_time("2024-03-01 00:10:00")
def test_a_record_committed_after_its_month_was_closed_is_billed_in_the_open_period(alice):
    february = make_period(alice, month="2024-02", status="closed", due_at=at("2024-03-15 00:00:00"))

    record = make_usage(alice, completed_at=at("2024-02-29 23:59:59"))

    assert record.period_id != february.pk
    assert record.period.starts_at == at("2024-03-01 00:00:00")
    february.refresh_from_db()
    assert (february.jobs_count, february.amount_micros) == (0, 0)
