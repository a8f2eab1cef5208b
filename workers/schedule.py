"""Periodic tasks run by beat, all on the `maintenance` queue, which a worker
of its own consumes (Procfile `maintenance`), so a solve backlog never delays
the sweepers that un-stick jobs. django-celery-beat copies these into its
tables at startup, where operators see them in the admin. One entry per
task; times in seconds or crontab (UTC).

Every entry expires before its next run (`expire_seconds`, the option
django-celery-beat stores; it ignores `expires`): a run not started by then
(the maintenance worker was down or busy) is dropped rather than piling up
behind the next one, which does the same work."""

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
    "options": {"expire_seconds": 30 * 60},
}
BEAT_SCHEDULE["mark-overdue-periods"] = {
    "task": "workers.tasks.billing.mark_overdue_periods_task",
    "schedule": crontab(minute="15"),
    "options": {"expire_seconds": 30 * 60},
}
# Webhook attempts that are due (first attempts, retries, leases expired).
BEAT_SCHEDULE["dispatch-due-webhooks"] = {
    "task": "workers.tasks.webhooks.dispatch_due_webhooks_task",
    "schedule": 5.0,
    "options": {"expire_seconds": 4.0},
}

# Jobs left queued (lost broker message, a retry that is due) are published
# again: every 15 s, so a retry lost in a broker restart runs soon after.
BEAT_SCHEDULE["requeue-stale-jobs"] = {
    "task": "workers.tasks.recovery.requeue_stale_jobs_task",
    "schedule": 15.0,
    "options": {"expire_seconds": 12.0},
}
# Running jobs whose lease ran out (their worker died) or past their deadline
# are retried or failed. Often, so a dead worker's jobs start again within
# about JOB_LEASE_S + 5 s; an indexed query that finds nothing most times.
BEAT_SCHEDULE["recover-expired-jobs"] = {
    "task": "workers.tasks.recovery.recover_expired_jobs_task",
    "schedule": 5.0,
    "options": {"expire_seconds": 4.0},
}
# Input images of jobs finished more than JOB_INPUT_RETENTION_DAYS ago.
BEAT_SCHEDULE["purge-expired-inputs"] = {
    "task": "workers.tasks.recovery.purge_expired_inputs_task",
    "schedule": 3600.0,
    "options": {"expire_seconds": 1800.0},
}
