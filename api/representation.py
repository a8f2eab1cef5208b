"""A job's JSON as the API shows it (GET /api/v1/jobs/{id}, every other job
endpoint, webhook payloads), built straight from the model: DRF's field
machinery cost more than a whole database round trip a job, and the workers
render it for webhook payloads without loading DRF's serializers or the
URLconf. api.serializers.JobSerializer stays the documented schema;
tests/api/test_job_representation.py holds the two equal for every state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.urls import get_script_prefix

from api import paths
from api.models import Job
from billing.pricing import micros_to_usd

# The job's paths under the API's root, with a slot for its ID.
_JOB_ID = "<uuid:job_id>"
_GET = f"{paths.API_ROOT}{paths.JOB}".replace(_JOB_ID, "{}")
_CANCEL = f"{paths.API_ROOT}{paths.JOB_CANCEL}".replace(_JOB_ID, "{}")


def job_representation(job: Job) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "object": "job",
        "status": job.status,
        "created_at": job_time(job.created_at),
        "started_at": job_time(job.started_at),
        "completed_at": job_time(job.completed_at),
        "model": job.model,
        "detail": job.detail,
        "prompt": job.prompt,
        "metadata": {str(key): str(value) for key, value in (job.metadata or {}).items()},
        "webhook_url": job.webhook_url or None,
        "webhook_events": [str(event) for event in job.webhook_events],
        "result": job_result(job),
        "error": job_error(job),
        "usage": job_usage(job),
        "urls": job_urls(job),
    }


def job_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC ("...Z") whatever time zone is active, as DRF renders
    a DateTimeField(default_timezone=UTC); a fixed zone spares the lookup of
    the active one (about 10 µs a time, up to three a job)."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def job_result(job: Job) -> Any:
    return job.result if job.status == Job.Status.SUCCEEDED else None


def job_error(job: Job) -> dict[str, str] | None:
    if job.status == Job.Status.FAILED:
        return {"code": job.error_code, "message": job.error_message}
    if job.status == Job.Status.CANCELED:
        return {
            "code": job.error_code or "canceled",
            "message": job.error_message or "Canceled by the client.",
        }
    return None


def job_usage(job: Job) -> dict[str, Any] | None:
    """Token counts and cost of a succeeded job; None for any other job. Only
    a succeeded job is billed, so no other job's usage is looked up (a job
    created a moment ago costs no query)."""
    if job.status != Job.Status.SUCCEEDED:
        return None
    try:
        usage = job.usage
    except ObjectDoesNotExist:
        return None
    return {
        "input_tokens": usage.input_tokens,
        "cached_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
        "cost": micros_to_usd(usage.cost_micros),
        "currency": "USD",
    }


def job_urls(job: Job) -> dict[str, str]:
    prefix, job_id = get_script_prefix(), str(job.id)
    return {"get": prefix + _GET.format(job_id), "cancel": prefix + _CANCEL.format(job_id)}
