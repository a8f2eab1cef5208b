from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.accounts.conftest import assert_problem
from tests.factories import make_token

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/tokens"


def _bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_it_creates_a_token_shown_once(alice_session, alice):
    response = alice_session.post(URL, {"name": "laptop"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("tok_")
    assert len(body["token"]) > 40
    assert body["prefix"] == body["token"][:12]
    row = ApiToken.objects.get(pk=body["id"])
    assert row.digest == hashlib.sha256(body["token"].encode()).hexdigest()
    assert "token" not in alice_session.get(URL).json()[0]
    assert _bearer(body["token"]).get("/api/v1/accounts/me").json()["email"] == "alice@example.com"


def test_the_secret_is_nowhere_in_the_database(alice_session):
    secret = alice_session.post(URL, {"name": "laptop"}, format="json").json()["token"]

    with connection.cursor() as cursor:
        cursor.execute("SELECT name, prefix, digest FROM accounts_apitoken")
        stored = " ".join(" ".join(map(str, row)) for row in cursor.fetchall())
    assert secret not in stored
    assert secret[12:] not in stored


def test_it_lists_only_my_live_tokens(alice_session, alice, bob):
    make_token(alice, name="mine")
    revoked, _ = make_token(alice, name="old")
    revoked.revoked_at = timezone.now()
    revoked.save()
    make_token(bob, name="bobs")

    body = alice_session.get(URL).json()

    assert [t["name"] for t in body] == ["mine"]
    assert set(body[0]) == {"id", "name", "prefix", "created_at", "expires_at", "last_used_at"}


def test_a_token_with_an_expiry_stops_when_it_passes(alice_session):
    expires = timezone.now() + timedelta(days=1)
    body = alice_session.post(URL, {"expires_at": expires.isoformat()}, format="json").json()
    api = _bearer(body["token"])
    assert api.get("/api/v1/accounts/me").status_code == 200

    with freeze_time(expires + timedelta(seconds=1)):
        assert_problem(api.get("/api/v1/accounts/me"), 401, "authentication-failed")


def test_it_rejects_an_expiry_in_the_past(alice_session):
    past = (timezone.now() - timedelta(minutes=1)).isoformat()

    response = alice_session.post(URL, {"expires_at": past}, format="json")

    body = assert_problem(response, 400, "validation-error")

    assert "expires_at" in body["errors"]


def test_it_rejects_a_too_long_name(alice_session):
    response = alice_session.post(URL, {"name": "x" * 101}, format="json")

    body = assert_problem(response, 400, "validation-error")
    assert "name" in body["errors"]


def test_a_revoked_token_stops_working_at_once(alice_session, alice):
    body = alice_session.post(URL, {"name": "ci"}, format="json").json()
    api = _bearer(body["token"])
    assert api.get("/api/v1/accounts/me").status_code == 200

    assert alice_session.delete(f"{URL}/{body['id']}").status_code == 204

    assert_problem(api.get("/api/v1/accounts/me"), 401, "authentication-failed")
    assert ApiToken.objects.get(pk=body["id"]).revoked_at is not None
    assert_problem(alice_session.delete(f"{URL}/{body['id']}"), 404, "not-found")


def test_another_users_token_is_404(alice_session, bob):
    token, _ = make_token(bob)

    assert_problem(alice_session.delete(f"{URL}/{token.pk}"), 404, "not-found")
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_bearer_token_cannot_manage_tokens(alice_client, alice):
    assert_problem(alice_client.post(URL, {"name": "more"}, format="json"), 403, "session-required")
    assert_problem(alice_client.get(URL), 403, "session-required")
    token = ApiToken.objects.get(user=alice)
    assert_problem(alice_client.delete(f"{URL}/{token.pk}"), 403, "session-required")
    assert ApiToken.objects.filter(user=alice).count() == 1


def test_it_needs_a_login(client, alice):
    token, _ = make_token(alice)
    assert_problem(client.get(URL), 401, "not-authenticated")
    assert_problem(client.post(URL, {}, format="json"), 401, "not-authenticated")
    assert_problem(client.delete(f"{URL}/{token.pk}"), 401, "not-authenticated")


def test_it_answers_405_to_wrong_methods(alice_session, alice):
    token, _ = make_token(alice)
    assert_problem(alice_session.put(URL, {}, format="json"), 405, "method-not-allowed")
    assert_problem(alice_session.get(f"{URL}/{token.pk}"), 405, "method-not-allowed")


def test_last_used_at_is_written_at_most_once_a_minute(alice):
    token, secret = make_token(alice)
    api = _bearer(secret)
    start = timezone.now()

    with freeze_time(start):
        api.get("/api/v1/accounts/me")
    with freeze_time(start + timedelta(seconds=59)):
        api.get("/api/v1/accounts/me")
    token.refresh_from_db()
    assert token.last_used_at == start

    with freeze_time(start + timedelta(seconds=61)):
        api.get("/api/v1/accounts/me")
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=61)
