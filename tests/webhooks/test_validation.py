"""SSRF rules for webhook URLs, with private networks disallowed as in
production (the test environment allows them, like `make run`)."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from api.webhooks.validation import (
    parse_webhook_url,
    url_for_log,
    validate_webhook_url,
    webhook_target_resolve,
)

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
        # 6to4 (2002:AABB:CCDD::/48) routes to the IPv4 address AA.BB.CC.DD.
        ("http://[2002:a9fe:a9fe::]/hook", "link-local (cloud metadata) (6to4 for 169.254.169.254)"),
        ("http://[2002:7f00:1::]/hook", "loopback (6to4 for 127.0.0.1)"),
        ("http://[2002:a00:1::1]/hook", "private (6to4 for 10.0.0.1)"),
        # Teredo (2001:0::/32): server IPv4, then the client's, inverted.
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "loopback (Teredo for 127.0.0.1)"),
        ("http://[2001:0:a9fe:a9fe::1]/hook", "link-local (cloud metadata) (Teredo for 169.254.169.254)"),
        # Site-local, deprecated (RFC 3879).
        ("http://[fec0::1]/hook", "site-local"),
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
@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/hook",
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook",
        "https://[2002:5db8:d70e::1]/hook",  # 6to4 for 93.184.215.14
    ],
)
def test_it_accepts_a_public_address(url: str) -> None:
    assert validate_webhook_url(url) == url


@strict
def test_an_internationalised_name_is_checked_in_its_ascii_form(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []

    def fake_getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url("https://Bücher.example/hook")
    assert "xn--bcher-kva.example (10.0.0.1) is a private address" in caught.value.messages[0]
    assert looked_up == ["xn--bcher-kva.example"]


@pytest.mark.parametrize("url", ["http://☃-.example/hook", "http://a‍b.example/hook"])
def test_it_refuses_a_host_that_is_not_a_valid_internationalised_name(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url(url)
    assert caught.value.code == "invalid_webhook_url"
    assert "internationalised" in caught.value.messages[0]


@pytest.mark.parametrize(
    ("url", "header"),
    [
        ("https://bücher.example/hook", "xn--bcher-kva.example"),
        ("http://bücher.example:8080/hook", "xn--bcher-kva.example:8080"),
        ("http://hooks.example.com:80/hook", "hooks.example.com"),
        (
            "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/",
            "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443",
        ),
    ],
)
def test_the_host_header_is_the_ascii_name_with_a_non_default_port(url: str, header: str) -> None:
    assert parse_webhook_url(url).host_header == header


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("https://user:pass@hooks.example.com/in?token=abc#frag", "https://hooks.example.com/in"),
        ("http://hooks.example.com:8080/a/b", "http://hooks.example.com:8080/a/b"),
        ("https://tok@[2606:2800:21f:cb07::1]:8443/x?y", "https://[2606:2800:21f:cb07::1]:8443/x"),
    ],
)
def test_urls_are_logged_without_credentials_or_query(url: str, logged: str) -> None:
    assert url_for_log(url) == logged


@strict
def test_it_accepts_a_name_that_does_not_resolve_yet_because_delivery_checks_again() -> None:
    assert validate_webhook_url("https://no-such-host.invalid/hook")


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=True)
def test_the_setting_allows_loopback_and_private_ranges() -> None:
    validate_webhook_url("http://127.0.0.1:9000/hook")
    validate_webhook_url("http://10.0.0.1/hook")
    validate_webhook_url("http://localhost/hook")


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=True)
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://[fe80::1]/",
        "http://100.100.100.200/",
        "http://[2002:a9fe:a9fe::]/",
        "http://[2001:0:4136:e378:8000:63bf:5601:5601]/",  # Teredo client 169.254.169.254
        "http://[fec0::1]/",
    ],
)
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


@strict
def test_a_job_submitted_with_a_6to4_metadata_url_is_refused(alice_client) -> None:
    from tests.api.helpers import b64, image_bytes

    response = alice_client.post(
        "/api/v1/solve",
        {"image": b64(image_bytes()), "webhook_url": "http://[2002:a9fe:a9fe::]/"},
        format="json",
    )
    assert response.status_code == 400
    assert "169.254.169.254" in response.json()["errors"]["webhook_url"][0]


def test_a_job_submitted_with_an_invalid_internationalised_host_is_refused(alice_client) -> None:
    from tests.api.helpers import b64, image_bytes

    response = alice_client.post(
        "/api/v1/solve",
        {"image": b64(image_bytes()), "webhook_url": "http://☃-.example/hook"},
        format="json",
    )
    assert response.status_code == 400
    assert "internationalised" in response.json()["errors"]["webhook_url"][0]
