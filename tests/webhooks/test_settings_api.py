from __future__ import annotations

from django.test import override_settings

from tests.problems import assert_problem

PROBLEM = "application/problem+json"


def test_it_shows_the_defaults(alice_client) -> None:
    response = alice_client.get("/api/v1/webhooks/settings")
    assert response.status_code == 200
    assert response.json() == {
        "default_url": "",
        "default_events": ["completed"],
        "default_url_disabled_at": None,
        "default_url_disabled_reason": "",
    }


def test_it_sets_the_default_url_and_events(alice_client, bob_client) -> None:
    response = alice_client.patch(
        "/api/v1/webhooks/settings",
        {"default_url": "http://127.0.0.1:9/hook", "default_events": ["started", "completed"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["default_url"] == "http://127.0.0.1:9/hook"
    assert response.json()["default_events"] == ["completed", "started"]
    assert alice_client.get("/api/v1/webhooks/settings").json()["default_url"] == "http://127.0.0.1:9/hook"
    # Bob's settings are his own.
    assert bob_client.get("/api/v1/webhooks/settings").json()["default_url"] == ""


def test_an_empty_url_removes_the_default(alice_client) -> None:
    alice_client.patch("/api/v1/webhooks/settings", {"default_url": "http://127.0.0.1:9/"}, format="json")
    response = alice_client.patch("/api/v1/webhooks/settings", {"default_url": ""}, format="json")
    assert response.status_code == 200
    assert response.json()["default_url"] == ""


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False)
def test_it_refuses_an_internal_url(alice_client) -> None:
    response = alice_client.patch(
        "/api/v1/webhooks/settings", {"default_url": "http://169.254.169.254/"}, format="json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/validation-error")
    assert "link-local" in response.json()["errors"]["default_url"][0]


def test_it_refuses_bad_input(alice_client) -> None:
    bodies: list[dict[str, object]] = [
        {"default_url": "ftp://x/"},
        {"default_events": ["finished"]},
        {"default_events": []},
    ]
    for body in bodies:
        response = alice_client.patch("/api/v1/webhooks/settings", body, format="json")
        assert response.status_code == 400, body
        assert response["Content-Type"] == PROBLEM
        assert response.json()["type"].endswith("/validation-error")


def test_it_needs_authentication(client) -> None:
    response = client.get("/api/v1/webhooks/settings")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


def test_wrong_methods_are_405(alice_client) -> None:
    for response in (
        alice_client.post("/api/v1/webhooks/settings"),
        alice_client.delete("/api/v1/webhooks/settings"),
    ):
        assert response.status_code == 405
        assert response["Content-Type"] == PROBLEM
        assert response.json()["type"].endswith("/method-not-allowed")


def test_the_url_is_checked_once_per_request(alice_client, monkeypatch) -> None:
    from api.webhooks import validation

    resolve = validation._resolve
    resolved: list[str] = []

    def counting_resolve(target: validation.WebhookTarget) -> list[validation.IPAddress]:
        resolved.append(target.host)
        return resolve(target)

    monkeypatch.setattr(validation, "_resolve", counting_resolve)
    response = alice_client.patch(
        "/api/v1/webhooks/settings", {"default_url": "http://localhost:9/hook"}, format="json"
    )
    assert response.status_code == 200
    assert resolved == ["localhost"]


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False)
def test_a_refused_url_changes_nothing(alice_client) -> None:
    alice_client.patch(
        "/api/v1/webhooks/settings", {"default_url": "http://93.184.215.14/hook"}, format="json"
    )
    response = alice_client.patch(
        "/api/v1/webhooks/settings",
        {"default_url": "http://10.0.0.1/hook", "default_events": ["started"]},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["default_url"]
    settings_now = alice_client.get("/api/v1/webhooks/settings").json()
    assert settings_now["default_url"] == "http://93.184.215.14/hook"
    assert settings_now["default_events"] == ["completed"]


def test_a_form_body_is_refused_as_unsupported(alice_client) -> None:
    # An empty multipart body once read as "change nothing" and answered 200.
    response = alice_client.patch("/api/v1/webhooks/settings", {}, format="multipart")
    assert_problem(response, 415, "unsupported-media-type")
