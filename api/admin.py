from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from api.models import Job
from api.services import job_rerun

logger = logging.getLogger(__name__)


def _delete_images_on_commit(names: Iterable[str]) -> None:
    """Input images of deleted jobs, once the deletion has committed (a
    rolled-back deletion keeps its jobs whole)."""
    names = [name for name in names if name]

    def _delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except Exception:
                logger.warning("could not delete the input image %s", name, exc_info=True)

    if names:
        transaction.on_commit(_delete, robust=True)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "status", "model", "created_at", "completed_at", "error_code", "attempts")
    list_filter = (
        "status",
        ("user", admin.RelatedOnlyFieldListFilter),
        "model",
        "created_at",
        "completed_at",
        "error_code",
    )
    search_fields = ("=id", "user__email", "request_id", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    actions = ["rerun_failed"]
    # Jobs change only through their services (conditional transitions);
    # the admin shows them and offers the re-run action.
    readonly_fields = [
        field.name for field in Job._meta.get_fields() if getattr(field, "concrete", False)
    ] + ["result_pretty"]
    exclude = ("result",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # Deleting a job deletes its stored input image too (billed jobs are
    # protected by their usage record and cannot be deleted).
    def delete_model(self, request: HttpRequest, obj: Job) -> None:
        name = obj.image.name or ""
        super().delete_model(request, obj)
        _delete_images_on_commit([name])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        names = list(queryset.exclude(image="").values_list("image", flat=True))
        super().delete_queryset(request, queryset)
        _delete_images_on_commit(names)

    @admin.display(description="result")
    def result_pretty(self, job: Job) -> str:
        if job.result is None:
            return "-"
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(job.result, indent=2))

    @admin.action(description="Re-run selected failed jobs")
    def rerun_failed(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        rerun = sum(job_rerun(job=job) for job in queryset.filter(status=Job.Status.FAILED))
        skipped = queryset.count() - rerun
        self.message_user(request, f"{rerun} job(s) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} job(s) skipped: not failed, or their input image was purged.",
                messages.WARNING,
            )
