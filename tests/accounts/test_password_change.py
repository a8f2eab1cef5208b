from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import assert_problem
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/password/change"
NEW = "a-brand-new-passphrase-77"


def _login(email: str = "alice@example.com", password: str = PASSWORD) -> APIClient:
    api = APIClient()
    response = api.post("/api/v1/accounts/login", {"email": email, "password": password}, format="json")
    assert response.status_code == 200
    return api


def _change(api: APIClient, current: str = PASSWORD, new: str = NEW):
    return api.post(URL, {"current_password": current, "new_password": new}, format="json")


def test_it_keeps_this_session_and_ends_the_others(alice):
    laptop, phone = _login(), _login()

    assert _change(laptop).status_code == 204

    assert laptop.get("/api/v1/accounts/me").status_code == 200
    assert_problem(phone.get("/api/v1/accounts/me"), 401, "not-authenticated")
    alice.refresh_from_db()
    assert alice.check_password(NEW)
    assert alice.password.startswith("argon2")


def test_the_new_password_logs_in_and_the_old_one_does_not(alice):
    _change(_login())

    _login(password=NEW)
    assert_problem(
        APIClient().post(
            "/api/v1/accounts/login", {"email": "alice@example.com", "password": PASSWORD}, format="json"
        ),
        400,
        "invalid-credentials",
    )


def test_it_rejects_a_wrong_current_password(alice_session, alice):
    body = assert_problem(_change(alice_session, current="wrong"), 400, "validation-error")

    assert "current_password" in body["errors"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_it_rejects_a_weak_new_password(alice_session):
    body = assert_problem(_change(alice_session, new="password"), 400, "validation-error")
    assert "new_password" in body["errors"]


def test_an_api_token_cannot_change_the_password(alice_client):
    assert_problem(_change(alice_client), 403, "session-required")


def test_it_needs_a_login(client):
    assert_problem(_change(client), 401, "not-authenticated")


def test_it_answers_405_to_get(alice_session):
    assert_problem(alice_session.get(URL), 405, "method-not-allowed")
