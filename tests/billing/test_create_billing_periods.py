from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import BillingPeriod
from tests.billing.factories import at, make_usage


def test_it_rolls_as_of_the_given_moment(alice):
    record = make_usage(alice, completed_at=at("2024-02-29 23:00:00"))
    out = StringIO()

    call_command("create_billing_periods", "--now", "2024-03-01T00:05:00Z", stdout=out)
    call_command("create_billing_periods", "--now", "2024-03-01T00:05:00", stdout=out)

    assert out.getvalue().splitlines() == [
        "closed 1 (settled at zero: 0), opened 1",
        "closed 0 (settled at zero: 0), opened 0",
    ]
    assert BillingPeriod.objects.get(pk=record.period_id).status == "closed"
    assert BillingPeriod.objects.filter(
        user=alice, starts_at=at("2024-03-01 00:00:00"), status="open"
    ).exists()


def test_it_rejects_a_moment_that_is_not_a_datetime(db):
    with pytest.raises(CommandError, match="not an ISO 8601 datetime"):
        call_command("create_billing_periods", "--now", "next tuesday")


def test_it_refuses_a_moment_in_the_future(alice):
    # Rolling "next month" now would close the running month under live jobs.
    with pytest.raises(CommandError, match="is in the future"):
        call_command("create_billing_periods", "--now", "2999-01-01T00:00:00Z")
    assert not BillingPeriod.objects.exists()
