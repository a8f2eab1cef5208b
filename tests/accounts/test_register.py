from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import InviteCode, User
from tests.accounts.conftest import assert_problem, link_from_last_email
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/register"


def _register(client: APIClient, **overrides: str):
    data = {"email": "carol@example.com", "password": PASSWORD, "invite_code": "WELCOME123", **overrides}
    return client.post(URL, data, format="json")


def test_it_registers_a_user_with_an_invite_code(client, invite):
    response = _register(client, email="  Carol@Example.com ")

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "carol@example.com"
    assert body["email_verified"] is False
    user = User.objects.get(email="carol@example.com")
    assert user.password.startswith("argon2")
    invite.refresh_from_db()
    assert invite.used_by == user
    assert invite.used_at is not None


def test_it_sends_a_verification_email_with_an_absolute_link(client, invite):
    _register(client)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carol@example.com"]
    assert "http://testserver/dashboard/verify-email?token=" in message.body


def test_the_link_uses_frontend_url_when_set(client, invite, settings):
    settings.FRONTEND_URL = "https://app.example.com"

    _register(client)

    assert "https://app.example.com/dashboard/verify-email?token=" in mail.outbox[0].body


def test_it_accepts_the_invite_code_in_any_case(client, invite):
    assert _register(client, invite_code=" welcome123 ").status_code == 201


def test_it_rejects_a_used_invite_code(client, invite):
    assert _register(client).status_code == 201

    response = _register(client, email="dave@example.com")

    body = assert_problem(response, 400, "invite-code-used")
    assert body["errors"]["invite_code"]
    assert not User.objects.filter(email="dave@example.com").exists()


def test_it_rejects_an_unknown_invite_code(client, invite):
    body = assert_problem(_register(client, invite_code="NOPE"), 400, "invite-code-unknown")
    assert "invite_code" in body["errors"]


def test_it_rejects_an_expired_invite_code(client, db):
    InviteCode.objects.create(code="OLD", expires_at=timezone.now() - timedelta(minutes=1))

    body = assert_problem(_register(client, invite_code="OLD"), 400, "invite-code-expired")
    assert "invite_code" in body["errors"]


def test_it_rejects_a_malformed_email(client, invite):
    body = assert_problem(_register(client, email="not-an-email"), 400, "validation-error")
    assert "email" in body["errors"]


def test_it_rejects_a_weak_password_and_keeps_the_code(client, invite):
    body = assert_problem(_register(client, password="12345678"), 400, "validation-error")

    assert "password" in body["errors"]
    invite.refresh_from_db()
    assert invite.used_at is None


def test_it_rejects_a_password_like_the_email(client, invite):
    body = assert_problem(_register(client, password="carol@example.com"), 400, "validation-error")
    assert "password" in body["errors"]


def test_it_rejects_an_email_that_is_taken_in_another_case(client, invite):
    make_user("carol@example.com")

    body = assert_problem(_register(client, email="CAROL@example.com"), 400, "validation-error")

    assert "email" in body["errors"]
    invite.refresh_from_db()
    assert invite.used_at is None


def test_it_requires_every_field(client, db):
    body = assert_problem(client.post(URL, {}, format="json"), 400, "validation-error")
    assert set(body["errors"]) == {"email", "password", "invite_code"}


def test_it_answers_405_to_get(client, db):
    assert_problem(client.get(URL), 405, "method-not-allowed")


def test_it_is_throttled_per_ip(client, invite, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_register", "2/hour")
    _register(client, invite_code="NOPE")
    _register(client, invite_code="NOPE")

    response = _register(client)

    assert_problem(response, 429, "rate-limited")
    assert int(response["Retry-After"]) > 0


def test_the_emailed_link_verifies_the_new_account(client, invite):
    _register(client)

    # The link opens the dashboard's page; the API verifies the same token.
    link = link_from_last_email("carol@example.com")
    assert link.startswith("/dashboard/verify-email?token=")
    token = parse_qs(urlsplit(link).query)["token"][0]
    response = client.get("/api/v1/accounts/verify-email", {"token": token})

    assert response.status_code == 200
    assert User.objects.get(email="carol@example.com").is_verified
