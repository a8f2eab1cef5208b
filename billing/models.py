"""Money is kept as integer micro-dollars (1 USD = 1,000,000 µ$): exact,
and fine enough to price a single token."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class UsageRecord(models.Model):
    """What one succeeded job cost, with the prices it was charged at."""

    job = models.OneToOneField("api.Job", on_delete=models.PROTECT, related_name="usage")
    # Billing history outlives a change of mind: an account with usage is
    # deactivated, not deleted (PROTECT, like `job` and `period`).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="usage_records")
    # Set once, by usage_record_create, under a lock on the period row (see
    # billing/services.py); the roll freezes a period's totals from these.
    period = models.ForeignKey("BillingPeriod", on_delete=models.PROTECT, related_name="usage_records")
    model = models.CharField(max_length=64)
    input_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    # Prices in force when the job was charged (µ$ per request, USD per 1M tokens).
    request_fee_micros = models.BigIntegerField(default=0)
    input_price_per_million = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    cached_input_price_per_million = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    output_price_per_million = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    cost_micros = models.BigIntegerField(default=0)
    # When the job completed: decides the billing period it belongs to.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Usage list (newest first, cursor pagination) and date filters.
            models.Index(fields=["user", "-created_at"], name="billing_usage_user_created"),
            # (Freezing totals and the summary's per-day breakdown use the
            # index Django creates for the `period` foreign key.)
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(cost_micros__gte=0), name="billing_usage_cost_nonneg"),
        ]

    def __str__(self) -> str:
        return f"usage of job {self.job_id}: {self.cost_micros} µ$"


class BillingPeriod(models.Model):
    """One calendar month (UTC) of one account."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"
        PAID = "paid"
        OVERDUE = "overdue"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="billing_periods"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # Running totals while open (usage_record_create adds to them), recomputed
    # from the usage records and frozen on close.
    jobs_count = models.PositiveIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    amount_micros = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "starts_at"], name="billing_period_user_month_unique"),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="billing_period_ends_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "closed", "paid", "overdue"]),
                name="billing_period_status_valid",
            ),
            # Past `open`, a period has been closed and has a due date...
            models.CheckConstraint(
                condition=models.Q(status="open") | models.Q(closed_at__isnull=False, due_at__isnull=False),
                name="billing_period_closed_has_dates",
            ),
            # ...and a paid one says when.
            models.CheckConstraint(
                condition=~models.Q(status="paid") | models.Q(paid_at__isnull=False),
                name="billing_period_paid_has_date",
            ),
        ]
        indexes = [
            # Roll and overdue marking: periods by state and end/due time.
            models.Index(fields=["status", "ends_at"], name="billing_period_status_ends"),
            models.Index(fields=["status", "due_at"], name="billing_period_status_due"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.starts_at:%Y-%m} ({self.status})"
