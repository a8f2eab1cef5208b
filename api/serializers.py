"""Request fields shared by the job views (image, metadata) and the JSON of
a job (JobSerializer, job_representation)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.files.uploadedfile import UploadedFile
from django.urls import get_script_prefix, reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.images import image_from_base64, image_too_large_bytes
from api.models import Job
from billing.pricing import micros_to_usd
from config.parsers import json_loads_bounded

METADATA_MAX_KEYS = 16
METADATA_MAX_KEY_CHARS = 64
METADATA_MAX_VALUE_CHARS = 512


# An 8x8 white PNG: the example of `image`.
_EXAMPLE_IMAGE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAAAAADhZOFXAAAAEElEQVR42mP8zwABTAwUMQBJQQEPkWFcdwAAAABJRU5ErkJggg=="
)


@extend_schema_field(
    {
        "type": "string",
        "format": "binary",
        "description": "A multipart file, or (JSON) base64 or a data:image/...;base64, URL. "
        "PNG, JPEG, WEBP or non-animated GIF.",
        "example": _EXAMPLE_IMAGE,
    }
)
class ImageInputField(serializers.Field):
    """The image's bytes, from a multipart file or a base64 / data URL string.
    Whether they are a usable image is the service's call (image_validate)."""

    def to_internal_value(self, data: Any) -> bytes:
        if isinstance(data, UploadedFile):
            if data.size is not None and data.size > settings.JOB_MAX_IMAGE_BYTES:
                raise image_too_large_bytes()
            return data.read()
        if isinstance(data, str):
            return image_from_base64(data)
        raise serializers.ValidationError("Send the image as a multipart file, or as base64 or a data: URL.")

    def to_representation(self, value: Any) -> Any:
        return None


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": METADATA_MAX_VALUE_CHARS},
        "maxProperties": METADATA_MAX_KEYS,
        "description": "Your own string pairs, returned as given (multipart: a JSON string).",
    }
)
class MetadataField(serializers.Field):
    """Up to 16 string pairs, keys up to 64 characters, values up to 512 (as
    OpenAI's metadata). In multipart forms, a JSON object as a string."""

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if isinstance(data, str):
            try:
                data = json_loads_bounded(data) if data.strip() else {}
            except ValueError:
                raise serializers.ValidationError("Metadata must be a JSON object.") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError("Metadata must be an object of string pairs.")
        if len(data) > METADATA_MAX_KEYS:
            raise serializers.ValidationError(f"At most {METADATA_MAX_KEYS} metadata keys are allowed.")
        for key, value in data.items():
            if not isinstance(value, str):
                raise serializers.ValidationError(f"Metadata value of {key!r} must be a string.")
            if "\x00" in key or "\x00" in value:
                # PostgreSQL's jsonb cannot store it.
                raise serializers.ValidationError("Metadata keys and values must not contain NUL characters.")
            if not key or len(key) > METADATA_MAX_KEY_CHARS:
                raise serializers.ValidationError(
                    f"Metadata keys must have 1 to {METADATA_MAX_KEY_CHARS} characters."
                )
            if len(value) > METADATA_MAX_VALUE_CHARS:
                raise serializers.ValidationError(
                    f"Metadata value of {key!r} is longer than {METADATA_MAX_VALUE_CHARS} characters."
                )
        return dict(data)

    def to_representation(self, value: Any) -> Any:
        return value


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable: provider_rate_limited, provider_unavailable, timeout, ..."
    )
    message = serializers.CharField()


class JobUsageSerializer(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=18, decimal_places=6, coerce_to_string=True)
    currency = serializers.CharField()


class JobResultSerializer(serializers.Serializer):
    text = serializers.CharField()
    final_answer = serializers.CharField(allow_null=True)
    latex = serializers.ListField(child=serializers.CharField())


class JobUrlsSerializer(serializers.Serializer):
    get = serializers.CharField()
    cancel = serializers.CharField()


