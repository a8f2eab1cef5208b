from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from api.models import default_webhook_events


class WebhookAccount(models.Model):
    """One user's webhook configuration: the signing secret (kept in clear:
    HMAC needs it, and it is shown to its owner) and the default URL."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    secret = models.CharField(max_length=100)
    # After a rotation the old secret still signs until this time, so
    # receivers can switch without dropping deliveries.
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_created_at = models.DateTimeField(default=timezone.now)

    # Used for jobs submitted without a webhook_url.
    default_url = models.URLField(max_length=2048, blank=True)
    default_events = models.JSONField(default=default_webhook_events, blank=True)
    # Set when the receiver answered 410 Gone: no more deliveries to it until
    # the owner sets a URL again.
    default_url_disabled_at = models.DateTimeField(null=True, blank=True)
    default_url_disabled_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"webhooks of {self.user}"

    def signing_secrets(self, now: Any = None) -> list[str]:
        now = now or timezone.now()
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            secrets.append(self.previous_secret)
        return secrets


class WebhookDelivery(models.Model):
    """One event for one URL, from creation until it is delivered or given up.

    The retry schedule lives here (`next_attempt_at`), not in the broker: the
    dispatcher publishes what is due, so stopping workers or beat loses nothing.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    # Opaque, used in URLs.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The `webhook-id` header: the same for every attempt and redelivery, so
    # receivers can deduplicate.
    webhook_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey("api.Job", on_delete=models.CASCADE, related_name="webhook_deliveries")
    event_type = models.CharField(max_length=32)
    url = models.URLField(max_length=2048)
    # The exact JSON text sent (signatures cover these bytes).
    body = models.TextField()
    request_id = models.CharField(max_length=128, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Attempts made so far, including redeliveries; also the version a task
    # claims (attempt n is made only by whoever moves the count from n-1 to n).
    attempt_count = models.PositiveIntegerField(default=0)
    # Position in the retry schedule: attempts claimed since creation or the
    # last redelivery (counted at the claim, so an attempt whose outcome is
    # never recorded still counts).
    schedule_step = models.PositiveIntegerField(default=0)
    # attempt_count when the delivery was last redelivered. An attempt
    # numbered up to this was claimed before the redelivery: its outcome is
    # logged on its attempt row but no longer decides the delivery's state.
    redelivered_after_attempt = models.PositiveIntegerField(default=0)
    # When the next attempt is due; null once the delivery has ended.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A dispatched attempt owns the delivery until then; past it (the worker
    # died, the message was lost) the dispatcher publishes it again.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "succeeded", "failed"]),
                name="webhooks_delivery_status_valid",
            ),
        ]
        indexes = [
            # The dispatcher: pending deliveries due before now.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhooks_delivery_due",
            ),
            # GET /api/v1/jobs/{id}/webhook-deliveries.
            models.Index(fields=["job", "created_at"], name="webhooks_delivery_job"),
            # 410 Gone: stop the other pending deliveries of a user to that URL.
            models.Index(fields=["user", "url"], name="webhooks_delivery_user_url"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.event_type} ({self.status})"

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, as logged."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    # Null while the request is in flight (or if its worker died).
    finished_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # Whether this attempt was a manual redelivery.
    manual = models.BooleanField(default=False)
    task_id = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            # The attempt-number claim makes this hold; the constraint proves it.
            models.UniqueConstraint(fields=["delivery", "number"], name="webhooks_attempt_unique_number"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
