from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from billing.models import BillingPeriod
from tests.billing.factories import at, make_period


def test_it_marks_periods_overdue_as_of_the_given_moment(alice):
    period = make_period(
        alice, month="2024-01", status="closed", amount_micros=7, due_at=at("2024-02-15 00:05:00")
    )
    out = StringIO()

    call_command("mark_overdue_periods", "--now", "2024-02-15T00:04:59+00:00", stdout=out)
    call_command("mark_overdue_periods", "--now", "2024-02-15T01:05:00+01:00", stdout=out)

    assert out.getvalue().splitlines() == ["marked 0 overdue", "marked 1 overdue"]
    assert BillingPeriod.objects.get(pk=period.pk).status == "overdue"
