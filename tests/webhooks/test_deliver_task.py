"""deliver_webhook_task: one attempt against a real HTTP receiver on
loopback, called directly (the schedule is walked by moving next_attempt_at)."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import WebhookVerificationError

from api.webhooks import sender
from api.webhooks.models import WebhookAccount, WebhookDelivery
from api.webhooks.services import (
    webhook_account_get_or_create,
    webhook_secret_rotate,
    webhook_settings_update,
)
from tests.fakes.webhook_receiver import Reply
from tests.webhooks.conftest import make_delivery
from workers.tasks.webhooks import deliver_webhook_task


def _attempt(delivery: WebhookDelivery, number: int | None = None) -> WebhookDelivery:
    number = number if number is not None else delivery.attempt_count + 1
    deliver_webhook_task.apply(args=(str(delivery.pk), number))
    delivery.refresh_from_db()
    return delivery


def _wait_s(delivery: WebhookDelivery, number: int) -> float:
    """Seconds from the end of attempt `number` to the next attempt's due time."""
    finished = delivery.attempts.get(number=number).finished_at
    assert delivery.next_attempt_at is not None and finished is not None
    return (delivery.next_attempt_at - finished).total_seconds()


def test_a_delivery_arrives_signed_and_ends_succeeded_with_its_attempt_logged(alice, receiver) -> None:
    secret = webhook_account_get_or_create(user=alice).secret
    delivery = _attempt(make_delivery(alice, receiver.url))

    (request,) = receiver.requests
    event = request.verify(secret)
    assert event["type"] == "job.succeeded"
    assert event["data"]["id"] == str(delivery.job_id)
    assert event["data"]["status"] == "succeeded"
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert request.headers["webhook-timestamp"].isdigit()
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "ImageSolve-Webhooks/1.0"
    assert request.headers["X-Request-ID"] == "req-webhooks-test-0001"

    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    (attempt,) = delivery.attempts.all()
    assert attempt.number == 1
    assert attempt.status_code == 200
    assert attempt.response_body == "ok"
    assert attempt.latency_ms is not None and attempt.finished_at is not None
    assert attempt.task_id
    assert attempt.request_id == "req-webhooks-test-0001"
    assert attempt.error == ""


def test_500_twice_then_200_arrives_three_times_with_the_same_webhook_id(alice, receiver) -> None:
    receiver.script(Reply(500, b"boom"), Reply(500, b"boom"), Reply(200))
    delivery = _attempt(make_delivery(alice, receiver.url))

    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
    # Second attempt of the schedule: 5 s (with +-10 % jitter).
    wait = _wait_s(delivery, 1)
    assert 4.5 <= wait <= 5.5

    delivery = _attempt(delivery)
    assert delivery.status == WebhookDelivery.Status.PENDING
    wait = _wait_s(delivery, 2)
    assert 270 <= wait <= 330  # third: 5 min

    delivery = _attempt(delivery)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.webhook_id] * 3
    assert [a.status_code for a in delivery.attempts.all()] == [500, 500, 200]
    assert delivery.attempts.get(number=1).response_body == "boom"


