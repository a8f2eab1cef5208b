from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


def job_image_path(instance: Job, filename: str) -> str:
    # The client's file name is never used: it may be anything.
    now = timezone.now()
    return f"inputs/{now:%Y/%m/%d}/{instance.id.hex}"


def default_webhook_events() -> list[str]:
    return ["completed"]


class Job(models.Model):
    """One image to solve, from submission to a terminal state."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    class Detail(models.TextChoices):
        LOW = "low"
        HIGH = "high"
        AUTO = "auto"

    # Random UUID4: opaque and unguessable (122 random bits).
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)

    # Input
    prompt = models.TextField(blank=True)
    model = models.CharField(max_length=64)
    detail = models.CharField(max_length=8, choices=Detail.choices, default=Detail.AUTO)
    metadata = models.JSONField(default=dict, blank=True)
    webhook_url = models.URLField(max_length=2048, blank=True)
    # Which events reach the webhook: "completed" (terminal states, the
    # default) and optionally "started".
    webhook_events = models.JSONField(default=default_webhook_events, blank=True)
    image = models.FileField(upload_to=job_image_path, max_length=255, blank=True)
    image_format = models.CharField(max_length=8, blank=True)
    image_bytes = models.PositiveIntegerField(default=0)
    image_width = models.PositiveIntegerField(default=0)
    image_height = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=128, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    # SHA-256 of the normalised request, to tell a replay from a different
    # request that reuses a key.
    request_fingerprint = models.CharField(max_length=64, blank=True)

    # Outcome
    result = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Celery task ID of the run that claimed the job: a redelivered message
    # (same ID, its worker died) may take the job back at once.
    worker_task_id = models.CharField(max_length=64, blank=True)

    # Life cycle
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # A running job not finished by then is recovered by the maintenance task.
    deadline_at = models.DateTimeField(null=True, blank=True)
    # The running claim's lease: its worker renews it every JOB_LEASE_RENEW_S
    # while the call to the model runs. Not renewed in time (the worker died,
    # or lost the database), the recovery task takes the job back.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Last time the solve task was published (re-published for stuck jobs).
    published_at = models.DateTimeField(null=True, blank=True)

    # Not columns: the account's webhook settings (a WebhookAccount, or None
    # for an account without any), when whoever loaded the job read them with
    # it. job_mark_running does, so the events of a run cost no further read.
    webhook_account_loaded = False
    webhook_account: Any = None

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="api_job_user_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "succeeded", "failed", "canceled"]),
                name="api_job_status_valid",
            ),
        ]
        indexes = [
            # GET /api/v1/jobs: one user's jobs newest first (cursor pagination).
            models.Index(fields=["user", "-created_at"], name="api_job_user_created"),
            # Stuck-job recovery: jobs queued and not published since a threshold.
            models.Index(fields=["status", "published_at"], name="api_job_status_published"),
            # Stuck-job recovery: jobs running past their deadline.
            models.Index(fields=["status", "deadline_at"], name="api_job_status_deadline"),
            # Stuck-job recovery: running jobs whose lease ran out.
            models.Index(fields=["status", "lease_expires_at"], name="api_job_status_lease"),
            # In-flight cap on submit: one user's queued/running jobs.
            models.Index(fields=["user", "status"], name="api_job_user_status"),
            # Input purge: finished jobs whose image is past retention.
            models.Index(fields=["completed_at"], name="api_job_completed"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL


class JobsInFlight(models.Model):
    """How many of a user's jobs are queued or running. Kept by triggers on
    the job table (migration 0005), in the transaction of every INSERT,
    DELETE and change of a job's status, whatever makes it (the ORM, a
    statement of config/rows.py, a bulk UPDATE), so that the in-flight cap
    reads one row where it counted the user's jobs: under the submission's
    lock, a count whose cost grew with every job in flight. The code never
    changes the count: a submission's lock only makes the row, at 0, for a
    user who has none (a user without a row has none in flight)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    jobs = models.IntegerField(default=0)

    class Meta:
        db_table = "api_jobs_in_flight"
        verbose_name_plural = "jobs in flight"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.jobs}"
