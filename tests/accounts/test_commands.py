from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiToken, InviteCode, User

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_invite_codes_prints_new_unused_codes(operator):
    out = _run("create_invite_codes", "3", "--expires-in-days", "5", "--created-by", "operator@example.com")

    printed = out.split()
    assert len(printed) == 3
    codes = InviteCode.objects.filter(code__in=printed)
    assert codes.count() == 3
    assert all(c.created_by == operator and c.expires_at and not c.is_used for c in codes)


def test_create_invite_codes_refuses_an_unknown_creator(db):
    with pytest.raises(CommandError):
        _run("create_invite_codes", "--created-by", "nobody@example.com")


def test_bootstrap_demo_is_idempotent(settings):
    settings.DEBUG = True

    first = _run("bootstrap_demo")
    second = _run("bootstrap_demo")

    assert "tok_" in first
    assert "tok_" not in second
    assert "DEMO1234 (unused)" in second
    assert User.objects.count() == 2
    assert ApiToken.objects.count() == 1
    invite = InviteCode.objects.get(code="DEMO1234")
    assert invite.used_at is None
    assert User.objects.get(email="user@example.com").is_verified


def test_bootstrap_demo_refuses_with_debug_off_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError):
        _run("bootstrap_demo")
    assert "DEMO1234" in _run("bootstrap_demo", "--force")


def test_the_demo_invite_code_registers_an_account(client, settings):
    settings.DEBUG = True
    _run("bootstrap_demo")

    response = client.post(
        "/api/v1/accounts/register",
        {"email": "new@example.com", "password": "a-long-enough-passphrase-9", "invite_code": "DEMO1234"},
        format="json",
    )

    assert response.status_code == 201
