from __future__ import annotations

import pytest
from django.test import override_settings


def test_healthz_answers_without_touching_dependencies(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_readyz_lists_database_and_broker(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readyz_names_the_failing_broker(client, tmp_path) -> None:
    with override_settings(REDIS_URL=f"unix://{tmp_path}/nothing-here.sock"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/dependency-unavailable")
    assert body["checks"] == {"database": "ok", "broker": "unavailable"}
    assert "broker" in body["detail"]
    assert body["request_id"] == response["X-Request-ID"]


def test_healthz_refuses_post(client) -> None:
    assert client.post("/healthz").status_code == 405
