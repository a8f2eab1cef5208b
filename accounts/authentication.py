"""`Authorization: Bearer tok_...` for API calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

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


@dataclass(frozen=True)
class ReadAlong:
    """A read a view asks to be made in the token's own statement, saving a
    round trip on its hot path (a client polling its job). `select` adds columns,
    `join` adds LEFT JOINs (the token's user is `u`), `params` are the join's
    placeholders, and `load` turns the row's added values into what the view
    reads from `request.read_along`. A view offers one through
    `read_along_token(request)`; the join must not drop or repeat the token's
    row."""

    select: str
    join: str
    params: Sequence[Any]
    load: Callable[[Sequence[Any]], Any]


def _token_with_user(digest: str, along: ReadAlong | None = None) -> tuple[ApiToken | None, Any]:
    """The token and its user (as select_related("user") leaves them), by
    the digest's unique index, and what `along` loads from the same row. On
    every API request, so through a cursor (config/rows.py): the ORM took
    longer to build this read than to run it."""
    token_user, user_pk = rows.column(ApiToken, "user"), rows.column(User, "id")
    sql = (
        f"SELECT {rows.columns(ApiToken, 't')}, {rows.columns(User, 'u')}"  # noqa: S608  (names from the models)
        f"{', ' + along.select if along else ''}"
        f" FROM {rows.table(ApiToken)} t JOIN {rows.table(User)} u ON u.{user_pk} = t.{token_user}"
        f"{' ' + along.join if along else ''}"
        f" WHERE t.{rows.column(ApiToken, 'digest')} = %s"
    )
    with rows.prepared_cursor() as cursor:
        cursor.execute(sql, [*(along.params if along else ()), digest])
        row = cursor.fetchone()
    if row is None:
        return None, None
    split, end = rows.width(ApiToken), rows.width(ApiToken) + rows.width(User)
    api_token = rows.instance(ApiToken, row[:split])
    ApiToken.user.field.set_cached_value(api_token, rows.instance(User, row[split:end]))
    return api_token, along.load(row[end:]) if along else None


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
        return self._authenticate_token(parts[1], request)

    def _authenticate_token(self, token: str, request: Request) -> tuple[User, ApiToken]:
        view = (request.parser_context or {}).get("view")
        offer = getattr(view, "read_along_token", None)
        along = offer(request) if offer is not None else None
        api_token, read = _token_with_user(token_digest(token), along)
        if api_token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if not api_token.is_usable(now):
            raise exceptions.AuthenticationFailed("Token revoked or expired.")
        if not api_token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive.")
        self._touch(api_token, now)
        if along is not None:
            request.read_along = read  # type: ignore[attr-defined]
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
