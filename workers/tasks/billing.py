"""Beat tasks of the billing app, on the default `maintenance` queue. Both
services are idempotent and take turns when two run at once, so a duplicate
or redelivered message is harmless."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.utils import timezone

from billing.services import periods_mark_overdue, periods_roll

logger = logging.getLogger(__name__)


@shared_task(name="workers.tasks.billing.roll_billing_periods_task")
def roll_billing_periods_task() -> dict[str, Any]:
    result = periods_roll(now=timezone.now())
    logger.info(
        "billing periods rolled: %d closed, %d settled at zero, %d opened",
        result.closed,
        result.settled,
        result.opened,
    )
    return {"closed": result.closed, "settled": result.settled, "opened": result.opened}


@shared_task(name="workers.tasks.billing.mark_overdue_periods_task")
def mark_overdue_periods_task() -> dict[str, Any]:
    marked = periods_mark_overdue(now=timezone.now())
    logger.info("billing periods marked overdue: %d", marked)
    return {"overdue": marked}
