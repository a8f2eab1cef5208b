from __future__ import annotations

from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import authenticated_user
from api.throttles import AccountThrottle, RateLimitedApi, RedeliverThrottle
from api.webhooks.models import WebhookAttempt, WebhookDelivery
from api.webhooks.selectors import webhook_deliveries_for_job, webhook_delivery_get_for_user
from api.webhooks.services import (
    WEBHOOK_EVENTS,
    webhook_account_get_or_create,
    webhook_delivery_redeliver,
    webhook_secret_rotate,
    webhook_settings_update,
)
from config.parsers import JSONParser


class _SecretOutputSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="whsec_ + base64; verify deliveries with it.")
    created_at = serializers.DateTimeField(source="secret_created_at")
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then deliveries are also signed with the previous secret."
    )


class WebhookSecretApi(APIView):
    @extend_schema(
        operation_id="webhooks_secret_retrieve",
        responses=_SecretOutputSerializer,
        summary="Show the webhook signing secret",
    )
    def get(self, request: Request) -> Response:
        account = webhook_account_get_or_create(user=authenticated_user(request))
        return Response(_SecretOutputSerializer(account).data)


class WebhookSecretRotateApi(APIView):
    @extend_schema(
        operation_id="webhooks_secret_rotate",
        request=None,
        responses=_SecretOutputSerializer,
        summary="Replace the webhook secret",
    )
    def post(self, request: Request) -> Response:
        account = webhook_secret_rotate(user=authenticated_user(request))
        return Response(_SecretOutputSerializer(account).data)


class WebhookSettingsApi(APIView):
    # JSON only: an empty form body would otherwise read as "change nothing".
    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        default_url = serializers.CharField(
            max_length=2048,
            allow_blank=True,
            required=False,
            help_text="Used for jobs submitted without a webhook_url; empty to remove.",
        )
        default_events = serializers.ListField(
            child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), allow_empty=False, required=False
        )

    class OutputSerializer(serializers.Serializer):
        default_url = serializers.CharField()
        default_events = serializers.ListField(child=serializers.CharField())
        default_url_disabled_at = serializers.DateTimeField(
            allow_null=True, help_text="Set when the receiver answered 410 Gone; setting a URL clears it."
        )
        default_url_disabled_reason = serializers.CharField()

    @extend_schema(
        operation_id="webhooks_settings_retrieve",
        responses=OutputSerializer,
        summary="Show the account's webhook settings",
    )
    def get(self, request: Request) -> Response:
        account = webhook_account_get_or_create(user=authenticated_user(request))
        return Response(self.OutputSerializer(account).data)

    @extend_schema(
        operation_id="webhooks_settings_update",
        request=InputSerializer,
        responses=OutputSerializer,
        summary="Change webhook settings",
    )
    def patch(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            # The service checks the URL (SSRF rules, one DNS resolution).
            account = webhook_settings_update(user=authenticated_user(request), **serializer.validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"default_url": exc.messages}) from None
        return Response(self.OutputSerializer(account).data)


class _AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "started_at",
            "finished_at",
            "status_code",
            "latency_ms",
            "response_body",
            "error",
            "manual",
        ]


class _DeliverySerializer(serializers.ModelSerializer):
    job_id = serializers.UUIDField()
    payload = serializers.JSONField(help_text="The event exactly as sent: {type, timestamp, data}.")
    attempts = _AttemptSerializer(many=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "job_id",
            "event_type",
            "url",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "completed_at",
            "payload",
            "attempts",
        ]


class _DeliveryListSerializer(serializers.Serializer):
    results = _DeliverySerializer(many=True)


class JobWebhookDeliveryListApi(APIView):
    @extend_schema(
        operation_id="jobs_webhook_deliveries_list",
        responses=_DeliveryListSerializer,
        summary="List a job's webhook deliveries and attempts",
    )
    def get(self, request: Request, job_id: UUID) -> Response:
        deliveries = webhook_deliveries_for_job(user=authenticated_user(request), job_id=job_id)
        return Response(_DeliveryListSerializer({"results": deliveries}).data)


class WebhookDeliveryRedeliverApi(RateLimitedApi):
    # The account's budget, and a few redeliveries an hour of each delivery.
    throttle_classes = [AccountThrottle, RedeliverThrottle]

    @extend_schema(
        operation_id="webhook_deliveries_redeliver",
        request=None,
        responses={202: _DeliverySerializer},
        summary="Send a delivery again now (same webhook-id, fresh signature)",
    )
    def post(self, request: Request, delivery_id: UUID) -> Response:
        delivery = webhook_delivery_get_for_user(user=authenticated_user(request), delivery_id=delivery_id)
        delivery = webhook_delivery_redeliver(delivery=delivery)
        return Response(_DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
