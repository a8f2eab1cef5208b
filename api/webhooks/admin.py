from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from api.webhooks.models import WebhookAccount, WebhookAttempt, WebhookDelivery
from api.webhooks.services import webhook_delivery_redeliver
from api.webhooks.validation import url_for_log
from config.problems import Problem


# URLs may carry credentials (user:pass@) or tokens in the query: operators
# see scheme, host, port and path only, like the logs.
def _body_for_operators(delivery: WebhookDelivery) -> str:
    # The job in the body carries its webhook_url.
    body = delivery.body
    for url in {delivery.url, json.dumps(delivery.url)[1:-1]}:
        body = body.replace(url, url_for_log(delivery.url))
    return body


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "started_at",
        "status_code",
        "latency_ms",
        "error",
        "response_body",
        "manual",
        "task_id",
        "request_id",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "webhook_id",
        "event_type",
        "user",
        "target",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event_type", "last_status_code", "created_at", "next_attempt_at"]
    search_fields = ["webhook_id", "=id", "=job__id", "url", "user__email", "request_id"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    raw_id_fields = ["user", "job"]
    exclude = ["url", "body"]
    readonly_fields = [
        "id",
        "webhook_id",
        "user",
        "job",
        "event_type",
        "target",
        "body_redacted",
        "request_id",
        "status",
        "attempt_count",
        "schedule_step",
        "redelivered_after_attempt",
        "next_attempt_at",
        "lease_expires_at",
        "last_status_code",
        "last_error",
        "created_at",
        "updated_at",
        "completed_at",
    ]
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="URL")
    def target(self, obj: WebhookDelivery) -> str:
        return url_for_log(obj.url)

    @admin.display(description="body")
    def body_redacted(self, obj: WebhookDelivery) -> str:
        return _body_for_operators(obj)

    @admin.action(description="Redeliver now (same webhook-id)")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        sent = busy = 0
        for delivery in queryset:
            try:
                webhook_delivery_redeliver(delivery=delivery)
            except Problem:  # redelivery-in-flight: one at a time, for operators too
                busy += 1
            else:
                sent += 1
        self.message_user(request, f"{sent} deliveries sent again.", messages.SUCCESS)
        if busy:
            self.message_user(
                request, f"{busy} skipped: a redelivery of each is still in flight.", messages.WARNING
            )


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    list_display = ["delivery", "number", "started_at", "status_code", "latency_ms", "error", "manual"]
    list_filter = ["status_code", "manual", "started_at"]
    search_fields = ["delivery__webhook_id", "=delivery__id", "task_id", "request_id"]
    date_hierarchy = "started_at"
    list_select_related = ["delivery"]
    readonly_fields = [f.name for f in WebhookAttempt._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WebhookAccount)
class WebhookAccountAdmin(admin.ModelAdmin):
    list_display = ["user", "default_target", "default_url_disabled_at", "secret_created_at"]
    list_filter = ["default_url_disabled_at"]
    search_fields = ["user__email", "default_url"]
    raw_id_fields = ["user"]
    # Secrets are not shown to operators; owners see theirs through the API
    # (and set their URL there, where it is checked).
    exclude = ["secret", "previous_secret", "default_url"]
    readonly_fields = ["secret_created_at", "previous_secret_expires_at", "default_target"]

    @admin.display(description="default URL")
    def default_target(self, obj: WebhookAccount) -> str:
        return url_for_log(obj.default_url) if obj.default_url else ""
