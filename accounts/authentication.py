"""`Authorization: Bearer tok_...` for API calls."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken, User
from accounts.tokens import TOKEN_PREFIX, token_digest
from config import rows

# Writing last_used_at on every request would turn each read into a write;
# once a minute is enough to tell live tokens from dead ones.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _token_with_user(digest: str) -> ApiToken | None:
    """The token and its user (as select_related("user") leaves them), by
    the digest's unique index. On every API request, so through a cursor
    (config/rows.py): the ORM took longer to build this read than to run it."""
    token_user, user_pk = rows.column(ApiToken, "user"), rows.column(User, "id")
    sql = (
        f"SELECT {rows.columns(ApiToken, 't')}, {rows.columns(User, 'u')}"  # noqa: S608  (names from the models)
        f" FROM {rows.table(ApiToken)} t JOIN {rows.table(User)} u ON u.{user_pk} = t.{token_user}"
        f" WHERE t.{rows.column(ApiToken, 'digest')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    split = rows.width(ApiToken)
    api_token = rows.instance(ApiToken, row[:split])
    ApiToken.user.field.set_cached_value(api_token, rows.instance(User, row[split:]))
    return api_token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2 or not parts[1].startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        return self._authenticate_token(parts[1])

    def _authenticate_token(self, token: str) -> tuple[User, ApiToken]:
        api_token = _token_with_user(token_digest(token))
        if api_token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if not api_token.is_usable(now):
            raise exceptions.AuthenticationFailed("Token revoked or expired.")
        if not api_token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive.")
        self._touch(api_token, now)
        return api_token.user, api_token

    @staticmethod
    def _touch(api_token: ApiToken, now: Any) -> None:
        last = api_token.last_used_at
        if last is None or now - last >= LAST_USED_RESOLUTION:
            # Conditional so concurrent requests write once, not once each.
            ApiToken.objects.filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION),
                pk=api_token.pk,
            ).update(last_used_at=now)
            api_token.last_used_at = now

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def authenticated_user(request: Request | HttpRequest) -> User:
    """The caller of a view whose permission classes require authentication
    (or, for a page, behind login_required), typed as the project's User
    (DRF types it as AbstractBaseUser | AnonymousUser)."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user
