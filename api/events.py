"""The one place job transitions announce themselves to the rest of the
system (webhooks). Called by the job services inside the transaction of each
transition, so an event exists if and only if the transition committed."""

from __future__ import annotations

from api.models import Job

# The event types: the only definition (webhook payloads' `type`).
STARTED = "job.started"
SUCCEEDED = "job.succeeded"
FAILED = "job.failed"
CANCELED = "job.canceled"


def job_event_publish(*, job: Job, event_type: str) -> None:
    from api.webhooks.services import webhook_deliveries_create_for_event

    webhook_deliveries_create_for_event(job=job, event_type=event_type)


def job_event_wanted(*, job: Job, event_type: str) -> bool:
    """Whether job_event_publish would record anything for this event."""
    from api.webhooks.services import webhook_event_wanted

    return webhook_event_wanted(job=job, event_type=event_type)


def job_start_unwanted_sql(job_table: str) -> str:
    """SQL true of a job row (of `job_table`) whose start job_event_publish
    would record nothing for (PostgreSQL)."""
    from api.webhooks.services import webhook_started_unwanted_sql

    return webhook_started_unwanted_sql(job_table)
