from __future__ import annotations

import hashlib
from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from bench.web_floor.models import Token


class Sha256TokenAuthentication(authentication.BaseAuthentication):
    """One indexed query: the token by its digest, with its user."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        parts = authentication.get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        digest = hashlib.sha256(parts[1]).hexdigest()
        try:
            token = Token.objects.select_related("user").get(digest=digest)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return token.user, token
