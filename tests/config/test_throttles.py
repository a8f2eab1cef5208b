"""What throttles do while Redis, where their counters live, is down: those
derived from config.throttles.RateThrottle let reads through and answer 503
to writes; any other throttle (a plain DRF one) still answers 503, never
500. Against a Redis of the test's own, really stopped."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from config.throttles import RateThrottle
from config.urls import urlpatterns as real_urlpatterns
from tests.problems import assert_problem


class _Keyed:
    rate: str | None = "100/min"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return f"test-throttle-{self.get_ident(request)}"  # type: ignore[attr-defined]


class _DerivedThrottle(_Keyed, RateThrottle):
    scope = "test_derived"


class _PlainThrottle(_Keyed, SimpleRateThrottle):
    scope = "test_plain"


class _DerivedApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [_DerivedThrottle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})

    def post(self, request: Request) -> Response:
        return Response({"ok": True})


class _PlainApi(_DerivedApi):
    throttle_classes = [_PlainThrottle]


urlpatterns = [
    path("api/v1/_test/derived", _DerivedApi.as_view()),
    path("api/v1/_test/plain", _PlainApi.as_view()),
    *real_urlpatterns,
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def test_a_derived_throttle_counts_while_redis_is_up(client, private_redis) -> None:
    for _ in range(2):
        assert client.get("/api/v1/_test/derived").status_code == 200
    assert len(_DerivedThrottle().cache.get("test-throttle-127.0.0.1")) == 2


def test_a_derived_throttle_lets_reads_through_while_redis_is_down(client, private_redis) -> None:
    private_redis.stop()
    assert client.get("/api/v1/_test/derived").status_code == 200
    assert client.head("/api/v1/_test/derived").status_code == 200


def test_a_derived_throttle_refuses_writes_with_503_while_redis_is_down(
    client, private_redis, settings
) -> None:
    private_redis.stop()
    response = client.post("/api/v1/_test/derived", {}, format="json")
    body = assert_problem(response, 503, "service-unavailable")
    assert body["dependency"] == "redis"
    assert response["Retry-After"] == str(settings.DEPENDENCY_RETRY_AFTER_S)


def test_a_plain_drf_throttle_answers_503_not_500_while_redis_is_down(client, private_redis) -> None:
    private_redis.stop()
    for response in (
        client.get("/api/v1/_test/plain"),
        client.post("/api/v1/_test/plain", {}, format="json"),
    ):
        assert assert_problem(response, 503, "service-unavailable")["dependency"] == "redis"
