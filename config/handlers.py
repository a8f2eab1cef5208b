"""Django-level error handlers: problem+json under /api/, Django's own pages
elsewhere (the admin)."""

from __future__ import annotations

import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views import defaults
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from config.problems import DependencyUnavailable, log_unavailable, problem_response, unavailable_dependency


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def api_not_found(request: Request) -> Response:
    raise NotFound(f"No API resource at {request.path}.")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_response(
            request, status_code=404, slug="not-found", title="Not Found", detail="Not found."
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls handler500 inside its `except` block: the error is at hand.
    # An unreachable dependency raised outside a DRF view (a middleware, the
    # admin, the dashboard) is a 503 too, not a 500.
    exc = sys.exc_info()[1]
    dependency = unavailable_dependency(exc)
    if exc is not None and dependency is not None:
        return _service_unavailable(request, exc, dependency)
    if _is_api(request):
        return problem_response(
            request,
            status_code=500,
            slug="internal-error",
            title="Internal server error",
            detail="The server failed to handle the request; quote the request_id to support.",
        )
    return defaults.server_error(request)


def _service_unavailable(request: HttpRequest, exc: BaseException, dependency: str) -> HttpResponse:
    problem = DependencyUnavailable(dependency)
    response: HttpResponse
    if _is_api(request):
        response = problem_response(
            request,
            status_code=problem.status_code,
            slug=problem.slug,
            title=problem.title,
            detail=str(problem.detail),
            extra=problem.extra,
            headers=problem.headers,
        )
    else:
        response = HttpResponse(
            f"<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1>"
            f"<p>{problem.detail}</p>",
            status=503,
        )
        response["Retry-After"] = str(settings.DEPENDENCY_RETRY_AFTER_S)
    log_unavailable(request, exc, response)
    return response
