from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.accounts.conftest import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/me"


def test_it_shows_the_session_user(alice_session, alice):
    body = alice_session.get(URL).json()

    assert body == {
        "id": alice.pk,
        "email": "alice@example.com",
        "email_verified": True,
        "email_verified_at": body["email_verified_at"],
        "date_joined": body["date_joined"],
    }
    assert "password" not in body


def test_it_shows_the_token_user(alice_client, bob_client):
    assert alice_client.get(URL).json()["email"] == "alice@example.com"
    assert bob_client.get(URL).json()["email"] == "bob@example.com"


def test_it_needs_authentication(client):
    response = client.get(URL)

    assert_problem(response, 401, "not-authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working_at_once(alice_client, alice):
    assert alice_client.get(URL).status_code == 200
    ApiToken.objects.filter(user=alice).update(revoked_at=timezone.now())

    assert_problem(alice_client.get(URL), 401, "authentication-failed")


def test_an_unknown_token_is_refused(db):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer tok_not-a-real-token")

    assert_problem(api.get(URL), 401, "authentication-failed")


def test_it_answers_405_to_post(alice_session):
    assert_problem(alice_session.post(URL), 405, "method-not-allowed")
