from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.throttles import LoginAccountThrottle
from tests.accounts.conftest import assert_problem
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/login"


def _login(client: APIClient, email: str = "alice@example.com", password: str = PASSWORD):
    return client.post(URL, {"email": email, "password": password}, format="json")


def _in_one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The account throttle counts per clock hour: a test whose attempts
    straddle the hour would see its count start again. Its clock stays in
    the middle of one hour."""
    monkeypatch.setattr(LoginAccountThrottle, "timer", staticmethod(lambda: 1_800_000_000.0 + 1800))


def test_it_logs_in_with_a_session_cookie(client, alice):
    response = _login(client, email="ALICE@example.com")

    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"
    assert response.cookies["sessionid"]["httponly"]
    assert "csrftoken" in response.cookies
    assert client.get("/api/v1/accounts/me").json()["email"] == "alice@example.com"


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client, alice):
    wrong_password = assert_problem(_login(client, password="wrong"), 400, "invalid-credentials")
    unknown_email = assert_problem(_login(client, email="nobody@example.com"), 400, "invalid-credentials")

    assert wrong_password["detail"] == unknown_email["detail"]
    assert wrong_password["errors"] == unknown_email["errors"]
    assert "sessionid" not in client.cookies


def test_it_refuses_an_unverified_email_with_its_own_problem(client):
    make_user("carol@example.com", verified=False)

    assert_problem(_login(client, email="carol@example.com"), 403, "email-not-verified")
    assert "sessionid" not in client.cookies


def test_an_unverified_account_with_a_wrong_password_looks_like_any_wrong_password(client):
    make_user("carol@example.com", verified=False)

    assert_problem(_login(client, email="carol@example.com", password="x"), 400, "invalid-credentials")


def test_it_refuses_an_inactive_user(client, alice):
    alice.is_active = False
    alice.save()

    assert_problem(_login(client), 400, "invalid-credentials")


def test_it_rejects_a_malformed_email(client):
    body = assert_problem(_login(client, email="alice"), 400, "validation-error")
    assert "email" in body["errors"]


def test_it_throttles_failed_attempts_per_account_across_ips(client, alice, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_login_account", "3/hour")
    _in_one_window(monkeypatch)
    for i in range(3):
        other_ip = APIClient(REMOTE_ADDR=f"10.0.0.{i}")
        assert_problem(_login(other_ip, password="guess"), 400, "invalid-credentials")

    response = _login(client)  # even the right password, from yet another IP

    assert_problem(response, 429, "rate-limited")
    assert int(response["Retry-After"]) > 0
    assert _login(client, email="bob@example.com", password="guess").status_code == 400


def test_successful_logins_do_not_count_against_the_account(client, alice, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_login_account", "2/hour")
    _in_one_window(monkeypatch)

    assert [_login(client).status_code for _ in range(4)] == [200] * 4


def test_only_wrong_passwords_count_against_the_account(client, alice, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_login_account", "1/hour")
    _in_one_window(monkeypatch)
    make_user("carol@example.com", verified=False)
    for _ in range(3):
        assert_problem(_login(client, email="carol@example.com"), 403, "email-not-verified")
        no_password = client.post(URL, {"email": "alice@example.com"}, format="json")
        assert_problem(no_password, 400, "validation-error")

    assert_problem(_login(client, email="carol@example.com", password="guess"), 400, "invalid-credentials")
    assert_problem(_login(client, email="carol@example.com"), 429, "rate-limited")
    assert _login(client).status_code == 200


def test_retry_after_is_the_time_left_in_the_window(client, alice, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_login_account", "1/hour")
    monkeypatch.setattr(LoginAccountThrottle, "timer", staticmethod(lambda: 1_800_000_000.0 + 3000))
    _login(client, password="guess")

    response = _login(client, password="guess")

    assert_problem(response, 429, "rate-limited")
    assert int(response["Retry-After"]) == 600  # the clock hour ends in 10 minutes


def test_it_throttles_every_attempt_per_ip(client, alice, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_login_ip", "3/min")
    for i in range(3):
        _login(client, email=f"user{i}@example.com")

    assert_problem(_login(client), 429, "rate-limited")
    assert _login(APIClient(REMOTE_ADDR="10.0.0.9")).status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_ip_throttle(client, alice, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "accounts_login_ip", "2/min")
    for i in range(2):
        client.post(
            URL, {"email": "x@example.com", "password": "x"}, format="json", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}"
        )

    response = client.post(
        URL,
        {"email": "alice@example.com", "password": PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="9.9.9.9",
    )

    assert_problem(response, 429, "rate-limited")


def test_it_answers_405_to_get(client):
    assert_problem(client.get(URL), 405, "method-not-allowed")
