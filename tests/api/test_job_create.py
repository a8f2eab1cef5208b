"""POST /api/v1/solve"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image

from api.models import Job
from billing.models import BillingPeriod
from billing.services import period_mark_paid, periods_mark_overdue
from tests.api.conftest import assert_problem
from tests.api.helpers import animated_gif, b64, data_url, image_bytes, make_job, stored_inputs, upload
from tests.races import InThread, needs_postgresql, seen_waiting_for_a_lock, transaction_held_open

FORMATS = [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")]


@pytest.mark.parametrize(("fmt", "mime"), FORMATS)
def test_it_accepts_each_format_as_a_multipart_file(alice, alice_client, fmt, mime) -> None:
    response = alice_client.post(
        "/api/v1/solve", {"image": upload(image_bytes(fmt), f"x.{fmt.lower()}", mime)}, format="multipart"
    )
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/api/v1/jobs/{body['id']}"
    assert body["status"] == "queued"
    assert body["urls"] == {
        "get": f"/api/v1/jobs/{body['id']}",
        "cancel": f"/api/v1/jobs/{body['id']}/cancel",
    }
    job = Job.objects.get(pk=body["id"])
    assert job.user == alice
    assert job.image_format == fmt.lower()
    assert job.image.read() == image_bytes(fmt)


@pytest.mark.parametrize(("fmt", "mime"), FORMATS)
def test_it_accepts_each_format_as_base64_and_as_a_data_url(alice_client, fmt, mime) -> None:
    for value in (b64(image_bytes(fmt)), data_url(image_bytes(fmt), mime)):
        response = alice_client.post("/api/v1/solve", {"image": value}, format="json")
        assert response.status_code == 202, response.json()


def test_it_stores_the_optional_fields(alice_client) -> None:
    response = alice_client.post(
        "/api/v1/solve",
        {
            "image": b64(image_bytes()),
            "prompt": "Solve for x",
            "model": "gpt-4o",
            "detail": "high",
            "metadata": {"order": "42"},
            "webhook_url": "https://hooks.example.com/imagesolve",
            "webhook_events": ["completed", "started"],
        },
        format="json",
    )
    assert response.status_code == 202
    body = response.json()
    assert body["prompt"] == "Solve for x"
    assert body["model"] == "gpt-4o"
    assert body["detail"] == "high"
    assert body["metadata"] == {"order": "42"}
    job = Job.objects.get(pk=body["id"])
    assert job.webhook_url == "https://hooks.example.com/imagesolve"
    assert sorted(job.webhook_events) == ["completed", "started"]


def test_multipart_metadata_is_a_json_string(alice_client) -> None:
    response = alice_client.post(
        "/api/v1/solve", {"image": upload(image_bytes()), "metadata": '{"a": "b"}'}, format="multipart"
    )
    assert response.status_code == 202
    assert response.json()["metadata"] == {"a": "b"}


def test_the_default_model_is_used_when_none_is_given(alice_client, settings) -> None:
    response = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")
    assert response.json()["model"] == settings.OPENAI_MODEL


def test_it_publishes_the_job_after_commit(alice_client, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")
    assert response.status_code == 202
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("image", "slug", "status"),
    [
        (b64(b"this is plain text, not a png"), "invalid-image", 400),
        ("not base64 at all !!!", "invalid-image", 400),
        ("data:image/png,rawdata", "invalid-image", 400),
        (b64(image_bytes()[:40]), "invalid-image", 400),
        (b64(animated_gif()), "invalid-image", 400),
        (b64(image_bytes("BMP")), "invalid-image", 400),
        ("", "invalid-image", 400),
    ],
    ids=["text", "bad-base64", "data-url-not-base64", "truncated", "animated", "bmp", "empty"],
)
def test_it_refuses_what_is_not_an_accepted_image(alice_client, image, slug, status) -> None:
    response = alice_client.post("/api/v1/solve", {"image": image}, format="json")
    body = assert_problem(response, status, slug)
    assert body["errors"]["image"]
    assert not Job.objects.exists()


def test_it_refuses_a_text_file_named_png(alice_client) -> None:
    response = alice_client.post(
        "/api/v1/solve",
        {"image": upload(b"hello, world\n" * 10, "problem.png", "image/png")},
        format="multipart",
    )
    assert_problem(response, 400, "invalid-image")


def test_it_refuses_an_image_over_the_byte_limit(alice_client, small_limits) -> None:
    big = io.BytesIO()
    Image.frombytes("RGB", (400, 400), bytes(range(256)) * 1875).save(big, format="PNG", compress_level=0)
    assert len(big.getvalue()) > small_limits.JOB_MAX_IMAGE_BYTES
    by_file = alice_client.post("/api/v1/solve", {"image": upload(big.getvalue())}, format="multipart")
    assert_problem(by_file, 413, "image-too-large")
    by_json = alice_client.post("/api/v1/solve", {"image": b64(big.getvalue())}, format="json")
    assert_problem(by_json, 413, "image-too-large")


def test_it_refuses_a_decompression_bomb_without_decoding_it(alice_client, small_limits) -> None:
    # 10,000 x 10,000 white pixels compress to a few kilobytes.
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(bomb, format="PNG")
    assert len(bomb.getvalue()) < small_limits.JOB_MAX_IMAGE_BYTES
    response = alice_client.post("/api/v1/solve", {"image": b64(bomb.getvalue())}, format="json")
    body = assert_problem(response, 413, "image-too-large")
    assert "pixels" in body["detail"]


def test_it_refuses_a_body_over_the_request_limit(alice_client, settings) -> None:
    settings.JOB_MAX_REQUEST_BYTES = 1000
    response = alice_client.post(
        "/api/v1/solve", {"image": b64(image_bytes()), "prompt": "x" * 2000}, format="json"
    )
    assert_problem(response, 413, "request-too-large")
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"model": "gpt-99-vision"}, "model"),
        ({"prompt": "x" * 101}, "prompt"),
        ({"detail": "ultra"}, "detail"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": ["not", "an", "object"]}, "metadata"),
        ({"webhook_url": "ftp://example.com/hook"}, "webhook_url"),
        ({"webhook_events": ["finished"]}, "webhook_events"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_it_refuses_bad_fields_with_a_field_error(alice_client, small_limits, fields, field) -> None:
    response = alice_client.post("/api/v1/solve", {"image": b64(image_bytes()), **fields}, format="json")
    body = assert_problem(response, 400, "validation-error")
    assert any(name.split(".")[0] == field for name in body["errors"]), body["errors"]


def test_the_image_is_required(alice_client) -> None:
    body = assert_problem(alice_client.post("/api/v1/solve", {}, format="json"), 400, "validation-error")
    assert "image" in body["errors"]


def test_it_requires_authentication(client) -> None:
    response = client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")
    assert_problem(response, 401, "not-authenticated")


def test_it_refuses_a_wrong_token(db, client) -> None:
    client.credentials(HTTP_AUTHORIZATION="Bearer tok_not-a-real-token")
    assert_problem(client.post("/api/v1/solve", {}, format="json"), 401, "authentication-failed")


def test_a_logged_in_session_works_with_csrf(alice) -> None:
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    refused = browser.post("/api/v1/solve", {"image": b64(image_bytes())}, content_type="application/json")
    assert_problem(refused, 403, "permission-denied")
    browser.get("/admin/login/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/v1/solve",
        {"image": b64(image_bytes())},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert accepted.status_code == 202


def test_get_is_not_allowed(alice_client) -> None:
    assert_problem(alice_client.get("/api/v1/solve"), 405, "method-not-allowed")


def test_an_account_with_an_overdue_period_gets_402_until_it_is_paid(
    alice, bob, alice_client, bob_client
) -> None:
    period = BillingPeriod.objects.create(
        user=alice,
        starts_at=datetime(2026, 9, 1, tzinfo=UTC),
        ends_at=datetime(2026, 10, 1, tzinfo=UTC),
        status=BillingPeriod.Status.CLOSED,
        closed_at=datetime(2026, 10, 1, tzinfo=UTC),
        due_at=datetime(2026, 10, 15, tzinfo=UTC),
    )
    assert periods_mark_overdue(now=datetime(2026, 10, 16, tzinfo=UTC)) == 1

    response = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")
    body = assert_problem(response, 402, "payment-required")
    assert body["period"] == {"id": period.pk, "month": "2026-09"}
    assert "2026-09" in body["detail"]
    assert not Job.objects.exists()
    # Another account is not blocked.
    assert bob_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").status_code == 202

    period_mark_paid(period_id=period.pk)
    assert alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").status_code == 202


def test_paying_one_of_two_overdue_periods_keeps_the_block(alice, alice_client) -> None:
    periods = [
        BillingPeriod.objects.create(
            user=alice,
            starts_at=datetime(2026, month, 1, tzinfo=UTC),
            ends_at=datetime(2026, month + 1, 1, tzinfo=UTC),
            status=BillingPeriod.Status.CLOSED,
            closed_at=datetime(2026, month + 1, 1, tzinfo=UTC),
            due_at=datetime(2026, month + 1, 15, tzinfo=UTC),
        )
        for month in (8, 9)
    ]
    periods_mark_overdue(now=datetime(2026, 10, 16, tzinfo=UTC))
    period_mark_paid(period_id=periods[0].pk)

    response = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")
    assert assert_problem(response, 402, "payment-required")["period"]["id"] == periods[1].pk


def test_it_caps_the_jobs_in_flight_per_user(alice, bob, alice_client, bob_client, settings) -> None:
    settings.JOB_MAX_IN_FLIGHT = 2
    make_job(alice)
    make_job(alice, status=Job.Status.RUNNING)
    make_job(alice, status=Job.Status.SUCCEEDED)
    stored_before = stored_inputs()
    response = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")
    assert_problem(response, 429, "too-many-jobs-in-flight")
    assert response["Retry-After"] == str(settings.JOB_IN_FLIGHT_RETRY_AFTER_S)
    assert stored_inputs() == stored_before  # the refused job's image was removed again
    # Another account has its own cap.
    assert bob_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json").status_code == 202


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_a_submission_waits_for_one_still_committing_and_counts_it(alice, settings) -> None:
    """Room for one job: a submission whose transaction is still open holds
    the account's row lock, so a second one waits for it to commit, then
    counts its job and is refused."""
    from accounts.models import User
    from api.services import job_submit
    from config.problems import Problem

    settings.JOB_MAX_IN_FLIGHT = 1

    def second_submission() -> object:
        try:
            return job_submit(user=User.objects.get(pk=alice.pk), image=image_bytes())
        except Problem as problem:
            return problem.status_code

    with transaction_held_open(lambda: job_submit(user=alice, image=image_bytes())):
        second = InThread(second_submission)
        # The second submission blocked on the account's row lock.
        waited = seen_waiting_for_a_lock(unless=second.done)

    assert waited
    assert second.result() == 429
    assert Job.objects.filter(user=alice, status__in=Job.ACTIVE).count() == 1


def test_it_throttles_per_token_with_rate_limit_headers(alice_client, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "jobs_submit": "2/min",
        },
    }
    first = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")
    assert first["X-RateLimit-Limit"] == "2"
    assert first["X-RateLimit-Remaining"] == "1"
    assert int(first["X-RateLimit-Reset"]) <= 60
    second = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")
    assert second["X-RateLimit-Remaining"] == "0"
    third = alice_client.post("/api/v1/solve", {"image": b64(image_bytes())}, format="json")
    assert_problem(third, 429, "rate-limited")
    assert int(third["Retry-After"]) >= 1
    assert third["X-RateLimit-Remaining"] == "0"


def _mpo() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    first, second = Image.new("RGB", (64, 48), "white"), Image.new("RGB", (32, 24), "black")
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, getattr(image, "n_frames", 1)) == ("MPO", 2)  # what Pillow reads from phones
    return data


def test_it_accepts_a_multi_picture_jpeg_as_a_jpeg(alice_client) -> None:
    response = alice_client.post("/api/v1/solve", {"image": upload(_mpo(), "photo.jpg", "image/jpeg")})
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.image_format, job.image_width, job.image_height) == ("jpeg", 64, 48)


def test_a_multi_picture_jpeg_is_sent_to_the_model_as_image_jpeg(alice) -> None:
    from api.services import job_submit
    from workers.runs import solve_request

    job = job_submit(user=alice, image=_mpo()).job
    assert solve_request(job).mime_type == "image/jpeg"


@pytest.mark.parametrize("metadata", [{"k": "a\x00b"}, {"k\x00": "v"}], ids=["value", "key"])
def test_it_refuses_a_nul_character_in_metadata(alice_client, metadata) -> None:
    response = alice_client.post(
        "/api/v1/solve", {"image": b64(image_bytes()), "metadata": metadata}, format="json"
    )
    body = assert_problem(response, 400, "validation-error")
    assert "metadata" in body["errors"]
    assert not Job.objects.exists()
