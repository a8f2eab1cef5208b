"""dispatch_due_webhooks_task: publishes what the database says is due,
claiming each delivery so two dispatchers never send it twice."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from api.webhooks import services
from api.webhooks.models import WebhookDelivery
from tests.fakes.webhook_receiver import Reply
from tests.webhooks.conftest import make_delivery
from workers.tasks.webhooks import deliver_webhook_task, dispatch_due_webhooks_task


@pytest.fixture
def dispatch(django_capture_on_commit_callbacks):
    """Run the dispatcher task. It publishes each delivery once its claim
    commits: in autocommit at once, here (inside the test's transaction)
    when it returns."""

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return dispatch_due_webhooks_task.apply().get()

    return run


def _due(delivery: WebhookDelivery) -> None:
    """Walk the schedule: the next attempt is due now."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_retry_is_published_when_due_and_not_before(dispatch, alice, receiver, eager_tasks) -> None:
    receiver.script(Reply(500))
    delivery = make_delivery(alice, receiver.url)
    deliver_webhook_task.apply(args=(str(delivery.pk), 1))
    assert dispatch() == 0  # 5 s not yet passed
    _due(delivery)
    assert dispatch() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [a.number for a in delivery.attempts.all()] == [1, 2]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1


def test_a_claimed_delivery_is_not_published_again_by_a_later_run(
    dispatch, alice, receiver, sent_tasks
) -> None:
    delivery = make_delivery(alice, receiver.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(lease_expires_at=None)
    first = dispatch()
    second = dispatch()
    assert (first, second) == (1, 0)
    assert [task["args"] for task in sent_tasks] == [[str(delivery.pk), 1]]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="races two dispatchers on real connections, which needs PostgreSQL; "
    "run with DATABASE_URL=postgres://...",
)
def test_a_delivery_is_claimed_once_by_concurrent_dispatchers(
    alice, transactional_db, monkeypatch, sent_tasks
) -> None:
    lock = threading.Lock()
    delivery = make_delivery(alice, "http://127.0.0.1:9/hook")  # committed: published at once
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    sent_tasks.clear()

    # Both dispatchers start together, and both have picked the delivery as a
    # candidate before either claims it: only the conditional claim can stop
    # the second one.
    start = threading.Barrier(2)
    picked = threading.Barrier(2)
    lease_until = services._lease_until

    def lease_until_after_both_picked(now: datetime) -> datetime:
        picked.wait(timeout=10)
        return lease_until(now)

    monkeypatch.setattr(services, "_lease_until", lease_until_after_both_picked)
    counts: list[int] = []
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            start.wait(timeout=10)
            count = services.webhook_deliveries_dispatch_due()
            with lock:
                counts.append(count)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(counts) == [0, 1]
    assert [task["args"] for task in sent_tasks] == [[str(delivery.pk), 1]]


def test_a_delivery_whose_attempts_never_got_recorded_fails_when_the_schedule_is_used_up(
    dispatch, alice, receiver, eager_tasks, settings
) -> None:
    # Every attempt of the schedule was claimed and its worker died (or it
    # failed in a way that could not be recorded): no attempt number
    # len(schedule) + 1.
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_S
    delivery = make_delivery(alice, receiver.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempt_count=len(schedule),
        schedule_step=len(schedule),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert dispatch() == 0
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    assert "Gave up" in delivery.last_error
    assert receiver.requests == []


def test_an_unrecorded_attempt_counts_in_the_schedule(alice, receiver, eager_tasks, monkeypatch) -> None:
    delivery = make_delivery(alice, receiver.url)

    def die(*args: object, **kwargs: object) -> None:
        raise SystemExit("worker killed mid-attempt")  # not an Exception: nothing is recorded

    monkeypatch.setattr(services, "_send", die)
    with pytest.raises(SystemExit):
        services.webhook_delivery_attempt(delivery_id=delivery.pk, number=1)
    delivery.refresh_from_db()
    assert (delivery.attempt_count, delivery.schedule_step) == (1, 1)


def test_a_redelivered_delivery_is_not_given_up_for_its_earlier_attempts(
    dispatch, alice, receiver, eager_tasks, settings
) -> None:
    # A delivery that used up its schedule, then was redelivered and its
    # redelivery message lost: the dispatcher sends it.
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_S
    delivery = make_delivery(alice, receiver.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempt_count=len(schedule), schedule_step=0, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert dispatch() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempt_count == len(schedule) + 1


def test_a_new_delivery_is_left_to_its_own_publish_until_its_lease_expires(
    dispatch, alice, receiver, eager_tasks
) -> None:
    # Created (and claimed) in a transaction whose publish never happened:
    # the message was lost, or the process died right after commit.
    delivery = make_delivery(alice, receiver.url)
    assert dispatch() == 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert dispatch() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert len(receiver.requests) == 1


def test_an_attempt_whose_worker_died_is_made_again_after_the_lease(
    dispatch, alice, receiver, eager_tasks
) -> None:
    delivery = make_delivery(alice, receiver.url)
    # A worker claimed attempt 1 and died before recording its outcome.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempt_count=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert dispatch() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempt_count == 2
    assert len(receiver.requests) == 1


def test_ended_deliveries_are_never_dispatched(dispatch, alice, receiver) -> None:
    delivery = make_delivery(alice, receiver.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED, lease_expires_at=None
    )
    assert dispatch() == 0


def test_an_attempt_under_way_holds_the_delivery_only_for_the_short_attempt_lease(
    alice, receiver, settings, monkeypatch
) -> None:
    """A worker that dies mid-attempt leaves a lease of WEBHOOK_ATTEMPT_LEASE_S
    (the HTTP call's bound plus a margin), not WEBHOOK_LEASE_S: the attempt
    is sent again within seconds, not minutes."""
    settings.WEBHOOK_LEASE_S = 120
    settings.WEBHOOK_ATTEMPT_LEASE_S = 25
    delivery = make_delivery(alice, receiver.url)
    leases_seen: list[float] = []
    real_send = services._send_and_judge

    def send_and_look(delivery, *, number):
        held = WebhookDelivery.objects.get(pk=delivery.pk).lease_expires_at
        assert held is not None
        leases_seen.append((held - timezone.now()).total_seconds())
        return real_send(delivery, number=number)

    monkeypatch.setattr(services, "_send_and_judge", send_and_look)
    deliver_webhook_task.apply(args=(str(delivery.pk), 1))
    assert len(leases_seen) == 1 and 20 < leases_seen[0] <= 25
