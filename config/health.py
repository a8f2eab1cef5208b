"""Liveness and readiness probes: plain Django views, no authentication."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.problems import problem_body

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up; touches no dependency."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database and the broker answer. 503 names the
    dependency that does not."""
    checks = {"database": _check_database, "broker": _check_broker}
    results: dict[str, str] = {}
    failing: list[str] = []
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = "unavailable"
            failing.append(name)
        else:
            results[name] = "ok"
    if failing:
        body = problem_body(
            status_code=503,
            slug="dependency-unavailable",
            title="Service unavailable",
            detail=f"Not ready: {', '.join(failing)} unreachable.",
            instance=request.get_full_path(),
            extra={"checks": results},
        )
        return JsonResponse(body, status=503, content_type="application/problem+json")
    return JsonResponse({"status": "ok", "checks": results})
