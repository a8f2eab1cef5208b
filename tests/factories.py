"""Small factories for the fixed cast: alice owns things, bob must see none of
them, the operator is staff."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import ApiToken, User
from accounts.tokens import display_prefix, generate_token, token_digest

PASSWORD = "correct-horse-battery-staple-42"


def make_user(email: str, *, verified: bool = True, staff: bool = False, password: str = PASSWORD) -> User:
    return User.objects.create_user(
        email,
        password,
        email_verified_at=timezone.now() if verified else None,
        is_staff=staff,
    )


def make_token(user: User, *, name: str = "test") -> tuple[ApiToken, str]:
    """An API token row and its secret (shown once in the real flow)."""
    raw = generate_token()
    token = ApiToken.objects.create(
        user=user, name=name, prefix=display_prefix(raw), digest=token_digest(raw)
    )
    return token, raw
