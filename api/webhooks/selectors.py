from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from accounts.models import User
from api.models import Job
from api.webhooks.models import WebhookDelivery


def webhook_deliveries_for_job(*, user: User, job_id: UUID) -> QuerySet[WebhookDelivery]:
    """A job's deliveries, oldest first, with their attempts. Another user's
    job is 404, like a missing one."""
    if not Job.objects.filter(pk=job_id, user=user).exists():
        raise NotFound("No such job.")
    return (
        WebhookDelivery.objects.filter(job_id=job_id)
        .prefetch_related("attempts")
        .order_by("created_at", "id")
    )


def webhook_delivery_get_for_user(*, user: User, delivery_id: UUID) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.filter(pk=delivery_id, user=user).first()
    if delivery is None:
        raise NotFound("No such webhook delivery.")
    return delivery


def webhook_deliveries_recent_for_user(*, user: User, limit: int = 20) -> QuerySet[WebhookDelivery]:
    """The user's latest deliveries, newest first."""
    return WebhookDelivery.objects.filter(user=user).order_by("-created_at", "-id")[:limit]
