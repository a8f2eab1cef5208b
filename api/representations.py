"""The JSON of one job, exactly as `GET /api/v1/jobs/{id}` renders it. Webhook
event payloads reuse it, so a client parses one shape everywhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from rest_framework.fields import DateTimeField

from api.models import Job
from billing.pricing import micros_to_usd

_datetime = DateTimeField()


def _timestamp(value: datetime | None) -> str | None:
    return _datetime.to_representation(value) if value is not None else None


def job_urls(job: Job) -> dict[str, str]:
    return {
        "get": reverse("api:job-detail", kwargs={"job_id": job.id}),
        "cancel": reverse("api:job-cancel", kwargs={"job_id": job.id}),
    }


def job_usage(job: Job) -> dict[str, Any] | None:
    """Token counts and cost of a succeeded job; None for any other job."""
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


def job_representation(job: Job) -> dict[str, Any]:
    error = (
        {"code": job.error_code, "message": job.error_message} if job.status == Job.Status.FAILED else None
    )
    if job.status == Job.Status.CANCELED:
        error = {
            "code": job.error_code or "canceled",
            "message": job.error_message or "Canceled by the client.",
        }
    return {
        "id": str(job.id),
        "object": "job",
        "status": job.status,
        "created_at": _timestamp(job.created_at),
        "started_at": _timestamp(job.started_at),
        "completed_at": _timestamp(job.completed_at),
        "model": job.model,
        "detail": job.detail,
        "prompt": job.prompt,
        "metadata": job.metadata,
        "webhook_url": job.webhook_url or None,
        "webhook_events": job.webhook_events,
        "result": job.result if job.status == Job.Status.SUCCEEDED else None,
        "error": error,
        "usage": job_usage(job),
        "urls": job_urls(job),
    }
