"""Every API error is RFC 9457 problem+json with the request ID."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from config.urls import urlpatterns as real_urlpatterns
from tests.problems import PROBLEM, assert_problem


class _Input(serializers.Serializer):
    name = serializers.CharField(max_length=5)
    count = serializers.IntegerField(min_value=1)


@api_view(["POST"])
@permission_classes([AllowAny])
def _validating(request: Request) -> Response:
    _Input(data=request.data).is_valid(raise_exception=True)
    return Response({})


@api_view(["GET"])
@permission_classes([AllowAny])
def _crashing(request: Request) -> Response:
    raise RuntimeError("secret internals")


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def _private(request: Request) -> Response:
    return Response({})


urlpatterns = [
    path("api/v1/_test/validate", _validating),
    path("api/v1/_test/crash", _crashing),
    path("api/v1/_test/private", _private),
    *real_urlpatterns,
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def test_an_unknown_api_route_is_a_problem(client) -> None:
    body = assert_problem(client.get("/api/v1/no-such-thing?x=1"), 404, "not-found")
    # The path alone: query strings carry tokens (verify-email?token=...).
    assert body["instance"] == "/api/v1/no-such-thing"


def test_an_unknown_route_outside_the_api_is_not_json(client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"] != PROBLEM


def test_a_wrong_method_is_a_problem(client) -> None:
    assert_problem(client.get("/api/v1/_test/validate"), 405, "method-not-allowed")


def test_validation_errors_list_each_field(client) -> None:
    body = assert_problem(
        client.post("/api/v1/_test/validate", {"name": "toolong", "count": 0}, format="json"),
        400,
        "validation-error",
    )
    assert set(body["errors"]) == {"name", "count"}
    assert all(isinstance(m, str) for m in body["errors"]["name"])


def test_malformed_json_is_a_problem(client) -> None:
    response = client.post("/api/v1/_test/validate", data="{nope", content_type="application/json")
    assert_problem(response, 400, "malformed-request")


def test_missing_credentials_is_a_401_problem(client) -> None:
    response = client.get("/api/v1/_test/private")
    assert_problem(response, 401, "not-authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_is_a_401_problem(client) -> None:
    response = client.get("/api/v1/_test/private", HTTP_AUTHORIZATION="Bearer tok_nope")
    assert_problem(response, 401, "authentication-failed")


def test_an_unhandled_error_is_a_500_problem_without_internals(client) -> None:
    body = assert_problem(client.get("/api/v1/_test/crash"), 500, "internal-error")
    assert "secret internals" not in str(body)
    assert "traceback" not in body


def test_an_unhandled_error_shows_the_traceback_in_debug(client) -> None:
    with override_settings(DEBUG=True):
        body = assert_problem(client.get("/api/v1/_test/crash"), 500, "internal-error")
    assert "secret internals" in "".join(body["traceback"])


def test_the_django_level_500_handler_answers_problem_json_under_api(rf) -> None:
    from config.handlers import server_error

    request = rf.get("/api/v1/anything")
    response = server_error(request)
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