def test_a_receiver_that_stays_down_is_tried_on_the_whole_schedule_then_failed(
    alice, receiver, settings
) -> None:
    receiver.default = Reply(503)
    delivery = make_delivery(alice, receiver.url)
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_S
    assert schedule == [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    for step in range(1, len(schedule)):
        delivery = _attempt(delivery)
        assert delivery.status == WebhookDelivery.Status.PENDING
        wait = _wait_s(delivery, step)
        assert schedule[step] * 0.9 <= wait <= schedule[step] * 1.1
    delivery = _attempt(delivery)
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.next_attempt_at is None
    assert delivery.attempts.count() == len(schedule) == len(receiver.requests)


@override_settings(WEBHOOK_TOTAL_TIMEOUT_S=1)
def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(alice, receiver) -> None:
    receiver.script(Reply(200, delay_s=3))
    delivery = _attempt(make_delivery(alice, receiver.url))
    attempt = delivery.attempts.get()
    assert attempt.status_code is None
    assert "Timed out" in attempt.error
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_error == attempt.error


def test_an_unreachable_receiver_is_a_failed_attempt(alice) -> None:
    delivery = _attempt(make_delivery(alice, "http://127.0.0.1:9/hook"))  # discard port: refused
    attempt = delivery.attempts.get()
    assert attempt.status_code is None and "ConnectError" in attempt.error
    assert delivery.status == WebhookDelivery.Status.PENDING


def test_429_retry_after_is_honoured(alice, receiver) -> None:
    receiver.script(Reply(429, headers={"Retry-After": "600"}))
    delivery = _attempt(make_delivery(alice, receiver.url))
    wait = _wait_s(delivery, 1)
    assert wait >= 600  # not the schedule's 5 s


def test_503_retry_after_as_an_http_date_is_honoured(alice, receiver) -> None:
    from email.utils import format_datetime

    when = timezone.now() + timedelta(hours=1)
    receiver.script(Reply(503, headers={"Retry-After": format_datetime(when, usegmt=True)}))
    delivery = _attempt(make_delivery(alice, receiver.url))
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at >= when - timedelta(seconds=2)


def test_410_gone_stops_retries_for_that_url_and_disables_the_default_url(alice, receiver) -> None:
    webhook_settings_update(user=alice, default_url=receiver.url)
    receiver.script(Reply(410))
    delivery = make_delivery(alice, "")  # the job has no URL: the default is used
    other = make_delivery(alice, "")
    assert delivery.url == other.url == receiver.url
    delivery = _attempt(delivery)

    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.last_status_code == 410
    other.refresh_from_db()
    assert other.status == WebhookDelivery.Status.FAILED
    account = WebhookAccount.objects.get(user=alice)
    assert account.default_url_disabled_at is not None
    assert "410" in account.default_url_disabled_reason
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(alice, receiver) -> None:
    receiver.script(Reply(302, headers={"Location": "http://169.254.169.254/"}))
    delivery = _attempt(make_delivery(alice, receiver.url))
    assert delivery.attempts.get().status_code == 302
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert len(receiver.requests) == 1


@override_settings(WEBHOOK_RESPONSE_BODY_MAX_BYTES=100)
def test_the_response_body_read_is_capped(alice, receiver) -> None:
    receiver.script(Reply(200, body=b"x" * 100_000))
    delivery = _attempt(make_delivery(alice, receiver.url))
    assert delivery.attempts.get().response_body == "x" * 100


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False)
def test_an_internal_address_is_refused_at_delivery_time_without_a_request(alice, receiver) -> None:
    delivery = _attempt(make_delivery(alice, receiver.url.replace("127.0.0.1", "localhost")))
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "loopback" in delivery.attempts.get().error
    assert receiver.requests == []


def test_a_duplicate_message_for_the_same_attempt_sends_nothing(alice, receiver) -> None:
    delivery = make_delivery(alice, receiver.url)
    receiver.script(Reply(500))
    _attempt(delivery, number=1)
    _attempt(delivery, number=1)  # broker redelivery of the same message
    assert len(receiver.requests) == 1
    assert delivery.attempts.count() == 1


@override_settings(WEBHOOK_SECRET_ROTATION_OVERLAP_S=3600)
def test_after_rotation_both_secrets_verify_during_the_overlap_then_only_the_new(alice, receiver) -> None:
    old = webhook_account_get_or_create(user=alice).secret
    new = webhook_secret_rotate(user=alice).secret
    _attempt(make_delivery(alice, receiver.url))
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert request.verify(new)["type"] == "job.succeeded"
    assert request.verify(old)["type"] == "job.succeeded"

    WebhookAccount.objects.filter(user=alice).update(previous_secret_expires_at=timezone.now())
    _attempt(make_delivery(alice, receiver.url))
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    assert request.verify(new)
    with pytest.raises(WebhookVerificationError):
        request.verify(old)


# --- Every claimed attempt ends recorded ---------------------------------------------


def test_503_retry_after_as_an_http_date_in_minus_0000_is_honoured(alice, receiver) -> None:
    # "-0000" is UTC with no zone of origin: the date parses without a zone.
    when = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    value = when.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S -0000")
    receiver.script(Reply(503, headers={"Retry-After": value}))
    delivery = _attempt(make_delivery(alice, receiver.url))
    attempt = delivery.attempts.get()
    assert attempt.finished_at is not None and attempt.status_code == 503
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.lease_expires_at is None
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at >= when - timedelta(seconds=2)


