"""What throttles do while Redis, where their counters live, is down: those
derived from config.throttles.RateThrottle let reads through and answer 503
to writes; any other throttle (a plain DRF one) still answers 503, never
500. Against a Redis of the test's own, really stopped."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from config.throttles import RateThrottle, SlidingWindowThrottle
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


class _SlidingThrottle(_Keyed, SlidingWindowThrottle):
    scope = "test_sliding"
    rate = "3/min"


class _DerivedApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [_DerivedThrottle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})

    def post(self, request: Request) -> Response:
        return Response({"ok": True})


class _PlainApi(_DerivedApi):
    throttle_classes = [_PlainThrottle]


class _SlidingApi(_DerivedApi):
    throttle_classes = [_SlidingThrottle]


urlpatterns = [
    path("api/v1/_test/derived", _DerivedApi.as_view()),
    path("api/v1/_test/plain", _PlainApi.as_view()),
    path("api/v1/_test/sliding", _SlidingApi.as_view()),
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


def test_a_sliding_window_throttle_refuses_past_its_rate_with_retry_after(client, private_redis) -> None:
    for _ in range(3):
        assert client.post("/api/v1/_test/sliding", {}, format="json").status_code == 200
    refused = client.post("/api/v1/_test/sliding", {}, format="json")
    assert_problem(refused, 429, "rate-limited")
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_a_sliding_window_lets_requests_in_again_as_old_ones_leave_it(rf, private_redis) -> None:
    clock = [1000.0]
    throttle = _SlidingThrottle()
    throttle.timer = lambda: clock[0]
    request = rf.post("/")
    assert [throttle.allow_request(request, _SlidingApi()) for _ in range(4)] == [True, True, True, False]
    assert throttle.wait() == pytest.approx(60.0)
    clock[0] += 30
    assert throttle.allow_request(request, _SlidingApi()) is False
    assert throttle.wait() == pytest.approx(30.0)
    clock[0] += 30.001
    assert throttle.allow_request(request, _SlidingApi()) is True
    assert throttle.window_count == 1


def test_a_sliding_window_admits_exactly_its_rate_under_concurrent_requests(rf, private_redis) -> None:
    # One atomic script per check: a read-then-write throttle lets several
    # concurrent requests through on the same count.
    request = rf.post("/")
    results: list[bool] = []
    start = threading.Barrier(12)

    def check() -> None:
        start.wait()
        results.append(_SlidingThrottle().allow_request(request, _SlidingApi()))

    threads = [threading.Thread(target=check) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(results) == [False] * 9 + [True] * 3


def test_a_sliding_window_throttle_keeps_the_outage_rules(client, private_redis) -> None:
    private_redis.stop()
    assert client.get("/api/v1/_test/sliding").status_code == 200
    assert_problem(client.post("/api/v1/_test/sliding", {}, format="json"), 503, "service-unavailable")
