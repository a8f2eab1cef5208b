from __future__ import annotations

import time
import uuid

from api.webhooks.models import WebhookDelivery
from api.webhooks.services import webhook_account_get_or_create
from tests.fakes.webhook_receiver import Reply
from tests.webhooks.conftest import make_delivery
from workers.tasks.webhooks import deliver_webhook_task

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
