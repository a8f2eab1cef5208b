from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from api.models import Job
from api.webhooks.models import WebhookDelivery
from tests.fakes.webhook_receiver import WebhookReceiver
from workers.celery import app


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks published by the code under test run at once, in this process
    (unit tests of the dispatcher; end-to-end tests use a real worker)."""
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


def make_job(user: User, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "status": Job.Status.SUCCEEDED,
        "result": {"answer": "42"},
        "request_id": "req-webhooks-test-0001",
        "completed_at": timezone.now(),
    }
    values.update(fields)
    return Job.objects.create(user=user, **values)


def make_delivery(
    user: User, url: str, *, event_type: str = "job.succeeded", **job_fields: Any
) -> WebhookDelivery:
    """A job with a webhook and the delivery its event records (first attempt
    not yet made: tests make it by calling the task)."""
    from api.webhooks.services import webhook_deliveries_create_for_event

    job = make_job(user, webhook_url=url, **job_fields)
    (delivery,) = webhook_deliveries_create_for_event(job=job, event_type=event_type)
    return delivery
