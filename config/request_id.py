"""X-Request-ID: accepted from the client when well formed, generated otherwise,
echoed on the response, put on every log line and carried into Celery tasks."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def get_request_id() -> str | None:
    return _current.get()


def set_request_id(value: str | None) -> None:
    _current.set(value)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_or_generate(incoming: str | None) -> str:
    """An incoming ID is kept only if it is plain and bounded, so it can be
    logged and echoed without injection."""
    if incoming and _WELL_FORMED.match(incoming):
        return incoming
    return new_request_id()


class RequestIDMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accept_or_generate(request.headers.get(HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request_id
        return response


class RequestIDLogFilter(logging.Filter):
    """Adds `request_id` to every record (the formatters print it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _current.get() or "-"
        return True
