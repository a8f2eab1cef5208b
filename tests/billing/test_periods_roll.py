from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Sum
from freezegun import freeze_time

from accounts.models import User
from api.models import Job
from billing.models import BillingPeriod, UsageRecord
from billing.periods import month_bounds
from billing.services import periods_roll
from tests.billing.factories import at, make_period, make_usage
from tests.races import InThread, needs_postgresql, seen_waiting_for_a_lock, transaction_held_open


def _totals_from_records(period: BillingPeriod) -> tuple[int, int, int, int, int]:
    agg = UsageRecord.objects.filter(period=period).aggregate(
        jobs=Count("id"),
        input=Sum("input_tokens"),
        cached=Sum("cached_tokens"),
        output=Sum("output_tokens"),
        amount=Sum("cost_micros"),
    )
    return (agg["jobs"], agg["input"] or 0, agg["cached"] or 0, agg["output"] or 0, agg["amount"] or 0)


def _frozen_totals(period: BillingPeriod) -> tuple[int, int, int, int, int]:
    period.refresh_from_db()
    return (
        period.jobs_count,
        period.input_tokens,
        period.cached_tokens,
        period.output_tokens,
        period.amount_micros,
    )


def test_at_the_end_of_a_leap_february_it_closes_the_month_with_the_sum_of_its_records(alice, bob, settings):
    settings.BILLING_DUE_DAYS = 14
    first = make_usage(alice, completed_at=at("2024-02-01 00:00:00"), input_tokens=1234, output_tokens=99)
    make_usage(alice, completed_at=at("2024-02-29 23:59:59.999999"), input_tokens=7, cached_tokens=3)
    make_usage(bob, completed_at=at("2024-02-15 12:00:00"), model="gpt-4o", input_tokens=10_000)
    now = at("2024-03-01 00:05:00")

    result = periods_roll(now=now)

    february = BillingPeriod.objects.get(user=alice, starts_at=at("2024-02-01 00:00:00"))
    assert february.pk == first.period_id
    assert february.status == "closed"
    assert (february.closed_at, february.due_at) == (now, now + timedelta(days=14))
    assert _frozen_totals(february) == _totals_from_records(february)
    assert february.jobs_count == 2
    march = BillingPeriod.objects.get(user=alice, starts_at=at("2024-03-01 00:00:00"))
    assert (march.status, march.ends_at) == ("open", at("2024-04-01 00:00:00"))
    assert (result.closed, result.settled, result.opened) == (2, 0, 2)


def test_it_leaves_a_period_open_until_its_last_microsecond_has_passed(alice):
    period = make_usage(alice, completed_at=at("2023-02-28 23:00:00")).period

    periods_roll(now=at("2023-02-28 23:59:59.999999"))
    period.refresh_from_db()
    assert period.status == "open"

    periods_roll(now=at("2023-03-01 00:00:00"))
    period.refresh_from_db()
    assert period.status == "closed"


def test_it_rolls_december_into_january_of_the_next_year(alice):
    make_period(alice, month="2024-12")

    periods_roll(now=at("2025-01-01 00:05:00"))

    assert list(BillingPeriod.objects.filter(user=alice).values_list("starts_at", "status")) == [
        (at("2025-01-01 00:00:00"), "open"),
        (at("2024-12-01 00:00:00"), "paid"),
    ]


def test_running_it_twice_changes_nothing_more(alice, bob):
    make_usage(alice, completed_at=at("2024-02-10 00:00:00"))
    now = at("2024-03-01 00:05:00")
    periods_roll(now=now)
    before = list(BillingPeriod.objects.order_by("pk").values())

    again = periods_roll(now=now)
    later = periods_roll(now=now + timedelta(hours=1))

    assert (again.closed, again.settled, again.opened) == (0, 0, 0)
    assert (later.closed, later.settled, later.opened) == (0, 0, 0)
    assert list(BillingPeriod.objects.order_by("pk").values()) == before


def test_a_closed_month_with_nothing_to_pay_is_settled_at_once(alice):
    empty = make_period(alice, month="2024-02")

    result = periods_roll(now=at("2024-03-01 00:05:00"))

    empty.refresh_from_db()
    assert (empty.status, empty.amount_micros, empty.paid_at) == ("paid", 0, at("2024-03-01 00:05:00"))
    assert result.settled == 1


def test_it_opens_periods_for_active_accounts_only(alice, bob):
    bob.is_active = False
    bob.save(update_fields=["is_active"])

    periods_roll(now=at("2024-07-04 09:00:00"))

    assert BillingPeriod.objects.filter(user=alice, starts_at=at("2024-07-01 00:00:00")).exists()
    assert not BillingPeriod.objects.filter(user=bob).exists()


def test_it_recomputes_frozen_totals_from_the_records_not_the_running_totals(alice):
    record = make_usage(alice, completed_at=at("2024-02-10 00:00:00"))
    BillingPeriod.objects.filter(pk=record.period_id).update(jobs_count=99, amount_micros=1)

    periods_roll(now=at("2024-03-01 00:05:00"))

    assert _frozen_totals(record.period) == _totals_from_records(record.period)