class JobSerializer(serializers.Serializer):
    """The JSON of one job: GET /api/v1/jobs/{id}, the other job endpoints and
    webhook event payloads all render it (`job_representation`)."""

    id = serializers.UUIDField()
    object = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=Job.Status.choices)
    # Times in UTC ("...Z") whatever time zone is active (see _DATETIME).
    created_at = serializers.DateTimeField(default_timezone=UTC)
    started_at = serializers.DateTimeField(allow_null=True, default_timezone=UTC)
    completed_at = serializers.DateTimeField(allow_null=True, default_timezone=UTC)
    model = serializers.CharField()
    detail = serializers.ChoiceField(choices=Job.Detail.choices)
    prompt = serializers.CharField()
    metadata = serializers.DictField(child=serializers.CharField())
    webhook_url = serializers.SerializerMethodField()
    webhook_events = serializers.ListField(child=serializers.CharField())
    result = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=["job"]))
    def get_object(self, job: Job) -> str:
        return "job"

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_webhook_url(self, job: Job) -> str | None:
        return job.webhook_url or None

    @extend_schema_field(JobResultSerializer(allow_null=True))
    def get_result(self, job: Job) -> Any:
        return _result(job)

    @extend_schema_field(JobErrorSerializer(allow_null=True))
    def get_error(self, job: Job) -> dict[str, str] | None:
        return _error(job)

    @extend_schema_field(JobUsageSerializer(allow_null=True))
    def get_usage(self, job: Job) -> dict[str, Any] | None:
        return _usage(job)

    @extend_schema_field(JobUrlsSerializer)
    def get_urls(self, job: Job) -> dict[str, str]:
        return _urls(job)


def _result(job: Job) -> Any:
    return job.result if job.status == Job.Status.SUCCEEDED else None


def _error(job: Job) -> dict[str, str] | None:
    if job.status == Job.Status.FAILED:
        return {"code": job.error_code, "message": job.error_message}
    if job.status == Job.Status.CANCELED:
        return {
            "code": job.error_code or "canceled",
            "message": job.error_message or "Canceled by the client.",
        }
    return None


def _usage(job: Job) -> dict[str, Any] | None:
    """Token counts and cost of a succeeded job; None for any other job. Only
    a succeeded job is billed, so no other job's usage is looked up (a job
    created a moment ago costs no query)."""
    if job.status != Job.Status.SUCCEEDED:
        return None
    try:
        usage = job.usage
    except ObjectDoesNotExist:
        return None
    return {
        "input_tokens": usage.input_tokens,
        "cached_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
        "cost": micros_to_usd(usage.cost_micros),
        "currency": "USD",
    }


@lru_cache(maxsize=8)
def _url_templates(script_prefix: str) -> tuple[str, str]:
    """The job URLs with a placeholder for the ID, resolved once per script
    prefix instead of twice per job rendered."""
    placeholder = "00000000-0000-0000-0000-000000000000"
    return tuple(  # type: ignore[return-value]
        reverse(name, kwargs={"job_id": placeholder}).replace(placeholder, "{}")
        for name in ("api:job-detail", "api:job-cancel")
    )


def _urls(job: Job) -> dict[str, str]:
    get, cancel = _url_templates(get_script_prefix())
    job_id = str(job.id)
    return {"get": get.format(job_id), "cancel": cancel.format(job_id)}


# In UTC, as JobSerializer's times: a fixed zone spares the thread-local
# lookup of the active one, which cost several times the formatting (about
# 10 µs a time, up to three a job and twenty jobs a page).
_DATETIME = serializers.DateTimeField(default_timezone=UTC)


def _datetime(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def job_representation(job: Job) -> dict[str, Any]:
    """What JobSerializer(job).data holds, built directly: the serializer's
    field machinery cost more than a whole database round trip per job.
    JobSerializer stays the schema; tests/api/test_job_representation.py
    holds the two equal for every state."""
    return {
        "id": str(job.id),
        "object": "job",
        "status": job.status,
        "created_at": _datetime(job.created_at),
        "started_at": _datetime(job.started_at),
        "completed_at": _datetime(job.completed_at),
        "model": job.model,
        "detail": job.detail,
        "prompt": job.prompt,
        "metadata": {str(key): str(value) for key, value in (job.metadata or {}).items()},
        "webhook_url": job.webhook_url or None,
        "webhook_events": [str(event) for event in job.webhook_events],
        "result": _result(job),
        "error": _error(job),
        "usage": _usage(job),
        "urls": _urls(job),
    }
