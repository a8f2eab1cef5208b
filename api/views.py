"""The jobs API: submit, read (optionally waiting), list, cancel. Views parse,
authorize, call one service or selector, render a JobSerializer."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ReadAlong, authenticated_user
from api.models import Job
from api.representation import job_representation
from api.selectors import (
    JOB_LIST_ORDERING,
    job_get_for_user,
    job_listing_for_user,
    job_read_along,
    job_wait_for_user,
)
from api.serializers import ImageInputField, JobSerializer, MetadataField
from api.services import job_cancel, job_submit
from api.throttles import CancelThrottle, RateLimitedApi, ReadThrottle, SubmitThrottle
from api.webhooks.validation import validate_webhook_url
from config.pagination import CursorPagination
from config.parsers import JSONParser
from config.problems import Problem
from config.query_params import QueryParamsSerializer
from config.serializers import FlatInputSerializer

IDEMPOTENCY_KEY_MAX_CHARS = 255

_JOB_ID = OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX_CHARS or not key.isprintable() or not key.isascii():
        raise Problem(
            status=400,
            slug="invalid-idempotency-key",
            detail=(
                f"Idempotency-Key must be printable ASCII of at most {IDEMPOTENCY_KEY_MAX_CHARS} characters."
            ),
        )
    return key


class JobCreateApi(RateLimitedApi):
    parser_classes = [JSONParser, MultiPartParser]
    throttle_classes = [SubmitThrottle]

    class InputSerializer(FlatInputSerializer):
        image = ImageInputField()
        prompt = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
        model = serializers.CharField(required=False, allow_blank=True, default="")
        detail = serializers.ChoiceField(choices=Job.Detail.choices, default=Job.Detail.AUTO)
        metadata = MetadataField(required=False, default=dict)
        webhook_url = serializers.CharField(required=False, allow_blank=True, default="", max_length=2048)
        webhook_events = serializers.ListField(
            child=serializers.ChoiceField(choices=["completed", "started"]),
            required=False,
            allow_empty=False,
            default=list,
        )

        def validate_prompt(self, value: str) -> str:
            if len(value) > settings.JOB_MAX_PROMPT_CHARS:
                raise serializers.ValidationError(
                    f"Ensure this field has no more than {settings.JOB_MAX_PROMPT_CHARS} characters."
                )
            return value

        def validate_model(self, value: str) -> str:
            if value and value not in settings.OPENAI_ALLOWED_MODELS:
                raise serializers.ValidationError(
                    f"Unknown model {value!r}; use one of: {', '.join(settings.OPENAI_ALLOWED_MODELS)}."
                )
            return value

        def validate_webhook_url(self, value: str) -> str:
            if not value:
                return value
            try:
                return validate_webhook_url(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None

    @extend_schema(
        operation_id="jobs_create",
        summary="Submit an image to solve",
        request={"multipart/form-data": InputSerializer, "application/json": InputSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Replays within 24 h return the original job (Stripe semantics).",
            )
        ],
        responses={
            202: JobSerializer,
            400: OpenApiResponse(
                description="validation-error, invalid-image, invalid-idempotency-key or malformed-request."
            ),
            402: OpenApiResponse(description="payment-required: a billing period of yours is overdue."),
            409: OpenApiResponse(description="idempotency-key-in-use: that request is still being handled."),
            413: OpenApiResponse(description="request-too-large or image-too-large (bytes or pixels)."),
            422: OpenApiResponse(description="idempotency-key-reused: the key was used for another request."),
            429: OpenApiResponse(description="rate-limited, or too-many-jobs-in-flight; see Retry-After."),
        },
    )
    def post(self, request: Request) -> Response:
        # Refused before the body is read: DRF's JSON parser has no size limit.
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.JOB_MAX_REQUEST_BYTES:
            raise Problem(
                status=413,
                slug="request-too-large",
                detail=f"The request body is larger than {settings.JOB_MAX_REQUEST_BYTES} bytes.",
            )
        idempotency_key = _idempotency_key(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        submission = job_submit(
            user=authenticated_user(request),
            idempotency_key=idempotency_key,
            request_id=getattr(request._request, "request_id", ""),
            **data.validated_data,
        )
        body = job_representation(submission.job)
        headers = {"Location": body["urls"]["get"]}
        if submission.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)


class JobDetailApi(RateLimitedApi):
    throttle_classes = [ReadThrottle]

    class InputSerializer(QueryParamsSerializer):
        wait = serializers.IntegerField(
            required=False,
            default=0,
            min_value=0,
            max_value=settings.JOB_MAX_WAIT_S,
            help_text="Hold the request up to this many seconds until the job ends.",
        )

    def read_along_token(self, request: Request) -> ReadAlong:
        # A poll is the API's most frequent request: one round trip for the
        # token and the job.
        return job_read_along(job_id=self.kwargs["job_id"])

    @extend_schema(
        operation_id="jobs_retrieve",
        summary="Get a job (optionally wait for it to end)",
        parameters=[_JOB_ID, InputSerializer],
        responses={200: JobSerializer},
    )
    def get(self, request: Request, job_id: UUID) -> Response:
        params = self.InputSerializer.parse(request.query_params)
        job = job_wait_for_user(
            user=authenticated_user(request),
            job_id=job_id,
            seconds=params["wait"],
            found=getattr(request, "read_along", None),
        )
        return Response(job_representation(job))


class JobPagination(CursorPagination):
    """?cursor= and ?limit= (1 to 100); a bad one is a 400."""

    ordering = JOB_LIST_ORDERING
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100


class JobListApi(RateLimitedApi):
    throttle_classes = [ReadThrottle]

    class InputSerializer(QueryParamsSerializer):
        status = serializers.CharField(required=False)
        created_after = serializers.DateTimeField(required=False)
        created_before = serializers.DateTimeField(required=False)

        def validate_status(self, value: str) -> list[str]:
            statuses = [item.strip() for item in value.split(",")]
            unknown = sorted(set(statuses) - set(Job.Status.values))
            if unknown:
                listed = ", ".join(repr(item) for item in unknown)
                raise serializers.ValidationError(
                    f"Unknown status {listed}; use {', '.join(Job.Status.values)}."
                )
            return statuses

    @extend_schema(
        operation_id="jobs_list",
        summary="List your jobs, newest first",
        parameters=[
            OpenApiParameter(
                "status",
                {"type": "array", "items": {"type": "string", "enum": Job.Status.values}, "minItems": 1},
                style="form",
                explode=False,
                description="Only jobs in these states (comma-separated).",
            ),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
            OpenApiParameter("cursor", str, description="From the next or previous link of a page."),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": JobPagination.max_page_size},
                description=f"Page size (default {JobPagination.page_size}).",
            ),
        ],
        responses={
            200: inline_serializer(
                "JobPage",
                fields={
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": JobSerializer(many=True),
                },
            ),
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.InputSerializer.parse(request.query_params)
        jobs = job_listing_for_user(
            user=authenticated_user(request),
            statuses=filters.get("status"),
            created_after=filters.get("created_after"),
            created_before=filters.get("created_before"),
        )
        paginator = JobPagination()
        page = paginator.paginate_queryset(jobs, request, view=self) or []
        return paginator.get_paginated_response([job_representation(job) for job in page])


class JobCancelApi(RateLimitedApi):
    throttle_classes = [CancelThrottle]

    @extend_schema(
        operation_id="jobs_cancel",
        summary="Cancel a queued or running job",
        request=None,
        parameters=[_JOB_ID],
        responses={200: JobSerializer, 409: OpenApiResponse(description="job-not-cancelable: it has ended.")},
    )
    def post(self, request: Request, job_id: UUID) -> Response:
        job = job_get_for_user(user=authenticated_user(request), job_id=job_id)
        return Response(job_representation(job_cancel(job=job)))
