"""Billing endpoints: the caller's usage, summary and periods; operators mark
periods paid. Amounts come as integer micro-dollars (`*_micros`) and as
decimal USD strings (`*_usd`)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import authenticated_user
from billing.models import BillingPeriod, UsageRecord
from billing.pricing import micros_to_usd
from billing.selectors import billing_summary_for_user, period_list_for_user, usage_list_for_user
from billing.services import period_mark_paid
from config.pagination import CursorPagination
from config.query_params import QueryParamsSerializer


def _caller_id(request: Request) -> int:
    return authenticated_user(request).pk


@extend_schema_field(OpenApiTypes.STR)
class UsdField(serializers.Field):
    """Integer micro-dollars rendered as a decimal USD string ("0.012345")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: int) -> str:
        return micros_to_usd(value)


@extend_schema_serializer(component_name="BillingPeriod")
class PeriodOutputSerializer(serializers.ModelSerializer):
    amount_usd = UsdField(source="amount_micros")

    class Meta:
        model = BillingPeriod
        fields = [
            "id",
            "status",
            "starts_at",
            "ends_at",
            "closed_at",
            "due_at",
            "paid_at",
            "jobs_count",
            "input_tokens",
            "cached_tokens",
            "output_tokens",
            "amount_micros",
            "amount_usd",
        ]
        read_only_fields = fields


class _NewestFirst(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class UsageListApi(generics.ListAPIView):
    """The caller's usage records, newest first."""

    class FilterSerializer(QueryParamsSerializer):
        period = serializers.IntegerField(min_value=1, required=False, help_text="billing period id")
        since = serializers.DateTimeField(required=False, help_text="completed at or after (ISO 8601)")
        until = serializers.DateTimeField(required=False, help_text="completed before (ISO 8601)")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            since, until = attrs.get("since"), attrs.get("until")
            if since and until and since >= until:
                raise serializers.ValidationError({"until": ["Must be later than since."]})
            return attrs

    @extend_schema_serializer(component_name="BillingUsageRecord")
    class OutputSerializer(serializers.ModelSerializer):
        job_id = serializers.UUIDField(read_only=True)
        period_id = serializers.IntegerField(read_only=True)
        completed_at = serializers.DateTimeField(source="created_at", read_only=True)
        cost_usd = UsdField(source="cost_micros")

        class Meta:
            model = UsageRecord
            fields = [
                "id",
                "job_id",
                "period_id",
                "model",
                "input_tokens",
                "cached_tokens",
                "output_tokens",
                "request_fee_micros",
                "input_price_per_million",
                "cached_input_price_per_million",
                "output_price_per_million",
                "cost_micros",
                "cost_usd",
                "completed_at",
            ]
            read_only_fields = fields

    class Pagination(_NewestFirst):
        ordering = ("-created_at", "-id")

    serializer_class = OutputSerializer
    pagination_class = Pagination

    @extend_schema(parameters=[FilterSerializer], operation_id="billing_usage_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[UsageRecord]:
        filters = self.FilterSerializer.parse(self.request.query_params)
        return usage_list_for_user(
            user_id=_caller_id(self.request),
            period_id=filters.get("period"),
            since=filters.get("since"),
            until=filters.get("until"),
        )


class PeriodListApi(generics.ListAPIView):
    """The caller's billing periods, newest first."""

    class FilterSerializer(QueryParamsSerializer):
        status = serializers.ChoiceField(choices=BillingPeriod.Status.choices, required=False)

    class Pagination(_NewestFirst):
        ordering = ("-starts_at",)

    serializer_class = PeriodOutputSerializer
    pagination_class = Pagination

    @extend_schema(parameters=[FilterSerializer], operation_id="billing_periods_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[BillingPeriod]:
        filters = self.FilterSerializer.parse(self.request.query_params)
        return period_list_for_user(user_id=_caller_id(self.request), status=filters.get("status"))


class PeriodDetailApi(generics.RetrieveAPIView):
    """One of the caller's periods (another account's answers 404)."""

    serializer_class = PeriodOutputSerializer

    @extend_schema(operation_id="billing_periods_retrieve")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[BillingPeriod]:
        return period_list_for_user(user_id=_caller_id(self.request))


class PeriodMarkPaidApi(APIView):
    """Operators only: record that a closed or overdue period was paid."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        request=None,
        responses={
            200: PeriodOutputSerializer,
            409: OpenApiResponse(description="billing-period-open: close the period first."),
        },
        operation_id="billing_periods_mark_paid",
    )
    def post(self, request: Request, pk: int) -> Response:
        period = period_mark_paid(period_id=pk)
        return Response(PeriodOutputSerializer(period).data)


@extend_schema_serializer(component_name="BillingUsageTotals")
class _TotalsSerializer(serializers.Serializer):
    jobs = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    amount_micros = serializers.IntegerField()
    amount_usd = UsdField(source="amount_micros")


@extend_schema_serializer(component_name="BillingUsageDay")
class _DaySerializer(_TotalsSerializer):
    date = serializers.DateField(source="day")


@extend_schema_serializer(component_name="BillingCurrentPeriod")
class _CurrentPeriodSerializer(_TotalsSerializer):
    id = serializers.IntegerField(source="period_id", allow_null=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    days = _DaySerializer(many=True)


class BillingSummaryApi(APIView):
    """The current month to date (with a per-day breakdown, UTC days) and the
    last closed period."""

    @extend_schema_serializer(component_name="BillingSummary")
    class OutputSerializer(serializers.Serializer):
        current_period = _CurrentPeriodSerializer(source="current")
        last_closed_period = PeriodOutputSerializer(source="last_closed", allow_null=True)

    @extend_schema(responses=OutputSerializer, operation_id="billing_summary")
    def get(self, request: Request) -> Response:
        summary = billing_summary_for_user(user_id=_caller_id(request), now=timezone.now())
        return Response(self.OutputSerializer(summary).data)
