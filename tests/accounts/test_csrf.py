from __future__ import annotations

from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import assert_problem
from tests.factories import PASSWORD

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


# The endpoints used before a session exists take no CSRF token; they accept
# only JSON, which a form on another site cannot send.
UNAUTHENTICATED_POSTS = [
    "/api/v1/accounts/register",
    "/api/v1/accounts/login",
    "/api/v1/accounts/resend-verification",
    "/api/v1/accounts/password/reset",
    "/api/v1/accounts/password/reset/confirm",
]
FORM_BODIES = [
    ("application/x-www-form-urlencoded", "email=alice%40example.com&password=x"),
    (
        "multipart/form-data; boundary=b",
        '--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nx\r\n--b--\r\n',
    ),
    ("text/plain", '{"email": "alice@example.com", "password": "x"}'),
]


def test_a_cross_site_form_cannot_log_a_browser_in(alice):
    browser = APIClient(enforce_csrf_checks=True)

    response = browser.post(
        "/api/v1/accounts/login",
        urlencode({"email": "alice@example.com", "password": PASSWORD}),
        content_type="application/x-www-form-urlencoded",
    )

    assert_problem(response, 415, "unsupported-media-type")
    assert "sessionid" not in browser.cookies


@pytest.mark.parametrize("url", UNAUTHENTICATED_POSTS)
@pytest.mark.parametrize(("content_type", "body"), FORM_BODIES)
def test_unauthenticated_posts_refuse_what_a_form_can_send(url, content_type, body):
    response = APIClient(enforce_csrf_checks=True).post(url, body, content_type=content_type)

    assert_problem(response, 415, "unsupported-media-type")


def test_a_json_login_needs_no_csrf_token(alice):
    browser = APIClient(enforce_csrf_checks=True)

    response = browser.post(
        "/api/v1/accounts/login", {"email": "alice@example.com", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert browser.cookies["sessionid"].value
