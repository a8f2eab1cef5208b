"""deliver_webhook_task: one attempt against a real HTTP receiver on
loopback, called directly (the schedule is walked by moving next_attempt_at)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import WebhookVerificationError

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
