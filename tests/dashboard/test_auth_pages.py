"""Sign up, verification, log in and out, password change and reset, through
the pages and the real account services."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.cache import cache

from accounts.models import InviteCode, User
from accounts.services import email_verification_token
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "a-brand-new-passphrase-77"


def _link(to: str) -> str:
    message = [m for m in mail.outbox if to in m.to][-1]
    url = re.search(r"https?://\S+", str(message.body))
    assert url, message.body
    parts = urlsplit(url.group(0))
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def invite(db: None) -> InviteCode:
    return InviteCode.objects.create(code="WELCOME123")


def test_the_root_leads_to_the_dashboard_and_the_login(web, db) -> None:
    assert web.get("/").headers["Location"] == "/dashboard/"
    response = web.get("/dashboard/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/login?next=/dashboard/"


def test_it_signs_up_with_an_invite_code_and_mails_a_link_to_the_verify_page(web, invite) -> None:
    response = web.post(
        "/dashboard/signup", {"invite_code": "welcome123", "email": "Carol@Example.com", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/signup/check-email"
    assert "carol@example.com" in web.get("/dashboard/signup/check-email").content.decode()
    assert _link("carol@example.com").startswith("/dashboard/verify-email?token=")
    invite.refresh_from_db()
    assert invite.used_by == User.objects.get(email="carol@example.com")


def test_signup_errors_are_shown_next_to_their_fields(web, invite) -> None:
    invite.used_at = invite.created_at
    invite.save()

    response = web.post("/dashboard/signup", {"invite_code": "WELCOME123", "email": "x", "password": ""})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid email address." in page
    assert "This field is required." in page
    # Fields first: the service (and its invite check) only runs on a valid form.
    response = web.post(
        "/dashboard/signup", {"invite_code": "WELCOME123", "email": "carol@example.com", "password": PASSWORD}
    )
    page = response.content.decode()
    assert 'id="id_invite_code_error"' in page
    assert "This invite code has already been used." in page
    assert not User.objects.filter(email="carol@example.com").exists()


def test_a_weak_password_is_refused_by_the_same_validators_as_the_api(web, invite) -> None:
    response = web.post(
        "/dashboard/signup",
        {"invite_code": "WELCOME123", "email": "carol@example.com", "password": "12345678"},
    )

    assert 'id="id_password_error"' in response.content.decode()
    assert "This password is entirely numeric." in response.content.decode()


def test_the_verify_link_asks_for_a_click_then_verifies_once(web, db) -> None:
    carol = make_user("carol@example.com", verified=False)
    token = email_verification_token(user=carol)

    shown = web.get(f"/dashboard/verify-email?token={token}")
    carol.refresh_from_db()
    assert shown.status_code == 200 and carol.email_verified_at is None  # a GET changes nothing

    done = web.post("/dashboard/verify-email", {"token": token})
    carol.refresh_from_db()
    assert done.status_code == 200 and carol.is_verified
    assert "Email confirmed" in done.content.decode()

    again = web.post("/dashboard/verify-email", {"token": token})
    assert again.status_code == 200
    assert "Already confirmed" in again.content.decode()


def test_a_broken_or_expired_verify_link_says_so(web, db, settings) -> None:
    carol = make_user("carol@example.com", verified=False)
    broken = web.post("/dashboard/verify-email", {"token": "not-a-token"})
    assert broken.status_code == 400
    assert "This link is not valid" in broken.content.decode()

    settings.EMAIL_VERIFICATION_MAX_AGE = -1
    expired = web.post("/dashboard/verify-email", {"token": email_verification_token(user=carol)})
    assert expired.status_code == 400
    assert "This link has expired" in expired.content.decode()


def test_it_logs_in_and_out(web, alice) -> None:
    response = web.post("/dashboard/login", {"email": "ALICE@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/"
    assert web.get("/dashboard/").status_code == 200

    assert web.get("/dashboard/logout").status_code == 405  # only a POST logs out (CSRF-checked)
    assert web.post("/dashboard/logout").status_code == 302
    assert web.get("/dashboard/").status_code == 302


def test_login_goes_back_to_next_but_never_off_site(web, alice) -> None:
    ok = web.post(
        "/dashboard/login?next=/dashboard/keys", {"email": "alice@example.com", "password": PASSWORD}
    )
    assert ok.headers["Location"] == "/dashboard/keys"
    web.post("/dashboard/logout")
    evil = web.post(
        "/dashboard/login",
        {"email": "alice@example.com", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert evil.headers["Location"] == "/dashboard/"


def test_a_wrong_password_or_an_unverified_account_cannot_log_in(web, alice) -> None:
    wrong = web.post("/dashboard/login", {"email": "alice@example.com", "password": "nope"})
    assert wrong.status_code == 200
    assert "The email or password is incorrect." in wrong.content.decode()

    make_user("carol@example.com", verified=False)
    unverified = web.post("/dashboard/login", {"email": "carol@example.com", "password": PASSWORD})
    assert "Verify your email address" in unverified.content.decode()
    assert "/dashboard/verify-email/resend" in unverified.content.decode()
    assert web.get("/dashboard/").status_code == 302


def test_failed_logins_count_against_the_same_limit_as_the_api(web, alice, client) -> None:
    cache.clear()
    for _ in range(10):
        web.post("/dashboard/login", {"email": "alice@example.com", "password": "nope"})

    refused = web.post("/dashboard/login", {"email": "alice@example.com", "password": PASSWORD})
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    # The API shares the counter.
    api = client.post(
        "/api/v1/accounts/login", {"email": "alice@example.com", "password": PASSWORD}, format="json"
    )
    assert api.status_code == 429


def test_the_password_reset_pages_set_a_new_password(web, alice) -> None:
    sent = web.post("/dashboard/password/reset", {"email": "alice@example.com"})
    assert "a link to choose a new password is on its way" in sent.content.decode()
    link = _link("alice@example.com")
    assert link.startswith("/dashboard/password/reset/confirm?uid=")

    form = web.get(link)
    assert form.status_code == 200
    query = dict(part.split("=", 1) for part in urlsplit(link).query.split("&"))
    done = web.post("/dashboard/password/reset/confirm", {**query, "new_password": NEW_PASSWORD})

    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    reused = web.post("/dashboard/password/reset/confirm", {**query, "new_password": NEW_PASSWORD + "x"})
    assert "This password reset link is invalid or has expired" in reused.content.decode()


def test_a_password_reset_for_an_unknown_email_answers_the_same(web, alice) -> None:
    known = web.post("/dashboard/password/reset", {"email": "alice@example.com"})
    unknown = web.post("/dashboard/password/reset", {"email": "nobody@example.com"})
    assert known.content.replace(b"alice@example.com", b"") == unknown.content.replace(
        b"nobody@example.com", b""
    )
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_the_password_change_page_checks_the_current_password(alice_web, alice) -> None:
    wrong = alice_web.post(
        "/dashboard/password/change", {"current_password": "nope", "new_password": NEW_PASSWORD}
    )
    assert 'id="id_current_password_error"' in wrong.content.decode()

    done = alice_web.post(
        "/dashboard/password/change", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert alice_web.get("/dashboard/").status_code == 200  # this session stays logged in
