"""Request fields shared by the job views (image, metadata) and the JSON of
a job (JobSerializer, the schema of api.representation)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.images import image_from_base64, image_too_large_bytes
from api.models import Job
from api.representation import job_error, job_result, job_urls, job_usage
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
    # Times in UTC ("...Z") whatever time zone is active (api.representation.job_time).
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
        return job_result(job)

    @extend_schema_field(JobErrorSerializer(allow_null=True))
    def get_error(self, job: Job) -> dict[str, str] | None:
        return job_error(job)

    @extend_schema_field(JobUsageSerializer(allow_null=True))
    def get_usage(self, job: Job) -> dict[str, Any] | None:
        return job_usage(job)

    @extend_schema_field(JobUrlsSerializer)
    def get_urls(self, job: Job) -> dict[str, str]:
        return job_urls(job)
