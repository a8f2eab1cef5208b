from __future__ import annotations

import pytest
from django.core import mail
from rest_framework.throttling import SimpleRateThrottle

from tests.accounts.conftest import assert_problem, link_from_last_email
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/resend-verification"


def test_it_sends_a_new_link_to_an_unverified_account(client):
    make_user("carol@example.com", verified=False)

    response = client.post(URL, {"email": "Carol@example.com"}, format="json")

    assert response.status_code == 202
    assert len(mail.outbox) == 1
    assert client.get(link_from_last_email("carol@example.com")).status_code == 200


def test_it_answers_the_same_for_unknown_and_verified_emails(client, alice):
    make_user("carol@example.com", verified=False)

    answers = [
        client.post(URL, {"email": email}, format="json")
        for email in ("carol@example.com", "nobody@example.com", "alice@example.com")
    ]

    assert {r.status_code for r in answers} == {202}
    assert len({r.content for r in answers}) == 1
    assert [m.to for m in mail.outbox] == [["carol@example.com"]]


def test_it_rejects_a_malformed_email(client):
    body = assert_problem(client.post(URL, {"email": "nope"}, format="json"), 400, "validation-error")
    assert "email" in body["errors"]


def test_it_is_throttled_per_address(client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_email_address", "2/hour")
    for _ in range(2):
        client.post(URL, {"email": "carol@example.com"}, format="json")

    assert_problem(client.post(URL, {"email": "CAROL@example.com"}, format="json"), 429, "rate-limited")
    assert client.post(URL, {"email": "dave@example.com"}, format="json").status_code == 202


def test_it_is_throttled_per_ip(client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_email_ip", "2/hour")
    for i in range(2):
        client.post(URL, {"email": f"user{i}@example.com"}, format="json")

    assert_problem(client.post(URL, {"email": "other@example.com"}, format="json"), 429, "rate-limited")


def test_it_answers_405_to_get(client):
    assert_problem(client.get(URL), 405, "method-not-allowed")