def _many_accounts_with_february_usage(count: int) -> None:
    users = User.objects.bulk_create([User(email=f"user{i}@example.com", password="!") for i in range(count)])
    starts_at, ends_at = month_bounds(at("2024-02-01 00:00:00"))
    periods = BillingPeriod.objects.bulk_create(
        [BillingPeriod(user=user, starts_at=starts_at, ends_at=ends_at) for user in users]
    )
    jobs = Job.objects.bulk_create(
        [Job(user=user, model="gpt-4o-mini", status=Job.Status.SUCCEEDED) for user in users for _ in range(2)]
    )
    period_of = {period.user_id: period for period in periods}
    UsageRecord.objects.bulk_create(
        [
            UsageRecord(
                job=job,
                user_id=job.user_id,
                period=period_of[job.user_id],
                model="gpt-4o-mini",
                input_tokens=n,
                output_tokens=n // 2,
                cost_micros=10_000 + n,
                created_at=at("2024-02-20 00:00:00"),
            )
            for n, job in enumerate(jobs)
        ]
    )


@pytest.mark.parametrize("accounts", [50, 500])
def test_it_takes_the_same_handful_of_queries_for_any_number_of_accounts(
    accounts, db, django_assert_max_num_queries
):
    _many_accounts_with_february_usage(accounts)

    # 4 statements, plus the savepoint around them (and, on PostgreSQL, the
    # advisory lock and the row locks of the periods to close).
    with django_assert_max_num_queries(8):
        result = periods_roll(now=at("2024-03-01 00:05:00"))

    assert (result.closed, result.opened) == (accounts, accounts)
    february = BillingPeriod.objects.filter(starts_at=at("2024-02-01 00:00:00"))
    assert (
        february.aggregate(total=Sum("amount_micros"))["total"]
        == UsageRecord.objects.aggregate(total=Sum("cost_micros"))["total"]
    )


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_two_rolls_at_once_close_and_open_each_period_exactly_once():
    _many_accounts_with_february_usage(200)
    now = at("2024-03-01 00:05:00")
    barrier = threading.Barrier(2)
    results = []
    errors: list[BaseException] = []

    def roll() -> None:
        try:
            barrier.wait()
            results.append(periods_roll(now=now))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=roll) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(r.closed for r in results) == [0, 200]
    assert sorted(r.opened for r in results) == [0, 200]
    assert BillingPeriod.objects.filter(starts_at=at("2024-03-01 00:00:00"), status="open").count() == 200
    for period in BillingPeriod.objects.filter(starts_at=at("2024-02-01 00:00:00")):
        assert period.status == "closed"
        assert _frozen_totals(period) == _totals_from_records(period)


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_a_close_waits_for_a_record_still_being_committed_and_counts_it(alice):
    """A job completes in the last microsecond of February; its transaction is
    still open when the roll starts. The roll must wait and count it."""
    make_period(alice, month="2024-02")  # opened by the previous roll

    def finish_job() -> None:
        make_usage(alice, completed_at=at("2024-02-29 23:59:59.999999"), input_tokens=31337)

    with transaction_held_open(finish_job):
        roll = InThread(lambda: periods_roll(now=at("2024-03-01 00:00:00")))
        # The roll blocked on the period's row lock (not done, which would be
        # the bug this test is about).
        blocked = seen_waiting_for_a_lock(unless=roll.done)

    assert blocked

    february = BillingPeriod.objects.get(user=alice, starts_at=at("2024-02-01 00:00:00"))
    assert roll.result().closed == 1
    assert (february.status, february.jobs_count, february.input_tokens) == ("closed", 1, 31337)
    assert _frozen_totals(february) == _totals_from_records(february)


@pytest.mark.django_db(transaction=True)
@needs_postgresql
@freeze_time("2024-03-01 00:00:05")
def test_a_record_that_waited_for_a_close_is_billed_in_the_next_period(alice):
    """The other order: the roll holds February, closing it, when a job that
    completed in its last microsecond comes to be billed. The record waits
    for the close to commit, then finds February closed and joins March."""
    make_period(alice, month="2024-02")

    def finish_job() -> UsageRecord:
        return make_usage(alice, completed_at=at("2024-02-29 23:59:59.999999"), input_tokens=31337)

    with transaction_held_open(lambda: periods_roll(now=at("2024-03-01 00:00:00"))):
        job = InThread(finish_job)
        # The job's transaction blocked on February's row lock.
        blocked = seen_waiting_for_a_lock(unless=job.done)

    record = job.result()  # raises what the job raised
    assert blocked
    february = BillingPeriod.objects.get(user=alice, starts_at=at("2024-02-01 00:00:00"))
    march = BillingPeriod.objects.get(user=alice, starts_at=at("2024-03-01 00:00:00"))
    assert record.period_id == march.pk
    assert february.status != "open"
    assert (february.jobs_count, february.input_tokens) == (0, 0)
    assert _frozen_totals(february) == _totals_from_records(february)
    assert UsageRecord.objects.filter(period=march).count() == 1
