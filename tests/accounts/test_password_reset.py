from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core import mail
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.accounts.conftest import assert_problem, link_from_last_email
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/password/reset"
CONFIRM = "/api/v1/accounts/password/reset/confirm"
NEW = "a-brand-new-passphrase-77"


def _reset_link(client: APIClient, email: str = "alice@example.com") -> tuple[str, dict[str, str]]:
    assert client.post(URL, {"email": email}, format="json").status_code == 202
    link = link_from_last_email(email)
    query = parse_qs(urlsplit(link).query)
    return link, {"uid": query["uid"][0], "token": query["token"][0]}


def test_it_emails_a_link_that_sets_a_new_password(client, alice):
    link, params = _reset_link(client)

    # The link opens the dashboard's page; the API takes the same uid and token.
    assert link.startswith("/dashboard/password/reset/confirm?")
    assert client.get(link).status_code == 200
    response = client.post(CONFIRM, {**params, "new_password": NEW}, format="json")

    assert response.status_code == 204
    alice.refresh_from_db()
    assert alice.check_password(NEW)


def test_it_answers_the_same_for_an_unknown_email(client, alice):
    known = client.post(URL, {"email": "alice@example.com"}, format="json")
    unknown = client.post(URL, {"email": "nobody@example.com"}, format="json")

    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_a_reset_link_works_once(client, alice):
    _, params = _reset_link(client)
    client.post(CONFIRM, {**params, "new_password": NEW}, format="json")

    response = client.post(CONFIRM, {**params, "new_password": NEW + "x"}, format="json")

    assert_problem(response, 400, "reset-token-invalid")


def test_it_rejects_a_tampered_token(client, alice):
    _, params = _reset_link(client)

    response = client.post(
        CONFIRM, {"uid": params["uid"], "token": params["token"] + "x", "new_password": NEW}, format="json"
    )

    body = assert_problem(response, 400, "reset-token-invalid")
    assert "token" in body["errors"]
    assert_problem(client.get(CONFIRM, {"uid": "garbage", "token": "x"}), 400, "reset-token-invalid")


def test_a_token_for_one_user_does_not_reset_another(client, alice, bob):
    _, params = _reset_link(client)
    _, bob_params = _reset_link(client, "bob@example.com")

    response = client.post(
        CONFIRM, {"uid": bob_params["uid"], "token": params["token"], "new_password": NEW}, format="json"
    )

    assert_problem(response, 400, "reset-token-invalid")
    bob.refresh_from_db()
    assert bob.check_password(PASSWORD)


def test_it_rejects_a_weak_new_password(client, alice):
    _, params = _reset_link(client)

    body = assert_problem(
        client.post(CONFIRM, {**params, "new_password": "alice@example.com"}, format="json"),
        400,
        "validation-error",
    )

    assert "new_password" in body["errors"]


def test_a_reset_ends_existing_sessions(client, alice, alice_session):
    _, params = _reset_link(client)
    client.post(CONFIRM, {**params, "new_password": NEW}, format="json")

    assert_problem(alice_session.get("/api/v1/accounts/me"), 401, "not-authenticated")


def test_a_reset_proves_the_mailbox_and_verifies_the_email(client):
    carol = make_user("carol@example.com", verified=False)
    _, params = _reset_link(client, "carol@example.com")

    client.post(CONFIRM, {**params, "new_password": NEW}, format="json")

    carol.refresh_from_db()
    assert carol.is_verified


def test_it_rejects_bad_input(client):
    assert_problem(client.post(URL, {"email": "nope"}, format="json"), 400, "validation-error")
    body = assert_problem(client.post(CONFIRM, {}, format="json"), 400, "validation-error")
    assert set(body["errors"]) == {"uid", "token", "new_password"}


def test_it_is_throttled(client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_email_address", "1/hour")
    client.post(URL, {"email": "alice@example.com"}, format="json")

    assert_problem(client.post(URL, {"email": "alice@example.com"}, format="json"), 429, "rate-limited")


def test_it_answers_405_to_wrong_methods(client):
    assert_problem(client.get(URL), 405, "method-not-allowed")
    assert_problem(client.delete(CONFIRM), 405, "method-not-allowed")


def test_a_used_reset_link_does_not_echo_or_log_its_token(client, alice, caplog):
    link, params = _reset_link(client)
    assert client.post(CONFIRM, {**params, "new_password": NEW}, format="json").status_code == 204
    with caplog.at_level("INFO"):
        api_answer = client.get(f"{CONFIRM}?{urlencode(params)}")
        page = client.get(link)

    body = assert_problem(api_answer, 400, "reset-token-invalid")
    assert body["instance"] == CONFIRM
    assert page.status_code == 200
    assert b"Ask for a new link" in page.content
    for response in (api_answer, page):
        assert params["token"].encode() not in response.content
    assert params["token"] not in caplog.text
