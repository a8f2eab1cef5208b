"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is `whsec_` + base64 of random bytes; the HMAC-SHA256 key is the
decoded bytes. The signed content is "{webhook-id}.{webhook-timestamp}.{body}";
`webhook-signature` lists one `v1,<base64>` per secret, space-separated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
# The spec allows 24 to 64 bytes; 32 matches the SHA-256 block of security.
SECRET_BYTES = 32
USER_AGENT = "ImageSolve-Webhooks/1.0"


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(*, secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    content = f"{webhook_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    *, signing_secrets: list[str], webhook_id: str, timestamp: int, body: str
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret given."""
    signature = " ".join(
        sign(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
        for secret in signing_secrets
    )
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
