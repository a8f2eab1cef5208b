"""Calendar arithmetic for billing periods: one calendar month, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone


def month_start(moment: datetime) -> datetime:
    """Midnight UTC on the first day of the month `moment` falls in."""
    if timezone.is_naive(moment):
        raise ValueError("billing periods need an aware datetime")
    utc = moment.astimezone(UTC)
    return utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """[starts_at, ends_at) of the month `moment` falls in. Built from the
    first of the month, never by adding days, so month lengths and leap
    years take care of themselves."""
    start = month_start(moment)
    if start.month == 12:
        return start, start.replace(year=start.year + 1, month=1)
    return start, start.replace(month=start.month + 1)
