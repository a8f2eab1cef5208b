from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import InviteCode, User
from tests.factories import make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(operator) -> Client:
    operator.is_superuser = True
    operator.save()
    browser = Client()
    browser.force_login(operator)
    return browser


def test_the_lists_and_forms_render(admin_client, alice):
    make_token(alice)
    code = InviteCode.objects.create(code="ABC")
    for url in (
        "/admin/accounts/user/",
        f"/admin/accounts/user/{alice.pk}/change/",
        "/admin/accounts/user/add/",
        "/admin/accounts/invitecode/",
        f"/admin/accounts/invitecode/{code.pk}/change/",
        "/admin/accounts/invitecode/?state=unused",
        "/admin/accounts/apitoken/",
        "/admin/accounts/apitoken/?state=active",
        "/admin/accounts/user/?verified=no",
    ):
        assert admin_client.get(url).status_code == 200, url


def test_the_token_page_never_shows_or_edits_the_digest(admin_client, alice):
    token, _ = make_token(alice)

    page = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()

    assert token.digest not in page
    assert 'name="digest"' not in page
    assert admin_client.get("/admin/accounts/apitoken/add/").status_code == 403


def test_the_generate_action_creates_codes_owned_by_the_operator(admin_client, operator):
    assert admin_client.get("/admin/accounts/invitecode/generate/").status_code == 200

    response = admin_client.post("/admin/accounts/invitecode/generate/", {"count": 3, "expires_in_days": 7})

    assert response.status_code == 302
    codes = InviteCode.objects.all()
    assert len(codes) == 3
    assert {c.created_by for c in codes} == {operator}
    assert all(c.expires_at and c.used_at is None for c in codes)


def test_adding_a_user_normalises_the_email(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": " Dave@Example.COM ",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase-9",
            "password2": "a-long-enough-passphrase-9",
        },
    )

    assert response.status_code == 302
    assert User.objects.get(email="dave@example.com").password.startswith("argon2")


def test_the_revoke_action_revokes_tokens(admin_client, alice):
    token, _ = make_token(alice)

    admin_client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_customers_cannot_open_the_admin(alice):
    browser = Client()
    browser.force_login(alice)

    assert browser.get("/admin/accounts/invitecode/generate/").status_code == 302
