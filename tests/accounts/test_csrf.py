from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/csrf"


@pytest.fixture
def browser(alice) -> APIClient:
    """A logged-in browser: the session cookie goes with every request, so
    unsafe requests must prove they come from our page."""
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(alice)
    return api


def test_it_gives_a_token_and_sets_the_cookie(client):
    response = client.get(URL)

    assert response.status_code == 200
    assert response.json()["csrf_token"]
    assert response.json()["header_name"] == "X-CSRFToken"
    assert "csrftoken" in response.cookies


def test_a_session_request_without_the_token_is_refused(browser):
    response = browser.post("/api/v1/accounts/tokens", {"name": "ci"}, format="json")

    body = assert_problem(response, 403, "permission-denied")
    assert "CSRF" in body["detail"]


def test_a_session_request_with_the_token_is_accepted(browser):
    token = browser.get(URL).json()["csrf_token"]

    response = browser.post("/api/v1/accounts/tokens", {"name": "ci"}, format="json", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 201


def test_bearer_requests_need_no_csrf_token(alice_token):
    api = APIClient(enforce_csrf_checks=True)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alice_token}")

    assert api.post("/api/v1/accounts/logout").status_code == 204


def test_it_answers_405_to_post(client):
    assert_problem(client.post(URL), 405, "method-not-allowed")
