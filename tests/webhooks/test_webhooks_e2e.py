"""Deliveries through the real broker and real worker processes: the first
attempt published on commit, retries dispatched from the database, nothing
lost when workers stop or die mid-schedule."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from api.webhooks.models import WebhookDelivery
from api.webhooks.services import webhook_account_get_or_create, webhook_deliveries_dispatch_due
from tests.fakes.webhook_receiver import Reply
from tests.webhooks.conftest import make_delivery
from tests.worker_process import running_worker, start_worker

pytestmark = [pytest.mark.e2e]


def _wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def _attempts_finished(delivery: WebhookDelivery, count: int) -> Callable[[], bool]:
    return lambda: delivery.attempts.filter(finished_at__isnull=False).count() >= count


def test_a_committed_event_is_delivered_by_a_worker_and_verifies(
    alice, receiver, celery_worker_process
) -> None:
    secret = webhook_account_get_or_create(user=alice).secret
    delivery = make_delivery(alice, receiver.url)  # committed: published at once
    (request,) = receiver.wait_for(1)
    assert request.verify(secret)["data"]["id"] == str(delivery.job_id)
    _wait_until(_attempts_finished(delivery, 1))
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    attempt = delivery.attempts.get()
    assert attempt.task_id and attempt.status_code == 200
    assert "[req-webhooks-test-0001]" in celery_worker_process.log()


def test_stopping_the_worker_mid_schedule_loses_nothing(alice, receiver, transactional_db) -> None:
    receiver.script(Reply(500))
    with running_worker():
        delivery = make_delivery(alice, receiver.url)
        _wait_until(_attempts_finished(delivery, 1))
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.next_attempt_at is not None

    # While no worker runs, the retry falls due and beat dispatches it.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert webhook_deliveries_dispatch_due() == 1
    with running_worker():
        _wait_until(_attempts_finished(delivery, 2))
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.webhook_id] * 2


def test_an_attempt_whose_worker_was_killed_is_made_again_after_the_lease(
    alice, receiver, transactional_db
) -> None:
    receiver.script(Reply(200, delay_s=5))
    worker = start_worker()
    try:
        delivery = make_delivery(alice, receiver.url)
        receiver.wait_for(1)
    finally:
        worker.kill()  # SIGKILL mid-request: the attempt is never recorded
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempt_count == 1

    assert webhook_deliveries_dispatch_due() == 0  # the lease still holds
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert webhook_deliveries_dispatch_due() == 1
    with running_worker():
        _wait_until(_attempts_finished(delivery, 1))
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempt_count == 2
    assert len(receiver.requests) == 2  # at least once: same webhook-id twice


def test_a_submitted_job_ends_with_one_verified_event_carrying_its_final_state(
    alice, alice_client, receiver, celery_worker_process
) -> None:
    from tests.api.helpers import b64, image_bytes

    secret = alice_client.get("/api/v1/webhooks/secret").json()["secret"]
    submitted = alice_client.post(
        "/api/v1/solve",
        {"image": b64(image_bytes()), "prompt": "2+2?", "webhook_url": receiver.url},
        format="json",
        HTTP_X_REQUEST_ID="req-e2e-webhook-0001",
    )
    assert submitted.status_code == 202
    job_id = submitted.json()["id"]
    final = alice_client.get(f"/api/v1/jobs/{job_id}?wait=30").json()
    assert final["status"] == "succeeded"

    (request,) = receiver.wait_for(1)
    event = request.verify(secret)
    assert event["type"] == "job.succeeded"
    assert event["data"] == final
    assert event["data"]["usage"]["cost"]
    assert request.headers["X-Request-ID"] == "req-e2e-webhook-0001"

    _wait_until(
        lambda: (
            alice_client.get(f"/api/v1/jobs/{job_id}/webhook-deliveries").json()["results"][0]["status"]
            == "succeeded"
        )
    )
    # The job asked for `completed` only (the default): nothing else arrives.
    assert webhook_deliveries_dispatch_due() == 0
    assert len(receiver.requests) == 1
