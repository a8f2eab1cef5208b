"""SSRF rules for webhook URLs, with private networks disallowed as in
production (the test environment allows them, like `make run`)."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from api.webhooks.validation import validate_webhook_url, webhook_target_resolve

strict = override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False)


@strict
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://10.0.0.1/hook", "private"),
        ("http://192.168.1.10:8080/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:169.254.169.254]/hook", "link-local"),
        ("http://[fd00:ec2::254]/hook", "link-local"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://localhost:8000/hook", "loopback"),
        # Legacy numeric forms resolve to 127.0.0.1 too.
        ("http://2130706433/hook", "loopback"),
    ],
)
def test_it_refuses_internal_addresses(url: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url(url)
    assert caught.value.code == "webhook_url_not_allowed"
    assert reason in caught.value.messages[0]


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http:///path", "not a url", "http://host:99999/"])
def test_it_refuses_urls_that_are_not_http_with_a_host(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url(url)
    assert caught.value.code == "invalid_webhook_url"


@strict
def test_it_accepts_a_public_address() -> None:
    assert validate_webhook_url("https://93.184.215.14/hook") == "https://93.184.215.14/hook"


@strict
def test_it_accepts_a_name_that_does_not_resolve_yet_because_delivery_checks_again() -> None:
    assert validate_webhook_url("https://no-such-host.invalid/hook")


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=True)
def test_the_setting_allows_loopback_and_private_ranges() -> None:
    validate_webhook_url("http://127.0.0.1:9000/hook")
    validate_webhook_url("http://10.0.0.1/hook")
    validate_webhook_url("http://localhost/hook")


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=True)
@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://[fe80::1]/", "http://100.100.100.200/"])
def test_the_setting_never_allows_cloud_metadata(url: str) -> None:
    with pytest.raises(ValidationError):
        validate_webhook_url(url)


@strict
def test_at_delivery_a_name_rebound_to_an_internal_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # DNS is the internet here: the name resolved to a public address when
    # the URL was accepted, and answers 10.0.0.1 when the delivery is made.
    answers = iter(["93.184.215.14", "10.0.0.1"])

    def fake_getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    validate_webhook_url("https://hooks.example.com/x")
    with pytest.raises(ValidationError):
        webhook_target_resolve("https://hooks.example.com/x")


def test_at_delivery_the_checked_address_is_returned_to_connect_to() -> None:
    target, address = webhook_target_resolve("http://localhost:8123/hook")
    assert (target.host, target.port, address) == ("localhost", 8123, "127.0.0.1")


@strict
@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/hook", "http://localhost:9000/hook", "http://169.254.169.254/"]
)
def test_a_job_submitted_with_an_internal_webhook_url_is_refused(alice_client, url: str) -> None:
    from tests.api.helpers import b64, image_bytes

    response = alice_client.post(
        "/api/v1/solve", {"image": b64(image_bytes()), "webhook_url": url}, format="json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/validation-error")
    assert "public addresses" in response.json()["errors"]["webhook_url"][0]
