from __future__ import annotations

from billing.models import BillingPeriod


def overdue_period_for_user(*, user_id: int) -> BillingPeriod | None:
    """The oldest overdue period of an account, if any (blocks new jobs)."""
    return (
        BillingPeriod.objects.filter(user_id=user_id, status=BillingPeriod.Status.OVERDUE)
        .order_by("starts_at")
        .first()
    )
