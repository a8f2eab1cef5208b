from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.services import email_verification_token
from tests.accounts.conftest import assert_problem
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/verify-email"


@pytest.fixture
def carol():
    return make_user("carol@example.com", verified=False)


def test_it_verifies_the_email(client: APIClient, carol):
    response = client.get(URL, {"token": email_verification_token(user=carol)})

    assert response.status_code == 200
    assert response.json()["email_verified"] is True
    carol.refresh_from_db()
    assert carol.is_verified


def test_a_link_works_once(client, carol):
    token = email_verification_token(user=carol)
    client.get(URL, {"token": token})

    assert_problem(client.get(URL, {"token": token}), 409, "email-already-verified")


def test_a_refused_link_does_not_echo_or_log_its_token(client, carol, caplog):
    # A verification link is a credential: not in the problem, not in the logs.
    token = email_verification_token(user=carol)
    client.get(URL, {"token": token})
    with caplog.at_level("INFO"):
        conflict = client.get(URL, {"token": token})
        invalid = client.get(URL, {"token": token + "x"})

    assert assert_problem(conflict, 409, "email-already-verified")["instance"] == URL
    assert assert_problem(invalid, 400, "verification-token-invalid")["instance"] == URL
    assert token.encode() not in conflict.content + invalid.content
    assert token not in caplog.text


def test_it_rejects_a_tampered_token(client, carol):
    token = email_verification_token(user=carol)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    body = assert_problem(client.get(URL, {"token": tampered}), 400, "verification-token-invalid")

    assert "token" in body["errors"]
    carol.refresh_from_db()
    assert not carol.is_verified


def test_it_rejects_a_token_signed_for_another_purpose(client, carol):
    forged = signing.dumps({"u": carol.pk, "e": carol.email})  # default salt

    assert_problem(client.get(URL, {"token": forged}), 400, "verification-token-invalid")


def test_it_rejects_a_token_older_than_24_hours(client, carol):
    with freeze_time(timedelta(hours=-24, seconds=-1), tick=False):
        token = email_verification_token(user=carol)

    body = assert_problem(client.get(URL, {"token": token}), 400, "verification-token-expired")

    assert "token" in body["errors"]


def test_it_accepts_a_token_just_under_24_hours_old(client, carol):
    with freeze_time(timedelta(hours=-23, minutes=-59), tick=False):
        token = email_verification_token(user=carol)

    assert client.get(URL, {"token": token}).status_code == 200


def test_it_rejects_a_token_for_a_deleted_user(client, carol):
    token = email_verification_token(user=carol)
    carol.delete()

    assert_problem(client.get(URL, {"token": token}), 400, "verification-token-invalid")


def test_it_requires_a_token(client):
    body = assert_problem(client.get(URL), 400, "validation-error")
    assert "token" in body["errors"]


def test_it_answers_405_to_post(client):
    assert_problem(client.post(URL, {}), 405, "method-not-allowed")
