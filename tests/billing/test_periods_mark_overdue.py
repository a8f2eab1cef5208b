from __future__ import annotations

from billing.models import BillingPeriod
from billing.selectors import overdue_period_for_user
from billing.services import periods_mark_overdue, periods_roll
from tests.billing.factories import at, make_period, make_usage


def test_it_marks_closed_unpaid_periods_past_their_due_date_overdue(alice, bob, settings):
    settings.BILLING_DUE_DAYS = 14
    make_usage(alice, completed_at=at("2024-02-10 00:00:00"))
    make_usage(bob, completed_at=at("2024-02-11 00:00:00"))
    periods_roll(now=at("2024-03-01 00:05:00"))
    BillingPeriod.objects.filter(user=bob, status="closed").update(
        status="paid", paid_at=at("2024-03-02 00:00:00")
    )

    assert periods_mark_overdue(now=at("2024-03-15 00:04:59")) == 0
    assert periods_mark_overdue(now=at("2024-03-15 00:05:00")) == 1

    february = BillingPeriod.objects.get(user=alice, starts_at=at("2024-02-01 00:00:00"))
    assert february.status == "overdue"
    assert overdue_period_for_user(user_id=alice.pk) == february
    assert overdue_period_for_user(user_id=bob.pk) is None


def test_running_it_again_changes_nothing_more(alice):
    make_period(alice, month="2024-01", status="closed", amount_micros=10, due_at=at("2024-02-15 00:00:00"))

    assert periods_mark_overdue(now=at("2024-03-01 00:00:00")) == 1
    assert periods_mark_overdue(now=at("2024-03-01 00:00:00")) == 0
    assert BillingPeriod.objects.get(user=alice).status == "overdue"


def test_open_and_paid_periods_are_never_overdue(alice):
    make_period(alice, month="2024-01", status="paid", amount_micros=10, due_at=at("2024-02-15 00:00:00"))
    make_period(alice, month="2024-02")

    assert periods_mark_overdue(now=at("2025-01-01 00:00:00")) == 0
    assert overdue_period_for_user(user_id=alice.pk) is None


def test_the_oldest_overdue_period_is_the_one_named(alice):
    older = make_period(alice, month="2024-01", status="overdue", amount_micros=5)
    make_period(alice, month="2024-02", status="overdue", amount_micros=5)

    assert overdue_period_for_user(user_id=alice.pk) == older
