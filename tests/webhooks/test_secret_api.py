from __future__ import annotations

from django.test import override_settings

from api.webhooks.models import WebhookAccount

PROBLEM = "application/problem+json"


def test_it_creates_a_secret_on_first_use_and_shows_the_same_one_after(alice_client) -> None:
    first = alice_client.get("/api/v1/webhooks/secret")
    assert first.status_code == 200
    assert first.json()["secret"].startswith("whsec_")
    assert first.json()["previous_secret_expires_at"] is None
    second = alice_client.get("/api/v1/webhooks/secret")
    assert second.json()["secret"] == first.json()["secret"]


def test_each_user_has_their_own_secret(alice_client, bob_client) -> None:
    assert (
        alice_client.get("/api/v1/webhooks/secret").json()["secret"]
        != bob_client.get("/api/v1/webhooks/secret").json()["secret"]
    )


@override_settings(WEBHOOK_SECRET_ROTATION_OVERLAP_S=3600)
def test_rotation_replaces_the_secret_and_keeps_the_old_one_during_the_overlap(alice, alice_client) -> None:
    old = alice_client.get("/api/v1/webhooks/secret").json()["secret"]
    response = alice_client.post("/api/v1/webhooks/secret/rotate")
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert response.json()["previous_secret_expires_at"] is not None
    assert alice_client.get("/api/v1/webhooks/secret").json()["secret"] == new
    account = WebhookAccount.objects.get(user=alice)
    assert account.signing_secrets() == [new, old]


def test_rotation_without_a_secret_yet_creates_one(alice_client) -> None:
    response = alice_client.post("/api/v1/webhooks/secret/rotate")
    assert response.status_code == 200
    assert response.json()["secret"].startswith("whsec_")


def test_the_secret_needs_authentication(client) -> None:
    for response in (client.get("/api/v1/webhooks/secret"), client.post("/api/v1/webhooks/secret/rotate")):
        assert response.status_code == 401
        assert response["Content-Type"] == PROBLEM
        assert response.json()["type"].endswith("/not-authenticated")


def test_wrong_methods_are_405(alice_client) -> None:
    for response in (
        alice_client.post("/api/v1/webhooks/secret"),
        alice_client.delete("/api/v1/webhooks/secret"),
        alice_client.get("/api/v1/webhooks/secret/rotate"),
    ):
        assert response.status_code == 405
        assert response["Content-Type"] == PROBLEM
        assert response.json()["type"].endswith("/method-not-allowed")
