"""RFC 9457 problem details for every API error.

Each problem has a stable `type` URI (under PROBLEM_BASE), a `title`, the HTTP
`status`, a human `detail`, the `instance` (the request path, never the query
string: links carry credentials there, e.g. ?token=) and the request ID;
validation problems add `errors` {field: [messages]}. Stack traces are shown
only when DEBUG is on.

An unreachable dependency (the database, Redis, the broker) is not a bug: it
answers 503 `service-unavailable` naming the dependency, with Retry-After, and
logs one warning line instead of a traceback. `unavailable_dependency` is the
one place that decides which errors mean that; this module's DRF handler and
config.handlers.server_error (errors outside DRF views) both use it.
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING, Any

import kombu.exceptions
import redis
from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status

from config.request_id import get_request_id

if TYPE_CHECKING:
    from rest_framework.response import Response

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://imagesolve.dev/problems/"

# DRF exception class -> stable problem slug.
_SLUGS: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "validation-error",
    exceptions.ParseError: "malformed-request",
    exceptions.AuthenticationFailed: "authentication-failed",
    exceptions.NotAuthenticated: "not-authenticated",
    exceptions.PermissionDenied: "permission-denied",
    exceptions.NotFound: "not-found",
    exceptions.MethodNotAllowed: "method-not-allowed",
    exceptions.NotAcceptable: "not-acceptable",
    exceptions.UnsupportedMediaType: "unsupported-media-type",
    exceptions.Throttled: "rate-limited",
}


class Problem(exceptions.APIException):
    """An API error with its own problem type. Raise it (or a subclass) from
    services and views: `raise Problem(status=409, slug="conflict", detail=...)`.
    `extra` members are added to the body; `headers` to the response."""

    def __init__(
        self,
        *,
        status: int,
        slug: str,
        detail: str,
        title: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail)
        self.status_code = status
        self.slug = slug
        self.title = title or slug.replace("-", " ").capitalize()
        self.extra = extra or {}
        self.headers = headers or {}


class DependencyUnavailable(Problem):
    """503: `dependency` ("database", "redis", "broker") cannot be reached.
    Raise it where a request cannot go on without it; errors the drivers
    raise themselves are mapped to it by the handlers."""

    def __init__(self, dependency: str) -> None:
        retry_after = settings.DEPENDENCY_RETRY_AFTER_S
        super().__init__(
            status=503,
            slug="service-unavailable",
            title="Service Unavailable",
            detail=(
                f"The service cannot reach its {dependency} at the moment; "
                f"nothing was changed. Retry in {retry_after} seconds."
            ),
            extra={"dependency": dependency},
            headers={"Retry-After": str(retry_after)},
        )
        self.dependency = dependency


def unavailable_dependency(exc: BaseException | None) -> str | None:
    """The dependency `exc` says is unreachable, or None for any other error.

    Connection-level errors only: psycopg's and SQLite's OperationalError
    (refused, reset, shutting down, locked) and InterfaceError (connection
    closed); redis-py's ConnectionError (including "loading") and
    TimeoutError; kombu's OperationalError (the broker). IntegrityError,
    ProgrammingError or a Redis ResponseError are bugs and stay 500."""
    if isinstance(exc, DependencyUnavailable):
        return exc.dependency
    if isinstance(exc, (OperationalError, InterfaceError)):
        return "database"
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return "redis"
    if isinstance(exc, kombu.exceptions.OperationalError):
        return "broker"
    return None


def log_unavailable(request: Any, exc: BaseException, response: HttpResponse) -> None:
    """One warning line per refused request, and none from django.request
    (which would log every 5xx at ERROR): an outage of a minute under load
    must not bury the log in tracebacks."""
    dependency = unavailable_dependency(exc)
    cause: BaseException = exc.__cause__ if isinstance(exc, DependencyUnavailable) and exc.__cause__ else exc
    where = f"{request.method} {request.path}" if request is not None else "request"
    first_line = (str(cause).strip().splitlines() or [""])[0][:200]
    logger.warning("503 %s: %s unavailable (%s: %s)", where, dependency, type(cause).__name__, first_line)
    # Django's own marker (django.utils.log.log_response) for "already logged".
    response._has_been_logged = True  # type: ignore[attr-defined]


def problem_type(slug: str) -> str:
    return PROBLEM_BASE + slug


def problem_body(
    *,
    status_code: int,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status_code,
        "detail": detail,
        "instance": instance,
        "request_id": get_request_id(),
    }
    if extra:
        body.update(extra)
    return body


def _flatten_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as {"field.sub": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(data, list):
        if all(not isinstance(item, (dict, list)) for item in data):
            out[prefix or "non_field_errors"] = [str(item) for item in data]
        else:
            for i, item in enumerate(data):
                for k, v in _flatten_errors(item, f"{prefix}.{i}" if prefix else str(i)).items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(data)]
    return out


def _slug_for(exc: exceptions.APIException) -> str:
    for cls in type(exc).__mro__:
        if cls in _SLUGS:
            return _SLUGS[cls]
    return "error"


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    # Imported here, not above: the workers import this module for Problem, and
    # DRF's Response brings its serializers and the modules they import (about
    # 16 MB an interpreter) into processes that never answer a request.
    from rest_framework.response import Response

    request = context.get("request")
    instance = request.path if request is not None else ""

    raised = exc
    dependency = unavailable_dependency(exc)
    if dependency is not None and not isinstance(exc, DependencyUnavailable):
        exc = DependencyUnavailable(dependency)
        exc.__cause__ = raised

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, SuspiciousOperation):
        # Django's request limits, raised lazily while DRF parses the body.
        exc = _suspicious_problem(exc)

    headers: dict[str, str] = {}
    if isinstance(exc, Problem):
        body = problem_body(
            status_code=exc.status_code,
            slug=exc.slug,
            title=exc.title,
            detail=str(exc.detail),
            instance=instance,
            extra=exc.extra,
        )
        headers.update(exc.headers)
        status_code = exc.status_code
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        slug = _slug_for(exc)
        extra: dict[str, Any] = {}
        if isinstance(exc, exceptions.ValidationError):
            extra["errors"] = _flatten_errors(exc.detail)
            detail = "The request has invalid fields; see errors."
            non_field = extra["errors"].get("non_field_errors")
            if non_field and len(extra["errors"]) == 1:
                detail = " ".join(non_field)
        elif isinstance(exc.detail, (dict, list)):
            extra["errors"] = _flatten_errors(exc.detail)
            detail = "The request was refused; see errors."
        else:
            detail = str(exc.detail)
        body = problem_body(
            status_code=status_code,
            slug=slug,
            title=_title(exc, status_code),
            detail=detail,
            instance=instance,
            extra=extra,
        )
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(int(max(wait, 1)))
    else:
        logger.exception("Unhandled error in %s", instance, exc_info=exc)
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
        extra = {}
        if settings.DEBUG:
            extra["traceback"] = traceback.format_exception(exc)
        body = problem_body(
            status_code=status_code,
            slug="internal-error",
            title="Internal server error",
            detail="The server failed to handle the request; quote the request_id to support.",
            instance=instance,
            extra=extra,
        )

    response = Response(body, status=status_code, headers=headers, content_type=CONTENT_TYPE)
    if isinstance(exc, DependencyUnavailable):
        log_unavailable(request, exc, response)
    return response


def _suspicious_problem(exc: SuspiciousOperation) -> exceptions.APIException:
    if isinstance(exc, RequestDataTooBig):
        return Problem(
            status=413,
            slug="request-too-large",
            detail=f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
        )
    if isinstance(exc, TooManyFieldsSent):
        return Problem(
            status=400,
            slug="too-many-fields",
            detail=f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields.",
        )
    if isinstance(exc, TooManyFilesSent):
        return Problem(
            status=400,
            slug="too-many-fields",
            detail=f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files.",
        )
    return exceptions.ParseError("The request could not be parsed.")


def _title(exc: exceptions.APIException, status_code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return type(exc).__name__


def problem_response(
    request: HttpRequest,
    *,
    status_code: int,
    slug: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """A problem from plain Django code (handlers, health checks)."""
    body = problem_body(
        status_code=status_code,
        slug=slug,
        title=title,
        detail=detail,
        instance=request.path,
        extra=extra,
    )
    response = JsonResponse(body, status=status_code, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
