from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from api.webhooks.signing import secret_generate, signed_headers


def test_a_secret_is_whsec_and_base64_of_24_to_64_random_bytes() -> None:
    secret = secret_generate()
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 64
    assert secret_generate() != secret


def test_the_reference_library_verifies_our_signature() -> None:
    secret = secret_generate()
    body = '{"type":"job.succeeded","data":{"id":"x"}}'
    headers = signed_headers(
        signing_secrets=[secret], webhook_id="msg_1", timestamp=int(time.time()), body=body
    )
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == {"type": "job.succeeded", "data": {"id": "x"}}


def test_with_two_secrets_both_signatures_verify() -> None:
    old, new = secret_generate(), secret_generate()
    body = "{}"
    headers = signed_headers(
        signing_secrets=[new, old], webhook_id="msg_2", timestamp=int(time.time()), body=body
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(body, headers) == {}
    assert Webhook(old).verify(body, headers) == {}


def test_a_tampered_body_does_not_verify() -> None:
    secret = secret_generate()
    headers = signed_headers(
        signing_secrets=[secret], webhook_id="msg_3", timestamp=int(time.time()), body="{}"
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify('{"a":1}', headers)
