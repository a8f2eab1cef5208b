from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError


def validate_webhook_url(url: str) -> str:
    """An http(s) URL with a host. Raises django ValidationError."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError("Webhook URLs must be http(s) with a host.", code="invalid_webhook_url")
    return url
