"""Django-level error handlers: problem+json under /api/, Django's own pages
elsewhere (the admin)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import defaults
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from config.problems import problem_response


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
    if _is_api(request):
        return problem_response(
            request,
            status_code=500,
            slug="internal-error",
            title="Internal server error",
            detail="The server failed to handle the request; quote the request_id to support.",
        )
    return defaults.server_error(request)
