"""Operators' view of billing: periods (with a "mark paid" action) and the
usage ledger, each list with the totals of what is filtered."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from billing.models import BillingPeriod, UsageRecord
from billing.pricing import micros_to_usd
from billing.services import periods_mark_paid


class _TotalsChangeList(admin.ModelAdmin):
    """Adds a line of totals over the filtered rows above the change list
    (templates/admin/billing/change_list.html)."""

    change_list_template = "admin/billing/change_list.html"
    amount_field = "amount_micros"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data and "cl" in response.context_data:
            queryset = response.context_data["cl"].queryset
            totals = queryset.aggregate(
                rows=Count("id"),
                input=Sum("input_tokens"),
                cached=Sum("cached_tokens"),
                output=Sum("output_tokens"),
                amount=Sum(self.amount_field),
            )
            response.context_data["billing_totals"] = {
                **totals,
                "amount_usd": micros_to_usd(totals["amount"] or 0),
            }
        return response


@admin.register(BillingPeriod)
class BillingPeriodAdmin(_TotalsChangeList):
    list_display = [
        "id",
        "user",
        "starts_at",
        "status",
        "jobs_count",
        "amount_usd",
        "closed_at",
        "due_at",
        "paid_at",
    ]
    list_filter = ["status", "starts_at", "due_at"]
    search_fields = ["user__email"]
    date_hierarchy = "starts_at"
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    # Totals and dates are the roll's business; operators change the status
    # through the action, which keeps paid_at consistent.
    readonly_fields = [
        "user",
        "starts_at",
        "ends_at",
        "status",
        "closed_at",
        "due_at",
        "paid_at",
        "jobs_count",
        "input_tokens",
        "cached_tokens",
        "output_tokens",
        "amount_micros",
    ]
    actions = ["mark_paid"]

    @admin.display(description="amount (USD)", ordering="amount_micros")
    def amount_usd(self, period: BillingPeriod) -> str:
        return micros_to_usd(period.amount_micros)

    @admin.action(description="Mark selected periods paid (closed or overdue ones)")
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[BillingPeriod]) -> None:
        changed = periods_mark_paid(period_ids=list(queryset.values_list("pk", flat=True)))
        skipped = queryset.count() - changed
        self.message_user(request, f"{changed} period(s) marked paid.", messages.SUCCESS)
        if skipped > 0:
            self.message_user(
                request, f"{skipped} period(s) left as they were (open or already paid).", messages.WARNING
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(_TotalsChangeList):
    amount_field = "cost_micros"
    list_display = [
        "id",
        "user",
        "job",
        "model",
        "input_tokens",
        "cached_tokens",
        "output_tokens",
        "cost_usd",
        "period",
        "created_at",
    ]
    list_filter = ["model", "created_at", "period__status"]
    search_fields = ["user__email", "job__id"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "period"]
    raw_id_fields = ["user", "job", "period"]

    @admin.display(description="cost (USD)", ordering="cost_micros")
    def cost_usd(self, record: UsageRecord) -> str:
        return micros_to_usd(record.cost_micros)

    # The usage ledger is written by the jobs pipeline only: what was charged
    # stays as it was charged.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UsageRecord | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: UsageRecord | None = None) -> bool:
        return False
