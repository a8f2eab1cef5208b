"""dispatch_due_webhooks_task: publishes what the database says is due,
claiming each delivery so two dispatchers never send it twice."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from api.webhooks.models import WebhookDelivery
from tests.fakes.webhook_receiver import Reply
from tests.webhooks.conftest import make_delivery
from workers.tasks.webhooks import deliver_webhook_task, dispatch_due_webhooks_task


def _due(delivery: WebhookDelivery) -> None:
    """Walk the schedule: the next attempt is due now."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_retry_is_published_when_due_and_not_before(alice, receiver, eager_tasks) -> None:
    receiver.script(Reply(500))
    delivery = make_delivery(alice, receiver.url)
    deliver_webhook_task.apply(args=(str(delivery.pk), 1))
    assert dispatch_due_webhooks_task.apply().get() == 0  # 5 s not yet passed
    _due(delivery)
    assert dispatch_due_webhooks_task.apply().get() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [a.number for a in delivery.attempts.all()] == [1, 2]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1


def test_a_delivery_is_claimed_once_by_concurrent_dispatchers(alice, receiver, monkeypatch) -> None:
    delivery = make_delivery(alice, receiver.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(lease_expires_at=None)
    published: list[tuple] = []
    monkeypatch.setattr(deliver_webhook_task, "apply_async", lambda args, **kwargs: published.append(args))
    first = dispatch_due_webhooks_task.apply().get()
    second = dispatch_due_webhooks_task.apply().get()
    assert (first, second) == (1, 0)
    assert published == [(str(delivery.pk), 1)]


def test_a_new_delivery_is_left_to_its_own_publish_until_its_lease_expires(
    alice, receiver, eager_tasks
) -> None:
    # Created (and claimed) in a transaction whose publish never happened:
    # the message was lost, or the process died right after commit.
    delivery = make_delivery(alice, receiver.url)
    assert dispatch_due_webhooks_task.apply().get() == 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert dispatch_due_webhooks_task.apply().get() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert len(receiver.requests) == 1


def test_an_attempt_whose_worker_died_is_made_again_after_the_lease(alice, receiver, eager_tasks) -> None:
    delivery = make_delivery(alice, receiver.url)
    # A worker claimed attempt 1 and died before recording its outcome.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempt_count=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert dispatch_due_webhooks_task.apply().get() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempt_count == 2
    assert len(receiver.requests) == 1


def test_ended_deliveries_are_never_dispatched(alice, receiver) -> None:
    delivery = make_delivery(alice, receiver.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED, lease_expires_at=None
    )
    assert dispatch_due_webhooks_task.apply().get() == 0
