from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from api.webhooks import services
from api.webhooks.models import WebhookDelivery
from api.webhooks.services import webhook_account_get_or_create
from tests.fakes.webhook_receiver import Reply
from tests.webhooks.conftest import make_delivery
from workers.tasks.webhooks import deliver_webhook_task, dispatch_due_webhooks_task

PROBLEM = "application/problem+json"


def test_it_sends_a_delivered_event_again_with_the_same_webhook_id_and_a_fresh_signature(
    alice, alice_client, receiver, eager_tasks, django_capture_on_commit_callbacks
) -> None:
    secret = webhook_account_get_or_create(user=alice).secret
    delivery = make_delivery(alice, receiver.url)
    deliver_webhook_task.apply(args=(str(delivery.pk), 1))
    time.sleep(1.1)  # so the second timestamp differs (whole seconds)

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 202
    assert response.json()["id"] == str(delivery.pk)

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.webhook_id
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    assert second.verify(secret) == first.verify(secret)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [a.manual for a in delivery.attempts.all()] == [False, True]


def test_a_failed_delivery_is_retried_from_the_start_of_the_schedule(
    alice, alice_client, receiver, eager_tasks, django_capture_on_commit_callbacks
) -> None:
    receiver.script(Reply(410), Reply(500))
    delivery = make_delivery(alice, receiver.url)
    deliver_webhook_task.apply(args=(str(delivery.pk), 1))
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 202
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING  # the redelivery got 500: retried in 5 s
    assert delivery.schedule_step == 1 and delivery.attempt_count == 2


def test_another_users_delivery_is_404(alice, bob_client, receiver) -> None:
    delivery = make_delivery(alice, receiver.url)
    for delivery_id in (delivery.pk, uuid.uuid4()):
        response = bob_client.post(f"/api/v1/webhook-deliveries/{delivery_id}/redeliver")
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
        assert response.json()["type"].endswith("/not-found")
    assert receiver.requests == []


def test_it_needs_authentication(client, alice, receiver) -> None:
    delivery = make_delivery(alice, receiver.url)
    response = client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


def test_wrong_method_is_405(alice, alice_client, receiver) -> None:
    delivery = make_delivery(alice, receiver.url)
    response = alice_client.get(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM


@pytest.mark.parametrize(
    "first_reply", [200, 500, 410], ids=["attempt-1-succeeds", "attempt-1-fails", "attempt-1-gets-410"]
)
def test_a_redelivery_during_an_attempt_in_flight_is_sent_whatever_that_attempt_gets(
    alice,
    alice_client,
    receiver,
    eager_tasks,
    monkeypatch,
    django_capture_on_commit_callbacks,
    first_reply,
) -> None:
    """Attempt 1 is claimed and its request is under way when the client asks
    for a redelivery; attempt 1 then records its outcome before the manual
    attempt's message is handled. The manual attempt is still sent."""
    secret = webhook_account_get_or_create(user=alice).secret
    receiver.script(Reply(first_reply))
    delivery = make_delivery(alice, receiver.url)
    real_send = services._send
    published: list[Callable[[], object]] = []

    def send_then_redeliver(d: WebhookDelivery) -> Any:
        result = real_send(d)  # the request of attempt 1 reached the receiver
        if not published:
            time.sleep(1.1)  # so the redelivery's timestamp differs (whole seconds)
            with django_capture_on_commit_callbacks() as callbacks:
                response = alice_client.post(f"/api/v1/webhook-deliveries/{d.pk}/redeliver")
            assert response.status_code == 202
            published.extend(callbacks)
        return result

    monkeypatch.setattr(services, "_send", send_then_redeliver)
    deliver_webhook_task.apply(args=(str(delivery.pk), 1))

    # Attempt 1 recorded its own row, but not the delivery's state: the
    # redelivery is still due.
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.schedule_step == 0 and delivery.attempt_count == 1
    assert delivery.last_status_code is None
    assert delivery.attempts.get(number=1).status_code == first_reply
    assert len(receiver.requests) == 1

    (publish,) = published
    publish()  # the manual attempt's message arrives

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.webhook_id
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert second.verify(secret) == first.verify(secret)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempt_count == 2 and delivery.last_status_code == 200
    assert [(a.number, a.manual, a.status_code) for a in delivery.attempts.all()] == [
        (1, False, first_reply),
        (2, True, 200),
    ]
    # Nothing else is due: no third request.
    assert dispatch_due_webhooks_task.apply().get() == 0
    assert len(receiver.requests) == 2


def test_a_redelivery_that_claims_before_the_attempt_in_flight_records_is_not_undone(
    alice, alice_client, receiver, eager_tasks, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """The other order: the manual attempt is made (and fails) while attempt
    1 is still in flight; attempt 1's success then changes nothing."""
    receiver.script(Reply(200), Reply(500))
    delivery = make_delivery(alice, receiver.url)
    real_send = services._send
    calls: list[uuid.UUID] = []

    def send_then_redeliver(d: WebhookDelivery) -> Any:
        result = real_send(d)
        if not calls:
            calls.append(d.pk)
            with django_capture_on_commit_callbacks(execute=True):
                response = alice_client.post(f"/api/v1/webhook-deliveries/{d.pk}/redeliver")
            assert response.status_code == 202
        return result

    monkeypatch.setattr(services, "_send", send_then_redeliver)
    deliver_webhook_task.apply(args=(str(delivery.pk), 1))

    delivery.refresh_from_db()
    assert [(a.number, a.manual, a.status_code) for a in delivery.attempts.all()] == [
        (1, False, 200),
        (2, True, 500),
    ]
    assert delivery.status == WebhookDelivery.Status.PENDING  # retried on the schedule
    assert delivery.attempt_count == 2 and delivery.schedule_step == 1
    assert delivery.last_status_code == 500 and delivery.next_attempt_at is not None
    assert len(receiver.requests) == 2


def test_one_redelivery_at_a_time_then_a_few_an_hour(
    alice, alice_client, receiver, settings, django_capture_on_commit_callbacks
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "webhooks_redeliver": "3/hour",
        },
    }
    delivery = make_delivery(alice, receiver.url)
    url = f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver"

    # Published, not yet sent (no worker here): a second one waits for it.
    assert alice_client.post(url).status_code == 202
    in_flight = alice_client.post(url)
    problem = in_flight.json()
    assert in_flight.status_code == 429 and problem["type"].endswith("/redelivery-in-flight")
    assert 1 <= int(in_flight["Retry-After"]) <= settings.WEBHOOK_LEASE_S

    # Once it has landed, the next one goes (the refused one counted too:
    # every request counts towards the hourly budget).
    with django_capture_on_commit_callbacks(execute=True):
        deliver_webhook_task.apply(args=(str(delivery.pk), 1), kwargs={"manual": True})
    assert alice_client.post(url).status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        deliver_webhook_task.apply(args=(str(delivery.pk), 2), kwargs={"manual": True})
    assert [a.manual for a in delivery.attempts.all()] == [True, True]
    assert len(receiver.requests) == 2

    refused = alice_client.post(url)
    assert refused.status_code == 429
    assert refused.json()["type"].endswith("/rate-limited")
    assert int(refused["Retry-After"]) > 60
    assert refused["X-RateLimit-Remaining"] == "0"
    assert len(receiver.requests) == 2


def test_another_account_cannot_use_up_the_owners_redeliveries(
    alice, alice_client, bob_client, receiver, settings
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "webhooks_redeliver": "1/hour",
        },
    }
    delivery = make_delivery(alice, receiver.url)
    url = f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver"
    assert bob_client.post(url).status_code == 404
    assert alice_client.post(url).status_code == 202
