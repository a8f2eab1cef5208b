"""Usage as the jobs pipeline writes it: a succeeded job and its usage record,
created in one transaction through the real service."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction

from accounts.models import User
from api.models import Job
from billing.models import BillingPeriod, UsageRecord
from billing.services import usage_record_create


def at(text: str) -> datetime:
    """`at("2024-02-29 23:59:59")` in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_usage(
    user: User,
    *,
    completed_at: datetime,
    model: str = "gpt-4o-mini",
    input_tokens: int = 1000,
    cached_tokens: int = 0,
    output_tokens: int = 500,
) -> UsageRecord:
    with transaction.atomic():
        job = Job.objects.create(
            user=user, model=model, status=Job.Status.SUCCEEDED, completed_at=completed_at
        )
        return usage_record_create(
            job=job,
            model=model,
            input_tokens=input_tokens,
            cached_tokens=cached_tokens,
            output_tokens=output_tokens,
            completed_at=completed_at,
        )


def make_period(
    user: User,
    *,
    month: str,
    status: str = BillingPeriod.Status.OPEN,
    amount_micros: int = 0,
    due_at: datetime | None = None,
) -> BillingPeriod:
    """A period for `month` ("2024-02") in the given state, as the roll and
    the operators would have left it."""
    from billing.periods import month_bounds

    starts_at, ends_at = month_bounds(at(f"{month}-01 00:00:00"))
    closed = status != BillingPeriod.Status.OPEN
    if status == BillingPeriod.Status.OVERDUE:
        # What periods_mark_overdue keeps in step: the flag submissions read.
        type(user).objects.filter(pk=user.pk).update(billing_overdue=True)
        user.billing_overdue = True
    return BillingPeriod.objects.create(
        user=user,
        starts_at=starts_at,
        ends_at=ends_at,
        status=status,
        amount_micros=amount_micros,
        closed_at=ends_at if closed else None,
        due_at=(due_at or ends_at) if closed else None,
        paid_at=ends_at if status == BillingPeriod.Status.PAID else None,
    )
