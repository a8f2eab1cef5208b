"""Abuse limits on every endpoint: the default per-account throttle, with the
rate-limit headers, and cancel on a budget of its own."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.helpers import make_job
from tests.factories import make_token
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def _rates(settings: Any, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/billing/summary",
        "/api/v1/billing/periods",
        "/api/v1/webhooks/settings",
        "/api/v1/webhooks/secret",
        "/api/v1/accounts/me",
    ],
)
def test_endpoints_without_throttles_of_their_own_get_the_account_throttle(
    alice_client, settings, url
) -> None:
    _rates(settings, account="2/min")
    first = alice_client.get(url)
    assert first.status_code == 200
    assert first["X-RateLimit-Limit"] == "2"
    assert first["X-RateLimit-Remaining"] == "1"
    assert int(first["X-RateLimit-Reset"]) <= 60
    assert alice_client.get(url)["X-RateLimit-Remaining"] == "0"
    refused = alice_client.get(url)
    assert_problem(refused, 429, "rate-limited")
    assert int(refused["Retry-After"]) >= 1
    assert refused["X-RateLimit-Remaining"] == "0"


def test_the_account_throttle_counts_every_token_of_the_account_together(
    alice, alice_client, bob_client, settings
) -> None:
    _rates(settings, account="2/min")
    second_token = APIClient()
    second_token.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(alice)[1]}")
    assert alice_client.get("/api/v1/billing/summary").status_code == 200
    assert second_token.get("/api/v1/billing/summary").status_code == 200
    assert_problem(second_token.get("/api/v1/billing/periods"), 429, "rate-limited")
    # Another account has its own budget.
    assert bob_client.get("/api/v1/billing/summary").status_code == 200


def test_the_account_throttle_counts_per_client_ip_before_login(client, settings) -> None:
    _rates(settings, account="1/min")
    assert client.get("/api/v1/accounts/csrf").status_code == 200
    assert_problem(client.get("/api/v1/accounts/csrf"), 429, "rate-limited")


def test_cancel_has_its_own_budget(alice, alice_client, settings) -> None:
    _rates(settings, jobs_read="1/min", jobs_cancel="1/min")
    job = make_job(alice)
    assert alice_client.get(f"/api/v1/jobs/{job.id}").status_code == 200
    assert_problem(alice_client.get(f"/api/v1/jobs/{job.id}"), 429, "rate-limited")
    # Reads used up: cancelling still works, and reports its own budget.
    cancel = alice_client.post(f"/api/v1/jobs/{job.id}/cancel")
    assert cancel.status_code == 200
    assert cancel["X-RateLimit-Remaining"] == "0"
    assert_problem(alice_client.post(f"/api/v1/jobs/{job.id}/cancel"), 429, "rate-limited")
