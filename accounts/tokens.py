"""API token secrets: generation and digests."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "tok_"  # noqa: S105 - a label, not a secret
DISPLAY_PREFIX_LENGTH = 12  # "tok_" + 8 characters of the secret


def generate_token() -> str:
    # 32 random bytes: 256 bits of entropy, safe to store as a plain SHA-256.
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    return token[:DISPLAY_PREFIX_LENGTH]
