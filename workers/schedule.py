"""Periodic tasks run by beat (all on the `maintenance` queue unless routed
otherwise). django-celery-beat copies these into its tables at startup, where
operators see them in the admin. One entry per task; times in seconds or
crontab (UTC)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
# Billing: close ended periods and open the month's (hourly, so a missed
# run at the month's turn is made up within the hour; idempotent), then
# mark unpaid periods overdue once past their due date.
BEAT_SCHEDULE["roll-billing-periods"] = {
    "task": "workers.tasks.billing.roll_billing_periods_task",
    "schedule": crontab(minute="5"),
}
BEAT_SCHEDULE["mark-overdue-periods"] = {
    "task": "workers.tasks.billing.mark_overdue_periods_task",
    "schedule": crontab(minute="15"),
}
# Webhook attempts that are due (first attempts, retries, leases expired).
BEAT_SCHEDULE["dispatch-due-webhooks"] = {
    "task": "workers.tasks.webhooks.dispatch_due_webhooks_task",
    "schedule": 5.0,
}

# Jobs left queued (lost broker message) are published again.
BEAT_SCHEDULE["requeue-stale-jobs"] = {
    "task": "workers.tasks.recovery.requeue_stale_jobs_task",
    "schedule": 60.0,
}
# Jobs left running past their deadline (their worker died) are retried or failed.
BEAT_SCHEDULE["recover-expired-jobs"] = {
    "task": "workers.tasks.recovery.recover_expired_jobs_task",
    "schedule": 60.0,
}
# Input images of jobs finished more than JOB_INPUT_RETENTION_DAYS ago.
BEAT_SCHEDULE["purge-expired-inputs"] = {
    "task": "workers.tasks.recovery.purge_expired_inputs_task",
    "schedule": 3600.0,
}
