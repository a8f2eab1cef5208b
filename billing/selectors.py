"""Reads of the billing app: what an account owes and what it used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate

from billing.models import BillingPeriod, UsageRecord
from billing.periods import month_bounds


def overdue_period_for_user(*, user_id: int) -> BillingPeriod | None:
    """The oldest overdue period of an account, if any (blocks new jobs)."""
    return (
        BillingPeriod.objects.filter(user_id=user_id, status=BillingPeriod.Status.OVERDUE)
        .order_by("starts_at")
        .first()
    )


def usage_list_for_user(
    *,
    user_id: int,
    period_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[UsageRecord]:
    """One account's usage records, newest first; `since` inclusive, `until`
    exclusive."""
    records = UsageRecord.objects.filter(user_id=user_id)
    if period_id is not None:
        records = records.filter(period_id=period_id)
    if since is not None:
        records = records.filter(created_at__gte=since)
    if until is not None:
        records = records.filter(created_at__lt=until)
    return records.order_by("-created_at", "-id")


def period_list_for_user(*, user_id: int, status: str | None = None) -> QuerySet[BillingPeriod]:
    periods = BillingPeriod.objects.filter(user_id=user_id)
    if status:
        periods = periods.filter(status=status)
    return periods.order_by("-starts_at")


@dataclass(frozen=True)
class UsageTotals:
    jobs: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    amount_micros: int = 0


@dataclass(frozen=True, kw_only=True)
class DayUsage(UsageTotals):
    day: date


@dataclass(frozen=True, kw_only=True)
class CurrentUsage(UsageTotals):
    period_id: int | None
    starts_at: datetime
    ends_at: datetime
    days: list[DayUsage]


@dataclass(frozen=True)
class BillingSummary:
    current: CurrentUsage
    last_closed: BillingPeriod | None


def billing_summary_for_user(*, user_id: int, now: datetime) -> BillingSummary:
    """The current month to date, day by day (UTC days), summed from the usage
    records themselves so that the figures match them exactly; plus the last
    period that was closed."""
    starts_at, ends_at = month_bounds(now)
    period = BillingPeriod.objects.filter(user_id=user_id, starts_at=starts_at).first()
    rows = (
        UsageRecord.objects.filter(period=period)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(
            jobs=Count("id"),
            input=Sum("input_tokens"),
            cached=Sum("cached_tokens"),
            output=Sum("output_tokens"),
            amount=Sum("cost_micros"),
        )
        .order_by("day")
    )
    days = (
        [
            DayUsage(
                day=row["day"],
                jobs=row["jobs"],
                input_tokens=row["input"],
                cached_tokens=row["cached"],
                output_tokens=row["output"],
                amount_micros=row["amount"],
            )
            for row in rows
        ]
        if period is not None
        else []
    )
    current = CurrentUsage(
        period_id=period.pk if period is not None else None,
        starts_at=starts_at,
        ends_at=ends_at,
        days=days,
        jobs=sum(d.jobs for d in days),
        input_tokens=sum(d.input_tokens for d in days),
        cached_tokens=sum(d.cached_tokens for d in days),
        output_tokens=sum(d.output_tokens for d in days),
        amount_micros=sum(d.amount_micros for d in days),
    )
    last_closed = (
        BillingPeriod.objects.filter(user_id=user_id)
        .exclude(status=BillingPeriod.Status.OPEN)
        .order_by("-starts_at")
        .first()
    )
    return BillingSummary(current=current, last_closed=last_closed)
