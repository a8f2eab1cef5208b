"""Hostile requests, with and without credentials, DEBUG off: every one is a
4xx problem of a stable type (never a 500), and the app answers normally
afterwards."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.conf import settings
from PIL import Image
from rest_framework.test import APIClient

from api.models import Job
from tests.api.helpers import b64, data_url, image_bytes, upload
from tests.factories import PASSWORD
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

# Far beyond Python's recursion limit: parsing it recursively raises RecursionError.
ABYSS = "[" * 100_000 + "]" * 100_000


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"k": value}
    return value


@pytest.fixture(autouse=True)
def _debug_off() -> None:
    # The suite's environment; a 500 would carry no traceback, but must not happen.
    assert settings.DEBUG is False


@pytest.fixture
def session_client(alice) -> APIClient:
    client = APIClient(enforce_csrf_checks=False)
    response = client.post(
        "/api/v1/accounts/login", {"email": alice.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return client


def _still_answering(client: APIClient) -> None:
    assert client.get("/api/v1/accounts/csrf").status_code == 200


def _post_json(client: APIClient, url: str, body: str) -> Any:
    return client.generic("POST", url, body, content_type="application/json")


# --- JSON nesting ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/api/v1/accounts/login", "/api/v1/accounts/password/reset", "/api/v1/accounts/register"],
)
def test_a_json_body_nested_100000_deep_to_an_open_endpoint_is_a_validation_error(client, url) -> None:
    body = assert_problem(_post_json(client, url, ABYSS), 400, "validation-error")
    assert f"at most {settings.JSON_MAX_DEPTH} levels" in body["detail"]
    _still_answering(client)


def test_a_json_body_nested_100000_deep_without_credentials_is_refused_before_it_is_read(client) -> None:
    assert_problem(_post_json(client, "/api/v1/solve", ABYSS), 401, "not-authenticated")


def test_a_json_body_nested_100000_deep_with_a_token_is_a_validation_error(alice_client) -> None:
    body = assert_problem(_post_json(alice_client, "/api/v1/solve", ABYSS), 400, "validation-error")
    assert str(settings.JSON_MAX_DEPTH) in body["detail"]
    assert not Job.objects.exists()
    _still_answering(alice_client)


def test_a_json_body_nested_100000_deep_with_a_session_is_a_validation_error(session_client) -> None:
    response = session_client.generic(
        "PATCH", "/api/v1/webhooks/settings", ABYSS, content_type="application/json"
    )
    assert_problem(response, 400, "validation-error")


def test_nesting_just_past_the_limit_is_refused_and_at_the_limit_is_parsed(alice_client) -> None:
    deep = {"image": data_url(image_bytes()), "metadata": _nested(settings.JSON_MAX_DEPTH)}
    body = assert_problem(
        _post_json(alice_client, "/api/v1/solve", json.dumps(deep)), 400, "validation-error"
    )
    assert "nested" in body["detail"]
    # Within the limit the body parses; metadata values must be strings, so
    # the serializer (not the parser) refuses the nested value.
    within = {"image": data_url(image_bytes()), "metadata": _nested(settings.JSON_MAX_DEPTH - 2)}
    body = assert_problem(
        _post_json(alice_client, "/api/v1/solve", json.dumps(within)), 400, "validation-error"
    )
    assert "metadata" in body["errors"]


def test_malformed_json_is_a_malformed_request(client) -> None:
    assert_problem(_post_json(client, "/api/v1/accounts/login", '{"email": '), 400, "malformed-request")


def test_json_that_is_not_utf8_is_a_malformed_request(client) -> None:
    response = client.generic(
        "POST", "/api/v1/accounts/login", b'{"email": "\xff\xfe"}', content_type="application/json"
    )
    assert_problem(response, 400, "malformed-request")


# --- Multipart and form bodies -----------------------------------------------------------


def test_multipart_metadata_nested_50000_deep_is_a_validation_error(alice_client) -> None:
    response = alice_client.post(
        "/api/v1/solve",
        {"image": upload(image_bytes()), "metadata": "[" * 50_000 + "]" * 50_000},
        format="multipart",
    )
    body = assert_problem(response, 400, "validation-error")
    assert any(str(settings.JSON_MAX_DEPTH) in message for message in body["errors"]["metadata"])
    assert not Job.objects.exists()
    _still_answering(alice_client)


def test_more_multipart_fields_than_allowed_is_a_problem(alice_client) -> None:
    fields: dict[str, Any] = {f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    fields["image"] = upload(image_bytes())
    body = assert_problem(
        alice_client.post("/api/v1/solve", fields, format="multipart"), 400, "too-many-fields"
    )
    assert str(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS) in body["detail"]
    _still_answering(alice_client)


def test_more_multipart_files_than_allowed_is_a_problem(alice_client) -> None:
    files = {f"f{i}": upload(b"x", name=f"{i}.png") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)}
    response = alice_client.post("/api/v1/solve", files, format="multipart")
    assert_problem(response, 400, "too-many-fields")


def test_more_urlencoded_fields_than_allowed_is_a_problem(alice) -> None:
    body = "&".join(f"f{i}=x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    # Token creation (a session endpoint) takes the default parsers, form included.
    browser = APIClient()
    browser.force_login(alice)
    response = browser.generic(
        "POST", "/api/v1/accounts/tokens", body, content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 400, "too-many-fields")


def test_a_form_body_over_the_size_limit_is_a_problem(alice, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    browser = APIClient()
    browser.force_login(alice)
    response = browser.generic(
        "POST",
        "/api/v1/accounts/tokens",
        "name=" + "x" * 2000,
        content_type="application/x-www-form-urlencoded",
    )
    assert_problem(response, 413, "request-too-large")


def test_a_json_body_over_the_size_limit_to_an_open_endpoint_is_a_problem(client, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"email": "a@example.com", "password": "x" * 2000})
    assert_problem(_post_json(client, "/api/v1/accounts/login", body), 413, "request-too-large")


def test_a_solve_body_over_the_request_limit_is_refused_before_it_is_read(alice_client, settings) -> None:
    settings.JOB_MAX_REQUEST_BYTES = 1000
    body = json.dumps({"image": b64(image_bytes()), "prompt": "x" * 2000})
    assert_problem(_post_json(alice_client, "/api/v1/solve", body), 413, "request-too-large")


def test_an_unsupported_content_type_is_a_problem(alice_client) -> None:
    response = alice_client.generic("POST", "/api/v1/solve", "image=x", content_type="text/plain")
    assert_problem(response, 415, "unsupported-media-type")


# --- Images ---------------------------------------------------------------------------


def test_a_data_url_that_declares_no_image_type_is_refused(alice_client) -> None:
    png = data_url(image_bytes(), mime="text/plain")
    body = assert_problem(
        alice_client.post("/api/v1/solve", {"image": png}, format="json"), 400, "invalid-image"
    )
    assert "image/png" in body["detail"]


def test_a_data_url_whose_type_does_not_match_the_image_is_refused(alice_client) -> None:
    png = data_url(image_bytes(), mime="image/jpeg")
    body = assert_problem(
        alice_client.post("/api/v1/solve", {"image": png}, format="json"), 400, "invalid-image"
    )
    assert "declares image/jpeg" in body["detail"] and "PNG" in body["detail"]


def test_a_data_url_with_its_declared_type_is_accepted(alice_client) -> None:
    jpeg = data_url(image_bytes("JPEG"), mime="IMAGE/JPEG")
    assert alice_client.post("/api/v1/solve", {"image": jpeg}, format="json").status_code == 202


def test_a_decompression_bomb_is_refused(alice_client, small_limits) -> None:
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(bomb, format="PNG")
    response = alice_client.post("/api/v1/solve", {"image": b64(bomb.getvalue())}, format="json")
    assert_problem(response, 413, "image-too-large")
    _still_answering(alice_client)


@pytest.mark.parametrize(
    "image",
    [b64(image_bytes())[:-40], "not base64!", b64(b"\x00" * 64), ""],
    ids=["truncated", "bad-base64", "nul-bytes", "empty"],
)
def test_broken_images_are_refused(alice_client, image) -> None:
    assert_problem(alice_client.post("/api/v1/solve", {"image": image}, format="json"), 400, "invalid-image")


@pytest.mark.parametrize(
    "fields",
    [{"metadata": {"k": "a\x00b"}}, {"prompt": "a\x00b"}],
    ids=["metadata", "prompt"],
)
def test_nul_characters_are_refused(alice_client, fields) -> None:
    body = {"image": data_url(image_bytes()), **fields}
    response = alice_client.post("/api/v1/solve", body, format="json")
    assert_problem(response, 400, "validation-error")
    assert not Job.objects.exists()


# --- Webhook URLs -----------------------------------------------------------------------


BAD_PORTS = ["http://1.1.1.1:0/", "http://1.1.1.1:65536/", "http://1.1.1.1:99999/", "http://1.1.1.1:-1/"]


@pytest.mark.parametrize("url", BAD_PORTS)
def test_a_webhook_url_with_a_port_outside_1_to_65535_is_refused_at_submission(alice_client, url) -> None:
    body = {"image": data_url(image_bytes()), "webhook_url": url}
    response = alice_client.post("/api/v1/solve", body, format="json")
    problem = assert_problem(response, 400, "validation-error")
    assert "webhook_url" in problem["errors"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("url", BAD_PORTS)
def test_a_webhook_url_with_a_port_outside_1_to_65535_is_refused_in_settings(alice_client, url) -> None:
    response = alice_client.patch("/api/v1/webhooks/settings", {"default_url": url}, format="json")
    assert "default_url" in assert_problem(response, 400, "validation-error")["errors"]


CREDENTIALS = ["https://user:s3cret@example.com/hook", "https://s3cret@example.com/hook"]


@pytest.mark.parametrize("url", CREDENTIALS)
def test_a_webhook_url_with_credentials_is_refused_without_echoing_them(alice_client, url) -> None:
    submit = alice_client.post(
        "/api/v1/solve", {"image": data_url(image_bytes()), "webhook_url": url}, format="json"
    )
    problem = assert_problem(submit, 400, "validation-error")
    assert "credentials" in problem["errors"]["webhook_url"][0]
    settings_ = alice_client.patch("/api/v1/webhooks/settings", {"default_url": url}, format="json")
    problem = assert_problem(settings_, 400, "validation-error")
    assert "credentials" in problem["errors"]["default_url"][0]
    assert b"s3cret" not in submit.content + settings_.content
    assert not Job.objects.exists()


# --- Query strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/jobs?status=", "status"),
        ("/api/v1/jobs?status=queued,", "status"),
        ("/api/v1/jobs?status=nope", "status"),
        ("/api/v1/jobs?limit=null&limit=null", "limit"),
        ("/api/v1/jobs?limit=0", "limit"),
        ("/api/v1/jobs?limit=101", "limit"),
        ("/api/v1/jobs?cursor=garbage", "cursor"),
        ("/api/v1/jobs?cursor=cD1ub3QtYS1kYXRl", "cursor"),  # p=not-a-date
        ("/api/v1/jobs?created_after=", "created_after"),
        ("/api/v1/billing/usage?until=", "until"),
        ("/api/v1/billing/usage?page_size=0", "page_size"),
        ("/api/v1/billing/usage?cursor=%C3%A2f", "cursor"),
        ("/api/v1/billing/periods?status=", "status"),
    ],
)
def test_bad_query_parameters_are_validation_errors(alice_client, alice, url, field) -> None:
    from tests.api.helpers import make_job

    make_job(alice)  # a page to paginate, so the cursor reaches the query
    body = assert_problem(alice_client.get(url), 400, "validation-error")
    assert field in body["errors"], body
    assert "?" not in body["instance"]


@pytest.mark.parametrize("wait", ["-1", "61", "null", ""])
def test_a_bad_wait_is_a_validation_error(alice_client, alice, wait) -> None:
    from tests.api.helpers import make_job

    job = make_job(alice)
    body = assert_problem(alice_client.get(f"/api/v1/jobs/{job.id}?wait={wait}"), 400, "validation-error")
    assert "wait" in body["errors"]