@pytest.mark.parametrize("value", ["garbage", "²", "Wed, 99 Foo 2031 00:00:00 GMT", "-5"])
def test_a_malformed_retry_after_falls_back_to_the_schedule(alice, receiver, value: str) -> None:
    receiver.script(Reply(429, headers={"Retry-After": value}))
    delivery = _attempt(make_delivery(alice, receiver.url))
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.lease_expires_at is None
    assert 4.5 <= _wait_s(delivery, 1) <= 5.5


@pytest.fixture
def idn_resolves_to_loopback(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """bücher.example (in either form) resolves to 127.0.0.1; other names as
    usual. Returns the names looked up."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("bücher.example", "xn--bcher-kva.example"):
            looked_up.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return looked_up


def test_an_internationalised_host_is_sent_in_its_ascii_form(
    alice, receiver, idn_resolves_to_loopback
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    delivery = _attempt(make_delivery(alice, f"http://bücher.example:{port}/hook"))
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    (request,) = receiver.requests
    assert request.headers["Host"] == f"xn--bcher-kva.example:{port}"
    assert idn_resolves_to_loopback == ["xn--bcher-kva.example"]


def test_an_invalid_internationalised_host_is_refused_for_good(alice, receiver) -> None:
    # Accepted before the IDNA check existed (or stored by other means).
    delivery = make_delivery(alice, receiver.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(url="http://☃-.example/hook")
    delivery = _attempt(delivery)
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "internationalised" in delivery.attempts.get().error
    assert receiver.requests == []


def test_an_unexpected_error_is_a_failed_attempt_on_the_schedule(
    alice, receiver, monkeypatch, caplog
) -> None:
    def boom(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sender, "post", boom)
    with caplog.at_level(logging.ERROR, logger="api.webhooks.services"):
        delivery = _attempt(make_delivery(alice, receiver.url))
    attempt = delivery.attempts.get()
    assert attempt.finished_at is not None and attempt.status_code is None
    assert attempt.error == "Internal error: RuntimeError: boom"
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_error == attempt.error and delivery.lease_expires_at is None
    assert 4.5 <= _wait_s(delivery, 1) <= 5.5
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_an_unexpected_error_on_every_attempt_still_ends_failed(
    alice, receiver, monkeypatch, settings
) -> None:
    def boom(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sender, "post", boom)
    delivery = make_delivery(alice, receiver.url)
    for _ in settings.WEBHOOK_RETRY_SCHEDULE_S:
        delivery = _attempt(delivery)
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts.filter(finished_at__isnull=False).count() == len(
        settings.WEBHOOK_RETRY_SCHEDULE_S
    )


def test_a_response_body_with_nul_characters_is_recorded(alice, receiver) -> None:
    # PostgreSQL text cannot hold NUL: storing it as is fails the recording.
    receiver.script(Reply(500, body=b"bad\x00body"))
    delivery = _attempt(make_delivery(alice, receiver.url))
    assert delivery.attempts.get().response_body == "bad\ufffdbody"
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.lease_expires_at is None


# --- No credentials in logs or attempt rows ---------------------------------------------


def test_the_attempt_log_line_has_no_credentials_or_query(alice, receiver, caplog) -> None:
    url = receiver.url.replace("http://", "http://user:s3cret-pass@") + "?token=s3cret-token"
    with caplog.at_level(logging.INFO, logger="api.webhooks.services"):
        delivery = _attempt(make_delivery(alice, url))
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert receiver.url in logged
    assert "s3cret" not in logged and "user" not in logged


def test_error_texts_have_no_credentials_or_query(alice, receiver, monkeypatch, caplog) -> None:
    url = "http://user:s3cret-pass@127.0.0.1:9/hook?token=s3cret-token"

    def boom(**kwargs: Any) -> None:
        raise RuntimeError(f"could not send to {kwargs['url']}")

    monkeypatch.setattr(sender, "post", boom)
    with caplog.at_level(logging.INFO, logger="api.webhooks.services"):
        delivery = _attempt(make_delivery(alice, url))
    attempt = delivery.attempts.get()
    assert attempt.error == "Internal error: RuntimeError: could not send to http://127.0.0.1:9/hook"
    assert "s3cret" not in delivery.last_error
    assert "s3cret" not in "\n".join(r.getMessage() for r in caplog.records)
